"""coalesced audit marks; drop unkeyed idempotency fingerprints

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Idempotency fingerprints used to be an unkeyed SHA-256 over the request (body included), from
which a classified body could be guessed; they are now an HMAC under a keyring key. The old
rows cannot be re-keyed (the request is gone) and only live for a day, so they are removed: a
retry that spans the upgrade creates its resource anew.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_marks',
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('bucket', sa.BigInteger(), nullable=False),
    sa.Column('audit_seq', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'subject', 'bucket', name=op.f('pk_audit_marks'))
    )
    with op.batch_alter_table('audit_marks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_marks_audit_seq'), ['audit_seq'],
                              unique=False)
    op.execute("DELETE FROM idempotency_keys")


def downgrade() -> None:
    with op.batch_alter_table('audit_marks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_marks_audit_seq'))
    op.drop_table('audit_marks')
