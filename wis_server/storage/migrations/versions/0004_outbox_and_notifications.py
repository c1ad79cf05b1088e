"""outbox, delivery ledger, notification preferences, push subscriptions

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Issue 10 (items 1, 2, 4): notices and call-out messages are written as `outbox_messages` in
the item's transaction; the dispatcher claims `deliveries` (one per message, recipient,
channel and address; its id is the message id on the wire) with a lease (`claimed_until`,
`FOR UPDATE SKIP LOCKED` on PostgreSQL). Addresses, push endpoints and message texts are
sealed like every other content field. Notices themselves are entries of kind `notice`
(the entries table), so they need no table of their own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'notification_preferences',
        sa.Column('user_id', sa.String(length=36), nullable=False),
        sa.Column('channels', sa.JSON(), nullable=False),
        sa.Column('spaces_mode', sa.String(length=8), nullable=False),
        sa.Column('space_ids', sa.JSON(), nullable=False),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('quiet_from', sa.String(length=5), nullable=True),
        sa.Column('quiet_to', sa.String(length=5), nullable=True),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('data_key_id', sa.String(length=36), nullable=True),
        sa.Column('email_ct', sa.LargeBinary(), nullable=True),
        sa.Column('phone_ct', sa.LargeBinary(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name='fk_notification_preferences_user_id_users'),
        sa.ForeignKeyConstraint(['data_key_id'], ['data_keys.id'],
                                name='fk_notification_preferences_data_key_id_data_keys'),
        sa.PrimaryKeyConstraint('user_id', name='pk_notification_preferences'),
    )
    op.create_table(
        'push_subscriptions',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('user_id', sa.String(length=36), nullable=False),
        sa.Column('endpoint_digest', sa.String(length=64), nullable=False),
        sa.Column('data_key_id', sa.String(length=36), nullable=False),
        sa.Column('subscription_ct', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name='fk_push_subscriptions_user_id_users'),
        sa.ForeignKeyConstraint(['data_key_id'], ['data_keys.id'],
                                name='fk_push_subscriptions_data_key_id_data_keys'),
        sa.PrimaryKeyConstraint('id', name='pk_push_subscriptions'),
        sa.UniqueConstraint('endpoint_digest', name='uq_push_subscriptions_endpoint_digest'),
    )
    op.create_index('ix_push_subscriptions_user_id', 'push_subscriptions', ['user_id'])
    op.create_table(
        'outbox_messages',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('space_id', sa.String(length=36), nullable=True),
        sa.Column('ref_id', sa.String(length=36), nullable=True),
        sa.Column('classification', sa.String(length=16), nullable=False),
        sa.Column('audience', sa.JSON(), nullable=True),
        sa.Column('author_actor_id', sa.String(length=36), nullable=True),
        sa.Column('exercise', sa.Boolean(), nullable=False),
        sa.Column('data_key_id', sa.String(length=36), nullable=False),
        sa.Column('payload_ct', sa.LargeBinary(), nullable=False),
        sa.Column('created_by', sa.String(length=36), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['space_id'], ['spaces.id'],
                                name='fk_outbox_messages_space_id_spaces'),
        sa.ForeignKeyConstraint(['data_key_id'], ['data_keys.id'],
                                name='fk_outbox_messages_data_key_id_data_keys'),
        sa.PrimaryKeyConstraint('id', name='pk_outbox_messages'),
    )
    op.create_index('ix_outbox_messages_space_id', 'outbox_messages', ['space_id'])
    op.create_index('ix_outbox_messages_ref_id', 'outbox_messages', ['ref_id'])
    op.create_table(
        'deliveries',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('message_id', sa.String(length=36), nullable=False),
        sa.Column('recipient_user_id', sa.String(length=36), nullable=True),
        sa.Column('recipient_actor_id', sa.String(length=36), nullable=True),
        sa.Column('recipient_ref', sa.String(length=64), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('rank', sa.Integer(), nullable=False),
        sa.Column('address_ct', sa.LargeBinary(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_by', sa.String(length=64), nullable=True),
        sa.Column('provider_ref', sa.String(length=200), nullable=True),
        sa.Column('error', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['message_id'], ['outbox_messages.id'],
                                name='fk_deliveries_message_id_outbox_messages'),
        sa.PrimaryKeyConstraint('id', name='pk_deliveries'),
    )
    op.create_index('ix_deliveries_message_id', 'deliveries', ['message_id'])
    op.create_index('ix_deliveries_recipient_user_id', 'deliveries', ['recipient_user_id'])
    op.create_index('ix_deliveries_provider_ref', 'deliveries', ['provider_ref'])
    op.create_index('ix_deliveries_due', 'deliveries', ['status', 'next_attempt_at'])


def downgrade() -> None:
    op.drop_table('deliveries')
    op.drop_table('outbox_messages')
    op.drop_table('push_subscriptions')
    op.drop_table('notification_preferences')
