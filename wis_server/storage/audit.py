"""The append-only, hash-chained audit log.

Each record's hash is HMAC-SHA256(audit key, previous hash ‖ canonical record), the audit key
living in the keyring, not the database: someone who can write the database can change a row
but cannot forge the chain after it. The chain is sharded (audit_chain.py): appends to one
shard are serialized (an advisory lock per shard on PostgreSQL, held to commit; the single
writer on SQLite, which keeps one shard) and should be the last statement of their
transaction; `seq` is the global order (cursors, marks), drawn from a sequence on PostgreSQL.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, String, Text, any_, bindparam, cast, exists, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.audit import ANCHOR_ACTION, GENESIS, AuditRecord, Mark, StoredAudit, VerifyResult
from .audit_chain import (
    SHARDS,
    NotCanonical,
    anchor_detail,
    chain_hash,
    detail_encoding,
    shard_of,
    strict_detail,
    verify_chain,
)
from .direct import Direct
from .tables import audit_log, audit_marks

__all__ = ["SHARDS", "AuditRecord", "AuditRepository", "ChainHeads", "NotCanonical",
           "chain_hash", "detail_encoding", "shard_of", "strict_detail", "verify_chain"]

_LOCK_CLASS = 0x5749_5341  # "WISA": the advisory lock's first key; the shard is the second
_HELD = "wis.audit.shard"  # conn.info: (transaction, shard) this transaction appends to

# The shard's lock first, then the record's global seq: a later append to a shard (which
# waits for the earlier one's commit) always draws a higher seq, so each shard's chain runs
# in global seq order. A rolled-back append leaves a gap in seq, never in a shard's chain.
_LOCK_AND_NUMBER = text(
    "WITH held AS MATERIALIZED (SELECT pg_advisory_xact_lock(:lock, :shard)) "
    "SELECT nextval('audit_log_seq_seq') FROM held")

# Each shard's last record, one index probe per shard.
_SHARD_HEADS = text(
    "SELECT s.shard, h.shard_seq, h.hash FROM generate_series(0, :last) AS s(shard) "
    "CROSS JOIN LATERAL (SELECT shard_seq, hash FROM audit_log WHERE shard = s.shard "
    "ORDER BY shard_seq DESC LIMIT 1) AS h")


_COLUMNS = ("seq", "shard", "shard_seq", "at", "user_id", "actor_id", "action", "target_type",
            "target_id", "space_id", "outcome", "detail", "prev_hash", "hash")
# Built once, run with parameter dicts (an append ends nearly every write; built per call,
# this statement cost more Python than everything else the write does).
_APPEND_AFTER_HEAD = audit_log.insert().from_select(list(_COLUMNS), select(
    *(bindparam(f"v_{name}", type_=audit_log.c[name].type) for name in _COLUMNS)).where(
    exists().where(audit_log.c.shard == bindparam("h_shard"),
                   audit_log.c.shard_seq == bindparam("h_position"),
                   audit_log.c.hash == bindparam("h_hash")),
    ~exists().where(audit_log.c.shard == bindparam("h_shard_again"),
                    audit_log.c.shard_seq > bindparam("h_after"))))
"""Appends after the cached head only if that record is still its shard's last (ChainHeads)."""
_LAST = Direct(select(audit_log.c.shard_seq, audit_log.c.hash).where(
    audit_log.c.shard == bindparam("shard")).order_by(audit_log.c.shard_seq.desc()).limit(1))
_APPEND = audit_log.insert()


def _stored(row: Any, detail_text: str | None = None) -> StoredAudit:
    return StoredAudit(row.seq, row.at, AuditRecord(
        row.action, row.outcome, row.user_id, row.actor_id, row.target_type, row.target_id,
        row.space_id, dict(row.detail)), row.prev_hash, row.hash, detail_text, row.shard,
        row.shard_seq)


class ChainHeads:
    """Each shard's last (position, hash) as this process last appended it: a guess that
    saves reading the head before every append, never trusted. An append built on it inserts
    only if that record is still the shard's last one (checked in the same statement);
    otherwise (another process appended, or the transaction that appended it rolled back) the
    head is read and the append made the plain way. Also the heads the last anchor named."""

    __slots__ = ("anchored", "heads")

    def __init__(self) -> None:
        self.heads: dict[int, tuple[int, str]] = {}
        self.anchored: dict[int, tuple[int, str]] = {}


