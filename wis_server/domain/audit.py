"""The audit trail's records as they cross layers: what a service appends (`AuditRecord`),
what storage gives back (`StoredAudit`, `Mark` for coalesced repeats) and what the chain
verifier answers (`VerifyResult`). Hashing and storing them is storage's (storage/audit.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

GENESIS = "0" * 64
"""The previous hash of the first record of a chain (of each shard's chain)."""

ANCHOR_ACTION = "audit.anchor"
"""A record in shard 0 naming every other shard's head at the time: ties the shards'
chains to one another, so a shard cut short before an anchor is detected."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    action: str
    outcome: str = "ok"
    user_id: str | None = None
    actor_id: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    space_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Mark:
    """How often a user repeated one act (a read of an item, a kind of refused request)
    within one time window, after the chained record `audit_seq` that recorded the first."""

    subject: str
    audit_seq: int
    count: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True, slots=True)
class StoredAudit:
    seq: int
    at: datetime
    record: AuditRecord
    prev_hash: str
    hash: str
    detail_text: str | None = None
    """The detail column exactly as stored (read by the verifier, which accepts only the
    one encoding the writer produces)."""
    shard: int = 0
    shard_seq: int | None = None
    """The record's place in its shard's chain (gapless from 1); None: its seq (one chain,
    as on SQLite and before the chain was sharded)."""

    @property
    def position(self) -> int:
        return self.seq if self.shard_seq is None else self.shard_seq


@dataclass(frozen=True, slots=True)
class ShardHead:
    """One shard's chain as the verifier found it: `records` records (positions 1..records),
    the last one at global `seq` with `hash`."""

    shard: int
    records: int
    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""
    head_hash: str = GENESIS
    """The hash of the last record (highest seq) checked; with `head_seq`, what an operator
    keeps to detect later removals from the end."""
    head_seq: int = 0
    shards: tuple[ShardHead, ...] = ()
    anchors: int = 0
    """Anchors whose every named shard head was found as recorded."""
