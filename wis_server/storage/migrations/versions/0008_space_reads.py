"""space_reads: how far each user has looked at each space (unread counts)

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-02

Issue 10 (item 8): unread counts on the space list and in the tab title are kept on the
server, so they survive a reload without the browser storing space ids; only a seq number
per (user, space) is stored, the counts are decided per item at read time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0005'
branch_labels = None
depends_on = None

_ID = sa.String(length=36)


def upgrade() -> None:
    op.create_table(
        'space_reads',
        sa.Column('user_id', _ID, nullable=False),
        sa.Column('space_id', _ID, nullable=False),
        sa.Column('seen_seq', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_space_reads_user_id_users'),
        sa.ForeignKeyConstraint(['space_id'], ['spaces.id'],
                                name='fk_space_reads_space_id_spaces'),
        sa.PrimaryKeyConstraint('user_id', 'space_id', name='pk_space_reads'),
    )


def downgrade() -> None:
    op.drop_table('space_reads')
