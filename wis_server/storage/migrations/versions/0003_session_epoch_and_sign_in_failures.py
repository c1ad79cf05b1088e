"""session epoch, failed sign-in counter, refresh-token revocation reason

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

- users.session_epoch: access tokens carry it; bumping it ends every session of the user at
  once (sign-out, password reset, disabling, refresh-token reuse).
- users.failed_sign_ins / last_failed_sign_in_at: what the actor's admins see of guessing.
- refresh_tokens.revoke_reason: "reuse" makes every later use of the family answer
  `session_revoked`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('session_epoch', sa.Integer(), nullable=False,
                                   server_default='0'))
        batch.add_column(sa.Column('failed_sign_ins', sa.Integer(), nullable=False,
                                   server_default='0'))
        batch.add_column(sa.Column('last_failed_sign_in_at', sa.DateTime(timezone=True),
                                   nullable=True))
    with op.batch_alter_table('refresh_tokens') as batch:
        batch.add_column(sa.Column('revoke_reason', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('refresh_tokens') as batch:
        batch.drop_column('revoke_reason')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('last_failed_sign_in_at')
        batch.drop_column('failed_sign_ins')
        batch.drop_column('session_epoch')
