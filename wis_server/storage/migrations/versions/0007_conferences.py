"""phone conferences: bookings (a line and a sealed PIN per space) and their participants

Revision ID: 0007
Revises: 0008
Create Date: 2026-12-02

Issue 11 (item 2): two conferences in parallel, each on its own dial-in line; `active_number`
holds the line while the booking is active (NULL once ended), so a unique constraint keeps a
line to one active conference on both databases.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0008'
branch_labels = None
depends_on = None

_ID = sa.String(length=36)


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        'conferences',
        sa.Column('id', _ID, nullable=False),
        sa.Column('space_id', _ID, nullable=False),
        sa.Column('owner_actor_id', _ID, nullable=False),
        sa.Column('number', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('data_key_id', _ID, nullable=False),
        sa.Column('pin_ct', sa.LargeBinary(), nullable=False),
        sa.Column('booked_by', _ID, nullable=False),
        _at('booked_at'), _at('ended_at', True),
        sa.Column('active_number', sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(['space_id'], ['spaces.id'],
                                name='fk_conferences_space_id_spaces'),
        sa.ForeignKeyConstraint(['owner_actor_id'], ['actors.id'],
                                name='fk_conferences_owner_actor_id_actors'),
        sa.ForeignKeyConstraint(['data_key_id'], ['data_keys.id'],
                                name='fk_conferences_data_key_id_data_keys'),
        sa.ForeignKeyConstraint(['booked_by'], ['users.id'],
                                name='fk_conferences_booked_by_users'),
        sa.PrimaryKeyConstraint('id', name='pk_conferences'),
        sa.UniqueConstraint('active_number', name='uq_conferences_active_number'),
    )
    op.create_index('ix_conferences_space_id', 'conferences', ['space_id'])
    op.create_table(
        'conference_participants',
        sa.Column('id', _ID, nullable=False),
        sa.Column('conference_id', _ID, nullable=False),
        sa.Column('call_id', sa.String(length=64), nullable=False),
        sa.Column('caller', sa.String(length=64), nullable=False),
        sa.Column('actor_id', _ID, nullable=True),
        _at('joined_at'), _at('left_at', True),
        sa.ForeignKeyConstraint(['conference_id'], ['conferences.id'],
                                name='fk_conference_participants_conference_id_conferences'),
        sa.ForeignKeyConstraint(['actor_id'], ['actors.id'],
                                name='fk_conference_participants_actor_id_actors'),
        sa.PrimaryKeyConstraint('id', name='pk_conference_participants'),
    )
    op.create_index('ix_conference_participants_conference_id', 'conference_participants',
                    ['conference_id'])


def downgrade() -> None:
    op.drop_table('conference_participants')
    op.drop_table('conferences')
