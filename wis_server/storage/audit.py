"""The append-only, hash-chained audit log.

Each record's hash is HMAC-SHA256(audit key, previous hash ‖ canonical record), the audit key
living in the keyring, not the database: someone who can write the database can change a row
but cannot forge the chain after it. Appends are serialized (an advisory lock on PostgreSQL,
the single writer on SQLite) and should be the last statement of their transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, cast, exists, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.audit import GENESIS, AuditRecord, Mark, StoredAudit, VerifyResult
from .tables import audit_log, audit_marks

_LOCK_ID = 0x5749_5341  # "WISA"


class NotCanonical(ValueError):
    """A stored detail that is not exactly what the writer would have stored."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        raise NotCanonical("duplicate key")
    return doc


def _no_constant(name: str) -> Any:
    raise NotCanonical(f"non-standard JSON constant {name}")


def strict_detail(text_: str) -> dict[str, Any]:
    """Parse a stored detail, refusing anything but the writer's own encoding: duplicate keys
    (which tools disagree on: SQL reads the first, Python the last), NaN/Infinity, other
    whitespace or escaping, a non-object. The chain's hash covers what this returns."""
    try:
        doc = json.loads(text_, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except NotCanonical:
        raise
    except ValueError:
        raise NotCanonical("not JSON") from None
    if not isinstance(doc, dict):
        raise NotCanonical("not an object")
    if detail_encoding(doc) != text_:
        raise NotCanonical("not in the writer's encoding")
    return doc


def detail_encoding(detail: dict[str, Any]) -> str:
    """How the writer stores a detail (SQLAlchemy's JSON type, json.dumps defaults)."""
    return json.dumps(detail)


def _canonical(seq: int, at: datetime, record: AuditRecord) -> bytes:
    doc = {
        "seq": seq, "at": at.isoformat(), "action": record.action, "outcome": record.outcome,
        "user_id": record.user_id, "actor_id": record.actor_id,
        "target_type": record.target_type, "target_id": record.target_id,
        "space_id": record.space_id, "detail": record.detail,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(key: bytes, prev_hash: str, seq: int, at: datetime, record: AuditRecord) -> str:
    return hmac.new(key, prev_hash.encode() + _canonical(seq, at, record), hashlib.sha256
                    ).hexdigest()


def _stored(row: Any, detail_text: str | None = None) -> StoredAudit:
    return StoredAudit(row.seq, row.at, AuditRecord(
        row.action, row.outcome, row.user_id, row.actor_id, row.target_type, row.target_id,
        row.space_id, dict(row.detail)), row.prev_hash, row.hash, detail_text)


class ChainHead:
    """The chain's last (seq, hash) as this process last appended it: a guess that saves
    reading the head before every append, never trusted. An append built on it inserts only
    if that record is still the last one (checked in the same statement); otherwise (another
    process appended, or the transaction that appended it rolled back) the head is read and
    the append made the plain way."""

    __slots__ = ("hash", "seq")

    def __init__(self) -> None:
        self.seq = 0
        self.hash = ""


_COLUMNS = ("seq", "at", "user_id", "actor_id", "action", "target_type", "target_id",
            "space_id", "outcome", "detail", "prev_hash", "hash")
# Built once, run with parameter dicts (an append ends nearly every write; built per call,
# this statement cost more Python than everything else the write does).
_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_APPEND_AFTER_HEAD = audit_log.insert().from_select(list(_COLUMNS), select(
    *(bindparam(f"v_{name}", type_=audit_log.c[name].type) for name in _COLUMNS)).where(
    exists().where(audit_log.c.seq == bindparam("h_seq"),
                   audit_log.c.hash == bindparam("h_hash")),
    ~exists().where(audit_log.c.seq > bindparam("h_after"))))
"""Appends after the cached head only if that record is still the last one (ChainHead)."""
_LAST = select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
_APPEND = audit_log.insert()


_COUNT_REPEATS = update(audit_marks).where(
    audit_marks.c.user_id == bindparam("m_user", type_=audit_marks.c.user_id.type),
    audit_marks.c.bucket == bindparam("m_bucket", type_=audit_marks.c.bucket.type),
    audit_marks.c.subject.in_(bindparam("m_subjects", expanding=True,
                                        type_=audit_marks.c.subject.type)),
).values(count=audit_marks.c.count + 1,
         last_at=bindparam("m_now", type_=audit_marks.c.last_at.type)
         ).returning(audit_marks.c.subject)
"""Built once: every classified read runs it (SQLite ≥ 3.35 and PostgreSQL return rows)."""


class AuditRepository:
    def __init__(self, conn: AsyncConnection, key: bytes, head: ChainHead | None = None) -> None:
        self.conn = conn
        self.key = key
        self.head = head if head is not None else ChainHead()

    def _values(self, record: AuditRecord, seq: int, prev: str, now: datetime
                ) -> dict[str, Any]:
        # Round-trip precision: both databases keep microseconds.
        return {"seq": seq, "at": now, "user_id": record.user_id, "actor_id": record.actor_id,
                "action": record.action, "target_type": record.target_type,
                "target_id": record.target_id, "space_id": record.space_id,
                "outcome": record.outcome, "detail": record.detail, "prev_hash": prev,
                "hash": chain_hash(self.key, prev, seq, now, record)}

    async def append(self, record: AuditRecord, now: datetime) -> int:
        if self.conn.dialect.name == "postgresql":
            await self.conn.execute(_LOCK, {"k": _LOCK_ID})
        head = self.head
        if head.seq:
            values = self._values(record, head.seq + 1, head.hash, now)
            parameters = {f"v_{name}": value for name, value in values.items()}
            parameters.update(h_seq=head.seq, h_hash=head.hash, h_after=head.seq)
            result = await self.conn.execute(_APPEND_AFTER_HEAD, parameters)
            if result.rowcount == 1:
                head.seq, head.hash = values["seq"], values["hash"]
                return int(values["seq"])
        last = (await self.conn.execute(_LAST)).first()
        values = self._values(record, (last.seq + 1) if last else 1,
                              last.hash if last else GENESIS, now)
        await self.conn.execute(_APPEND, values)
        head.seq, head.hash = values["seq"], values["hash"]
        return int(values["seq"])

    async def repeat_marks(self, user_id: str, subjects: list[str], bucket: int, now: datetime
                           ) -> set[str]:
        """Count a repeat of each subject already marked for this user and window; returns
        those (the others are first occurrences and need a chained record). One
        UPDATE … RETURNING per 500 subjects: the count and the answer in one statement."""
        found: set[str] = set()
        for start in range(0, len(subjects), 500):
            rows = await self.conn.execute(_COUNT_REPEATS, {
                "m_user": user_id, "m_bucket": bucket, "m_now": now,
                "m_subjects": subjects[start : start + 500]})
            found.update(row[0] for row in rows)
        return found

    async def add_marks(self, user_id: str, subjects: list[str], bucket: int, audit_seq: int,
                        now: datetime) -> None:
        """First occurrences in a window. A concurrent first occurrence (PostgreSQL) keeps
        the other's mark; its own chained record stays, so nothing is lost."""
        if not subjects:
            return
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        rows = [{"user_id": user_id, "subject": s, "bucket": bucket, "audit_seq": audit_seq,
                 "count": 1, "first_at": now, "last_at": now} for s in subjects]
        for start in range(0, len(rows), 500):
            await self.conn.execute(dialect.insert(audit_marks).on_conflict_do_nothing(),
                                    rows[start : start + 500])

    async def marks_of(self, seqs: list[int]) -> dict[int, list[Mark]]:
        """The marks that follow each chained record (for showing counts beside it)."""
        found: dict[int, list[Mark]] = {}
        for start in range(0, len(seqs), 500):
            rows = await self.conn.execute(select(audit_marks).where(
                audit_marks.c.audit_seq.in_(seqs[start : start + 500])))
            for row in rows:
                m = row._mapping  # (`row.count` would be the tuple method)
                found.setdefault(m["audit_seq"], []).append(Mark(
                    m["subject"], m["audit_seq"], m["count"], m["first_at"], m["last_at"]))
        for marks in found.values():
            marks.sort(key=lambda m: m.subject)
        return found

    async def page(self, *, actor_id: str | None, after: int, limit: int) -> list[StoredAudit]:
        query = select(audit_log).where(audit_log.c.seq > after)
        if actor_id is not None:
            query = query.where(audit_log.c.actor_id == actor_id)
        rows = await self.conn.execute(query.order_by(audit_log.c.seq).limit(limit))
        return [_stored(row) for row in rows]

    async def verify(self) -> VerifyResult:
        """Walk the whole chain with this trail's key (see verify_chain)."""
        return await verify_chain(self.scan(), self.key)

    async def scan(self, batch: int = 1000) -> AsyncIterator[StoredAudit]:
        after = 0
        while True:
            rows = (await self.conn.execute(
                select(audit_log, cast(audit_log.c.detail, Text).label("detail_text"))
                .where(audit_log.c.seq > after).order_by(audit_log.c.seq).limit(batch))).all()
            if not rows:
                return
            for row in rows:
                yield _stored(row, row.detail_text)
            after = rows[-1].seq


async def verify_chain(records: AsyncIterator[StoredAudit], key: bytes) -> VerifyResult:
    """Walk the chain; the first record whose link or hash is wrong is named."""
    expected_prev = GENESIS
    expected_seq = 1
    checked = 0
    async for stored in records:
        if stored.seq != expected_seq:
            return VerifyResult(
                False, checked, stored.seq,
                f"expected record {expected_seq}, found {stored.seq} (gap or reorder)")
        if stored.prev_hash != expected_prev:
            return VerifyResult(False, checked, stored.seq, "link to previous record broken")
        record = stored.record
        if stored.detail_text is not None:
            try:
                record = replace(record, detail=strict_detail(stored.detail_text))
            except NotCanonical as error:
                return VerifyResult(False, checked, stored.seq,
                                    f"record detail is not canonical ({error})")
        digest = chain_hash(key, stored.prev_hash, stored.seq, stored.at, record)
        if not hmac.compare_digest(digest, stored.hash):
            return VerifyResult(False, checked, stored.seq,
                                "record content does not match its hash")
        expected_prev = stored.hash
        expected_seq += 1
        checked += 1
    return VerifyResult(True, checked, head_hash=expected_prev)
