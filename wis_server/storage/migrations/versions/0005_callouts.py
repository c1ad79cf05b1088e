"""call-outs: callouts, their targets and contact points with codes, saved call-out lists

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Issue 10 (item 3): a call-out summons actors' contact points with an escalation ladder; the
message and conference details are sealed at the call-out's level, the ladder's state is
plain so the escalation loop finds what is due without decrypting.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_ID = sa.String(length=36)


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        'callouts',
        sa.Column('id', _ID, nullable=False),
        sa.Column('space_id', _ID, nullable=False),
        sa.Column('owner_actor_id', _ID, nullable=False),
        sa.Column('created_by', _ID, nullable=False),
        sa.Column('classification', sa.String(length=16), nullable=False),
        sa.Column('exercise', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('data_key_id', _ID, nullable=False),
        sa.Column('message_ct', sa.LargeBinary(), nullable=False),
        sa.Column('conference_ct', sa.LargeBinary(), nullable=False),
        _at('created_at'), _at('updated_at'), _at('deadline_at'), _at('next_due_at', True),
        sa.ForeignKeyConstraint(['space_id'], ['spaces.id'], name='fk_callouts_space_id_spaces'),
        sa.ForeignKeyConstraint(['owner_actor_id'], ['actors.id'],
                                name='fk_callouts_owner_actor_id_actors'),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'],
                                name='fk_callouts_created_by_users'),
        sa.ForeignKeyConstraint(['data_key_id'], ['data_keys.id'],
                                name='fk_callouts_data_key_id_data_keys'),
        sa.PrimaryKeyConstraint('id', name='pk_callouts'),
    )
    op.create_index('ix_callouts_space_id', 'callouts', ['space_id'])
    op.create_index('ix_callouts_next_due_at', 'callouts', ['next_due_at'])
    op.create_table(
        'callout_targets',
        sa.Column('callout_id', _ID, nullable=False),
        sa.Column('actor_id', _ID, nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('stage', sa.Integer(), nullable=False),
        _at('started_at'), _at('stage_at', True), _at('answered_at', True),
        sa.Column('answered_by', _ID, nullable=True),
        sa.Column('answer_contact_id', _ID, nullable=True),
        sa.Column('answer_channel', sa.String(length=16), nullable=True),
        _at('overdue_at', True), _at('missing_reported_at', True),
        sa.ForeignKeyConstraint(['callout_id'], ['callouts.id'],
                                name='fk_callout_targets_callout_id_callouts'),
        sa.ForeignKeyConstraint(['actor_id'], ['actors.id'],
                                name='fk_callout_targets_actor_id_actors'),
        sa.PrimaryKeyConstraint('callout_id', 'actor_id', name='pk_callout_targets'),
    )
    op.create_table(
        'callout_contacts',
        sa.Column('id', _ID, nullable=False),
        sa.Column('callout_id', _ID, nullable=False),
        sa.Column('actor_id', _ID, nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('address', sa.String(length=320), nullable=False),
        sa.Column('label', sa.String(length=200), nullable=False),
        sa.Column('code', sa.String(length=8), nullable=False),
        _at('notified_at', True),
        sa.Column('notified_count', sa.Integer(), nullable=False),
        _at('delivered_at', True),
        sa.ForeignKeyConstraint(['callout_id'], ['callouts.id'],
                                name='fk_callout_contacts_callout_id_callouts'),
        sa.ForeignKeyConstraint(['actor_id'], ['actors.id'],
                                name='fk_callout_contacts_actor_id_actors'),
        sa.PrimaryKeyConstraint('id', name='pk_callout_contacts'),
        sa.UniqueConstraint('callout_id', 'code', name='uq_callout_contacts_callout_id'),
    )
    op.create_index('ix_callout_contacts_callout', 'callout_contacts',
                    ['callout_id', 'actor_id'])
    op.create_index('ix_callout_contacts_code', 'callout_contacts', ['code', 'address'])
    op.create_table(
        'callout_lists',
        sa.Column('id', _ID, nullable=False),
        sa.Column('owner_actor_id', _ID, nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('actor_ids', sa.JSON(), nullable=False),
        _at('created_at'), _at('updated_at'),
        sa.ForeignKeyConstraint(['owner_actor_id'], ['actors.id'],
                                name='fk_callout_lists_owner_actor_id_actors'),
        sa.PrimaryKeyConstraint('id', name='pk_callout_lists'),
        sa.UniqueConstraint('owner_actor_id', 'name', name='uq_callout_lists_owner_actor_id'),
    )
    op.create_index('ix_callout_lists_owner_actor_id', 'callout_lists', ['owner_actor_id'])


def downgrade() -> None:
    op.drop_table('callout_lists')
    op.drop_table('callout_contacts')
    op.drop_table('callout_targets')
    op.drop_table('callouts')