_COUNT_REPEATS = update(audit_marks).where(
    audit_marks.c.user_id == bindparam("m_user", type_=audit_marks.c.user_id.type),
    audit_marks.c.bucket == bindparam("m_bucket", type_=audit_marks.c.bucket.type),
    audit_marks.c.subject.in_(bindparam("m_subjects", expanding=True,
                                        type_=audit_marks.c.subject.type)),
).values(count=audit_marks.c.count + 1,
         last_at=bindparam("m_now", type_=audit_marks.c.last_at.type)
         ).returning(audit_marks.c.subject)
"""Built once: every classified read runs it (SQLite ≥ 3.35 and PostgreSQL return rows)."""
_COUNT_REPEATS_PG = Direct(update(audit_marks).where(
    audit_marks.c.user_id == bindparam("m_user", type_=audit_marks.c.user_id.type),
    audit_marks.c.bucket == bindparam("m_bucket", type_=audit_marks.c.bucket.type),
    audit_marks.c.subject == any_(bindparam("m_subjects", type_=ARRAY(String))),
).values(count=audit_marks.c.count + 1,
         last_at=bindparam("m_now", type_=audit_marks.c.last_at.type)
         ).returning(audit_marks.c.subject))
"""The same on PostgreSQL, the subjects as one array: one statement for any page, sent
directly (storage/direct.py)."""


