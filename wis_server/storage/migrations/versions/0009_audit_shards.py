"""audit_log.shard, shard_seq: the audit chain in shards

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-02

Issue 13 (item 1): every writer serialised on one advisory lock for the audit chain. On
PostgreSQL the chain is now sharded (storage/audit_chain.py): a record's place is (shard,
shard_seq), gapless within its shard, one advisory lock per shard; `seq` stays the global
order (cursors, audit_marks.audit_seq) and is drawn from the column's sequence, which nothing
used before (every seq was max + 1), so it is moved past the last one here. Existing records
become shard 0 with shard_seq = seq: exactly the chain they were, their hashes unchanged.

Stop every server process of the old version before upgrading: an old process would append
without a shard_seq (refused, NOT NULL) — never a broken chain.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shard', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('shard_seq', sa.BigInteger(), nullable=True))
    op.execute("UPDATE audit_log SET shard_seq = seq")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.alter_column('shard_seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_unique_constraint('uq_audit_log_shard_shard_seq',
                                          ['shard', 'shard_seq'])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT setval('audit_log_seq_seq', "
                   "(SELECT COALESCE(max(seq), 0) + 1 FROM audit_log), false)")


def downgrade() -> None:
    # Only a trail that never left shard 0 goes back (shard_seq = seq on every record):
    # a sharded one has no single chain the old code could verify.
    rows = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM audit_log WHERE shard <> 0 OR shard_seq <> seq")).scalar()
    if rows:
        raise RuntimeError("audit_log has records in shards other than 0: cannot downgrade")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint('uq_audit_log_shard_shard_seq', type_='unique')
        batch_op.drop_column('shard_seq')
        batch_op.drop_column('shard')
