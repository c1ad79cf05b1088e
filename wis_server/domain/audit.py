"""The audit trail's records as they cross layers: what a service appends (`AuditRecord`),
what storage gives back (`StoredAudit`, `Mark` for coalesced repeats) and what the chain
verifier answers (`VerifyResult`). Hashing and storing them is storage's (storage/audit.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

GENESIS = "0" * 64
"""The previous hash of the first record of the chain."""


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


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""
    head_hash: str = GENESIS