class AuditRepository:
    def __init__(self, conn: AsyncConnection, key: bytes, heads: ChainHeads | None = None
                 ) -> None:
        self.conn = conn
        self.key = key
        self.heads = heads if heads is not None else ChainHeads()

    @property
    def _sharded(self) -> bool:
        return self.conn.dialect.name == "postgresql"

    def values(self, record: AuditRecord, shard: int, position: int, seq: int, prev: str,
                now: datetime) -> dict[str, Any]:
        # Round-trip precision: both databases keep microseconds.
        return {"seq": seq, "shard": shard, "shard_seq": position, "at": now,
                "user_id": record.user_id, "actor_id": record.actor_id,
                "action": record.action, "target_type": record.target_type,
                "target_id": record.target_id, "space_id": record.space_id,
                "outcome": record.outcome, "detail": record.detail, "prev_hash": prev,
                "hash": chain_hash(self.key, prev, position, now, record, shard=shard,
                                   global_seq=seq)}

    def _transaction(self) -> Any:
        sync = self.conn.sync_connection
        return sync.get_transaction() if sync is not None else None

    def _transaction_shard(self) -> int | None:
        """The shard this transaction already holds the lock of: its later records join it
        (holding two shards' locks, two transactions could wait for each other)."""
        held = self.conn.info.get(_HELD)
        current = self._transaction()
        if held is not None and current is not None and held[0]() is current:
            return int(held[1])
        return None

    async def _lock(self, shard: int) -> int:
        """Take the shard's lock (to commit) and draw the record's global seq."""
        seq = (await self.conn.execute(_LOCK_AND_NUMBER, {"lock": _LOCK_CLASS, "shard": shard})
               ).scalar_one()
        self.note_locked(shard)
        return int(seq)

    async def append(self, record: AuditRecord, now: datetime, *, shard: int | None = None
                     ) -> int:
        """Chain the record; returns its global seq. `shard` only for anchors (shard 0)."""
        seq: int | None = None
        if self._sharded:
            held = self._transaction_shard()
            if shard is None:
                shard = held if held is not None else shard_of(record)
            elif held is not None and held != shard:
                raise RuntimeError("a transaction appends to one audit shard")
            seq = await self._lock(shard)
        else:
            shard = 0
        guess = self.heads.heads.get(shard)
        if guess is not None:
            position, prev = guess
            values = self.values(record, shard, position + 1,
                                 position + 1 if seq is None else seq, prev, now)
            result = await self.conn.execute(
                _APPEND_AFTER_HEAD, self.after_head_parameters(values, shard, position, prev))
            if result.rowcount == 1:
                self.note_appended(shard, values)
                return int(values["seq"])
        return await self.append_plain(record, shard, seq, now)

    async def append_plain(self, record: AuditRecord, shard: int, seq: int | None,
                           now: datetime) -> int:
        """Read the shard's head and chain the record after it (the shard's lock held on
        PostgreSQL, with `seq` drawn under it; None on SQLite: the position is the seq)."""
        last = (await _LAST.execute(self.conn, {"shard": shard})).first()
        position = (last.shard_seq + 1) if last else 1
        values = self.values(record, shard, position, position if seq is None else seq,
                             last.hash if last else GENESIS, now)
        await self.conn.execute(_APPEND, values)
        self.note_appended(shard, values)
        return int(values["seq"])

    # The pieces of an append, for a write that composes it with its own statements
    # (storage/entry_append.py): the shard, the lock, the head, the row.

    lock_class = _LOCK_CLASS

    @staticmethod
    def append_after_head_statement() -> Any:
        """The conditional append (parameters: `after_head_parameters`)."""
        return _APPEND_AFTER_HEAD

    def shard_for(self, record: AuditRecord) -> int:
        """The shard the record goes to: the one this transaction holds, else its own."""
        held = self._transaction_shard()
        return held if held is not None else shard_of(record)

    def note_locked(self, shard: int) -> None:
        """This transaction took the shard's lock (its later records join that shard)."""
        current = self._transaction()
        if current is not None:
            self.conn.info[_HELD] = (weakref.ref(current), shard)

    async def head_guess(self, shard: int) -> tuple[int, str]:
        """The shard's last (position, hash) as this process appended it, else as stored."""
        guess = self.heads.heads.get(shard)
        if guess is not None:
            return guess
        last = (await _LAST.execute(self.conn, {"shard": shard})).first()
        return (int(last.shard_seq), str(last.hash)) if last else (0, GENESIS)

    @staticmethod
    def after_head_parameters(values: dict[str, Any], shard: int, position: int, prev: str
                              ) -> dict[str, Any]:
        parameters = {f"v_{name}": value for name, value in values.items()}
        parameters.update(h_shard=shard, h_position=position, h_hash=prev,
                          h_shard_again=shard, h_after=position)
        return parameters

    def note_appended(self, shard: int, values: dict[str, Any]) -> None:
        self.heads.heads[shard] = (values["shard_seq"], values["hash"])

    async def shard_heads(self) -> dict[int, tuple[int, str]]:
        """Each non-empty shard's committed last (position, hash)."""
        if not self._sharded:
            last = (await _LAST.execute(self.conn, {"shard": 0})).first()
            return {0: (int(last.shard_seq), str(last.hash))} if last else {}
        rows = await self.conn.execute(_SHARD_HEADS, {"last": SHARDS - 1})
        return {int(r.shard): (int(r.shard_seq), str(r.hash)) for r in rows}

    async def anchor(self, now: datetime) -> int | None:
        """Append to shard 0 a record naming every other shard's head (ties the shards
        together: a shard cut short before it is detected). Run in a transaction of its own;
        only on PostgreSQL (one shard elsewhere) and only when a head moved since the last
        anchor this process wrote. Returns the anchor's seq, or None."""
        if not self._sharded:
            return None
        # Read before the anchor draws its seq: every head named then has a lower seq.
        heads = {k: head for k, head in (await self.shard_heads()).items() if k != 0}
        if not heads or heads == self.heads.anchored:
            return None
        seq = await self.append(AuditRecord(ANCHOR_ACTION, detail=anchor_detail(heads)), now,
                                shard=0)
        self.heads.anchored = heads  # (a hint: rolled back, the next anchor waits for a move)
        return seq

    async def repeat_marks(self, user_id: str, subjects: list[str], bucket: int, now: datetime
                           ) -> set[str]:
        """Count a repeat of each subject already marked for this user and window; returns
        those (the others are first occurrences and need a chained record). One
        UPDATE … RETURNING per 500 subjects: the count and the answer in one statement."""
        found: set[str] = set()
        for start in range(0, len(subjects), 500):
            parameters = {"m_user": user_id, "m_bucket": bucket, "m_now": now,
                          "m_subjects": subjects[start : start + 500]}
            if self.conn.dialect.name == "postgresql":
                rows = (await _COUNT_REPEATS_PG.execute(self.conn, parameters)).all()
            else:
                rows = await self.conn.execute(_COUNT_REPEATS, parameters)
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
        """Walk every shard's chain with this trail's key (see verify_chain)."""
        return await verify_chain(self.scan(), self.key, self._hash_at)

    async def _hash_at(self, shard: int, position: int) -> str | None:
        return (await self.conn.execute(select(audit_log.c.hash).where(
            audit_log.c.shard == shard, audit_log.c.shard_seq == position))).scalar()

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
