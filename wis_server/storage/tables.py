"""The schema. Content fields end in `_ct` and hold ciphertext only; labels stay plain so the
access decision (and the SQL pre-filter in front of it) never needs to decrypt anything."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both databases (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        if moment.tzinfo is None:
            raise ValueError("naive datetime")
        utc = moment.astimezone(UTC)
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


ID = String(36)

actors = Table(
    "actors", metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("short_name", String(40), nullable=False, unique=True),
    Column("clearance_ceiling", String(16), nullable=False),
    Column("contact_points", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

users = Table(
    "users", metadata,
    Column("id", ID, primary_key=True),
    Column("actor_id", ID, ForeignKey("actors.id"), nullable=False, index=True),
    Column("username", String(80), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("clearance", String(16), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("session_epoch", Integer, nullable=False, server_default="0"),
    Column("failed_sign_ins", Integer, nullable=False, server_default="0"),
    Column("last_failed_sign_in_at", UtcDateTime, nullable=True),
)

refresh_tokens = Table(
    "refresh_tokens", metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("family_id", ID, nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("revoke_reason", String(16), nullable=True),
)

data_keys = Table(
    "data_keys", metadata,
    Column("id", ID, primary_key=True),
    Column("level", String(16), nullable=False),
    Column("kek_version", Integer, nullable=False, index=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

spaces = Table(
    "spaces", metadata,
    Column("id", ID, primary_key=True),
    Column("data_key_id", ID, ForeignKey("data_keys.id"), nullable=False),
    Column("title_ct", LargeBinary, nullable=False),
    Column("description_ct", LargeBinary, nullable=False),
    Column("type", String(16), nullable=False),
    Column("classification", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("owner_actor_id", ID, ForeignKey("actors.id"), nullable=False),
    Column("created_by", ID, ForeignKey("users.id"), nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("last_activity_at", UtcDateTime, nullable=False),
    # The Rakel talkgroup (GSSI) linked to the space (issue 11): inbound SDS to it become
    # incoming entries, public notices go out to it.
    Column("rakel_gssi", String(8), nullable=True, index=True),
)

space_participants = Table(
    "space_participants", metadata,
    Column("space_id", ID, ForeignKey("spaces.id"), nullable=False),
    Column("actor_id", ID, ForeignKey("actors.id"), nullable=False, index=True),
    Column("role_cap", String(16), nullable=True),
    PrimaryKeyConstraint("space_id", "actor_id"),
)

entries = Table(
    "entries", metadata,
    Column("id", ID, primary_key=True),
    Column("space_id", ID, ForeignKey("spaces.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("classification", String(16), nullable=False),
    Column("level_rank", Integer, nullable=False),
    Column("audience_all", Boolean, nullable=False),
    Column("data_key_id", ID, ForeignKey("data_keys.id"), nullable=False),
    Column("body_ct", LargeBinary, nullable=False),
    Column("author_id", ID, ForeignKey("users.id"), nullable=False),
    Column("author_actor_id", ID, ForeignKey("actors.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("space_id", "seq"),
)

# Audience rows for items whose audience is not "all participants" (entries and sections).
item_audience = Table(
    "item_audience", metadata,
    Column("item_id", ID, nullable=False),
    Column("actor_id", ID, ForeignKey("actors.id"), nullable=False),
    PrimaryKeyConstraint("item_id", "actor_id"),
)

situation_reports = Table(
    "situation_reports", metadata,
    Column("id", ID, primary_key=True),
    Column("space_id", ID, ForeignKey("spaces.id"), nullable=False),
    Column("scope", String(8), nullable=False),
    Column("actor_id", ID, ForeignKey("actors.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("author_id", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("space_id", "scope", "actor_id", "version"),
)

report_sections = Table(
    "report_sections", metadata,
    Column("id", ID, primary_key=True),
    Column("report_id", ID, ForeignKey("situation_reports.id"), nullable=False, index=True),
    Column("key", String(32), nullable=False),
    Column("position", Integer, nullable=False),
    Column("classification", String(16), nullable=False),
    Column("audience_all", Boolean, nullable=False),
    Column("data_key_id", ID, ForeignKey("data_keys.id"), nullable=False),
    Column("body_ct", LargeBinary, nullable=False),
)

space_events = Table(
    "space_events", metadata,
    Column("space_id", ID, ForeignKey("spaces.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(48), nullable=False),
    Column("ref_id", ID, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("space_id", "seq"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("user_id", ID, nullable=True, index=True),
    Column("actor_id", ID, nullable=True, index=True),
    Column("action", String(64), nullable=False),
    Column("target_type", String(32), nullable=True),
    Column("target_id", ID, nullable=True),
    Column("space_id", ID, nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # The chain is sharded (storage/audit_chain.py): `seq` is the global order (cursors,
    # marks; from a sequence on PostgreSQL, gaps after a rollback), (shard, shard_seq) the
    # record's place in its shard's gapless chain. SQLite keeps one shard, shard_seq = seq.
    Column("shard", Integer, nullable=False, server_default="0"),
    Column("shard_seq", BigInteger, nullable=False),
    UniqueConstraint("shard", "shard_seq", name="uq_audit_log_shard_shard_seq"),
)

# Coalesced audit marks: one row per (user, subject, time window) — a classified item read, or
# a kind of refused request. The first occurrence in a window appends a chained audit record
# (`audit_seq`); repeats only count here, so the trail grows with distinct acts, not requests.
audit_marks = Table(
    "audit_marks", metadata,
    Column("user_id", ID, nullable=False),
    Column("subject", String(200), nullable=False),
    Column("bucket", BigInteger, nullable=False),
    Column("audit_seq", BigInteger, nullable=False, index=True),
    Column("count", BigInteger, nullable=False),
    Column("first_at", UtcDateTime, nullable=False),
    Column("last_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("user_id", "subject", "bucket"),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("user_id", ID, nullable=False),
    Column("key", String(200), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("resource_type", String(32), nullable=False),
    Column("resource_id", ID, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("user_id", "key"),
)

Index("ix_entries_space_seq", entries.c.space_id, entries.c.seq)
Index("ix_reports_scope", situation_reports.c.space_id, situation_reports.c.scope,
      situation_reports.c.actor_id, situation_reports.c.version)

# Notification preferences per user (issue 10.1). The addresses are personal data and sealed
# (public-level data key, bound to the user); the choices stay plain so the recipient query
# can run in SQL.
notification_preferences = Table(
    "notification_preferences", metadata,
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True),
    Column("channels", JSON, nullable=False),      # ordered: the first is tried first
    Column("spaces_mode", String(8), nullable=False),  # "all" | "chosen"
    Column("space_ids", JSON, nullable=False),
    Column("events", JSON, nullable=False),
    Column("quiet_from", String(5), nullable=True),  # "HH:MM", local time in `timezone`
    Column("quiet_to", String(5), nullable=True),
    Column("timezone", String(64), nullable=False),
    Column("data_key_id", ID, ForeignKey("data_keys.id"), nullable=True),
    Column("email_ct", LargeBinary, nullable=True),
    Column("phone_ct", LargeBinary, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Web Push subscriptions (RFC 8030): the endpoint and keys are personal data, sealed; a keyed
# hash of the endpoint finds a re-subscription of the same browser without decrypting.
push_subscriptions = Table(
    "push_subscriptions", metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("endpoint_digest", String(64), nullable=False, unique=True),
    Column("data_key_id", ID, ForeignKey("data_keys.id"), nullable=False),
    Column("subscription_ct", LargeBinary, nullable=False),  # {"endpoint", "keys"} as JSON
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
)

# The outbox (DESIGN §7): one message per item to send (a notice, a call-out message), written
# in the same transaction as the item. The text is sealed at the item's level; the label
# (level, audience, author's actor) stays plain so the dispatcher can decide per recipient
# before anything is decrypted.
outbox_messages = Table(
    "outbox_messages", metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(32), nullable=False),       # notice, callout, test, ...
    Column("space_id", ID, ForeignKey("spaces.id"), nullable=True, index=True),
    Column("ref_id", ID, nullable=True, index=True),  # the notice / call-out it belongs to
    Column("classification", String(16), nullable=False),
    Column("audience", JSON, nullable=True),          # actor ids; null = every participant
    Column("author_actor_id", ID, nullable=True),
    Column("exercise", Boolean, nullable=False),
    Column("data_key_id", ID, ForeignKey("data_keys.id"), nullable=False),
    Column("payload_ct", LargeBinary, nullable=False),  # {"subject", "body", "link", ...}
    Column("created_by", ID, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

# The delivery ledger: one row per (message, recipient, channel, address). Its id is the
# message id on the wire (Message-ID, SMS reference, push Topic), so a resend after a lost
# provider answer carries the same id. `rank` orders a recipient's channels: rank 0 is queued
# at once, later ranks wait on `standby` until every row of the rank before has failed.
deliveries = Table(
    "deliveries", metadata,
    Column("id", ID, primary_key=True),
    Column("message_id", ID, ForeignKey("outbox_messages.id"), nullable=False, index=True),
    Column("recipient_user_id", ID, nullable=True, index=True),
    Column("recipient_actor_id", ID, nullable=True),
    Column("recipient_ref", String(64), nullable=True),  # e.g. a call-out's contact point
    Column("channel", String(16), nullable=False),
    Column("rank", Integer, nullable=False),
    Column("address_ct", LargeBinary, nullable=False),  # sealed with the message's key
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_until", UtcDateTime, nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("provider_ref", String(200), nullable=True, index=True),
    Column("error", String(64), nullable=True),  # a code, never content
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
)

Index("ix_deliveries_due", deliveries.c.status, deliveries.c.next_attempt_at)

# Call-outs (aktivering, issue 10.3). The message and the conference details (dial-in, PIN)
# are content, sealed at the call-out's level; the ladder's state stays plain so the
# escalation loop finds what is due (`next_due_at`) without decrypting anything.
callouts = Table(
    "callouts", metadata,
    Column("id", ID, primary_key=True),
    Column("space_id", ID, ForeignKey("spaces.id"), nullable=False, index=True),
    Column("owner_actor_id", ID, ForeignKey("actors.id"), nullable=False),
    Column("created_by", ID, ForeignKey("users.id"), nullable=False),
    Column("classification", String(16), nullable=False),
    Column("exercise", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("data_key_id", ID, ForeignKey("data_keys.id"), nullable=False),
    Column("message_ct", LargeBinary, nullable=False),
    Column("conference_ct", LargeBinary, nullable=False),  # {"start_at","dial_in","pin"}
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("deadline_at", UtcDateTime, nullable=False),
    Column("next_due_at", UtcDateTime, nullable=True, index=True),
)

# One row per summoned actor: where its escalation ladder stands and who answered, when, how.
callout_targets = Table(
    "callout_targets", metadata,
    Column("callout_id", ID, ForeignKey("callouts.id"), nullable=False),
    Column("actor_id", ID, ForeignKey("actors.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("stage", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("stage_at", UtcDateTime, nullable=True),
    Column("answered_at", UtcDateTime, nullable=True),
    Column("answered_by", ID, nullable=True),
    Column("answer_contact_id", ID, nullable=True),
    Column("answer_channel", String(16), nullable=True),
    Column("overdue_at", UtcDateTime, nullable=True),
    Column("missing_reported_at", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("callout_id", "actor_id"),
)

# The summoned actors' contact points as they were when called, each with its short code
# (one per call-out and contact point; an SMS reply "OK <code>" from that number answers).
callout_contacts = Table(
    "callout_contacts", metadata,
    Column("id", ID, primary_key=True),
    Column("callout_id", ID, ForeignKey("callouts.id"), nullable=False),
    Column("actor_id", ID, ForeignKey("actors.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("address", String(320), nullable=False),
    Column("label", String(200), nullable=False),
    Column("code", String(8), nullable=False),
    Column("notified_at", UtcDateTime, nullable=True),
    Column("notified_count", Integer, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
    UniqueConstraint("callout_id", "code"),
)

# Saved call-out lists (aktiveringslistor) per owning actor: which actors to summon.
callout_lists = Table(
    "callout_lists", metadata,
    Column("id", ID, primary_key=True),
    Column("owner_actor_id", ID, ForeignKey("actors.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("actor_ids", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("owner_actor_id", "name"),
)

Index("ix_callout_contacts_callout", callout_contacts.c.callout_id, callout_contacts.c.actor_id)
Index("ix_callout_contacts_code", callout_contacts.c.code, callout_contacts.c.address)

# How far each user has looked at each space (unread counts): the highest seq of the space's
# log they have seen. Plain (a number, no content); one row per user and space viewed.
space_reads = Table(
    "space_reads", metadata,
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True),
    Column("space_id", ID, ForeignKey("spaces.id"), primary_key=True),
    Column("seen_seq", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Phone conferences booked from a space (issue 11): a line (one of WIS_PHONE_NUMBERS) held
# by at most one active booking, a PIN sealed at public level, and who joined when.
conferences = Table(
    "conferences", metadata,
    Column("id", ID, primary_key=True),
    Column("space_id", ID, ForeignKey("spaces.id"), nullable=False, index=True),
    Column("owner_actor_id", ID, ForeignKey("actors.id"), nullable=False),
    Column("number", String(20), nullable=False),
    Column("status", String(16), nullable=False),
    Column("data_key_id", ID, ForeignKey("data_keys.id"), nullable=False),
    Column("pin_ct", LargeBinary, nullable=False),
    Column("booked_by", ID, ForeignKey("users.id"), nullable=False),
    Column("booked_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    # the line while the booking is active, NULL once ended: unique, so a line is never
    # held twice at once (NULLs do not collide on either database)
    Column("active_number", String(20), nullable=True, unique=True),
)

conference_participants = Table(
    "conference_participants", metadata,
    Column("id", ID, primary_key=True),
    Column("conference_id", ID, ForeignKey("conferences.id"), nullable=False, index=True),
    Column("call_id", String(64), nullable=False),
    Column("caller", String(64), nullable=False),
    Column("actor_id", ID, ForeignKey("actors.id"), nullable=True),
    Column("joined_at", UtcDateTime, nullable=False),
    Column("left_at", UtcDateTime, nullable=True),
)
