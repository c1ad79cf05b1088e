"""spaces.rakel_gssi: the Rakel talkgroup linked to a space

Revision ID: 0006
Revises: 0007
Create Date: 2026-12-02

Issue 11 (item 1): an SDS to a linked talkgroup lands as an `incoming` entry in the space,
and a public notice of the space goes to the talkgroup. One talkgroup per space; a GSSI is
a number, not content (it is plain, like the contact points' addresses of call-outs).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('spaces') as batch:
        batch.add_column(sa.Column('rakel_gssi', sa.String(length=8), nullable=True))
        batch.create_index('ix_spaces_rakel_gssi', ['rakel_gssi'])


def downgrade() -> None:
    with op.batch_alter_table('spaces') as batch:
        batch.drop_index('ix_spaces_rakel_gssi')
        batch.drop_column('rakel_gssi')
