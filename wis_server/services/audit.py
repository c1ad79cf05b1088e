"""Recording reads of classified items, reading and verifying the audit trail.

Reads are coalesced: the first read of an item by a user within a window (READ_WINDOW_S,
fixed buckets) appends a chained record naming it; repeats in that window only count (how
often, first and last seen) beside that record. The trail grows with distinct reads, not with
requests, and still says who read which classified item and when.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..classification.policy import Action, decide
from ..domain.audit import AuditRecord, Mark, StoredAudit, VerifyResult
from ..domain.codes import Code
from ..domain.errors import Forbidden
from ..domain.levels import Classification, Role
from ..domain.model import Principal, Space
from .ports import Clock, Transaction, UnitOfWork, system_clock

READ_WINDOW_S = 900
"""Repeats of one read within this window (a fixed bucket of time) are counted, not chained."""


@dataclass(frozen=True, slots=True)
class ItemRead:
    """One classified item shown to a user (public ones are never recorded)."""

    kind: str  # "entry" | "situation_report"
    item_id: str
    space_id: str
    level: Classification


def bucket_of(now: datetime, window_s: int = READ_WINDOW_S) -> int:
    return int(now.timestamp()) // window_s


async def record_reads(tx: Transaction, *, user_id: str, actor_id: str, reads: Sequence[ItemRead],
                       now: datetime, via: str | None = None) -> None:
    """Record, in `tx`, that this user was shown these items now. Public items are skipped;
    an item already recorded for this user in the current window only gains a count; the
    rest get one chained record per (space, kind) naming them."""
    classified = [r for r in reads if r.level is not Classification.PUBLIC]
    if not classified:
        return
    bucket = bucket_of(now)
    subjects = sorted({f"{r.kind}:{r.item_id}" for r in classified})
    repeated = await tx.audit.repeat_marks(user_id, subjects, bucket, now)
    fresh: dict[tuple[str, str], dict[str, Classification]] = {}
    for r in classified:
        if f"{r.kind}:{r.item_id}" not in repeated:
            fresh.setdefault((r.space_id, r.kind), {})[r.item_id] = r.level
    for (space_id, kind), items in sorted(fresh.items()):
        detail: dict[str, object] = {"items": sorted(items),
                                     "levels": sorted({lvl.value for lvl in items.values()})}
        if via is not None:
            detail["via"] = via
        seq = await tx.audit.append(AuditRecord(
            f"{kind}.read", user_id=user_id, actor_id=actor_id, target_type=kind,
            space_id=space_id, detail=detail), now)
        await tx.audit.add_marks(user_id, [f"{kind}:{i}" for i in sorted(items)], bucket, seq,
                                 now)


async def audit_classified_reads(tx: Transaction, principal: Principal, space_id: str, kind: str,
                                 items: Sequence[tuple[str, Classification]],
                                 now: datetime) -> None:
    """The reads of one principal shown items of one kind (coalesced: `record_reads`)."""
    await record_reads(tx, user_id=principal.user_id, actor_id=principal.actor_id,
                       reads=[ItemRead(kind, i, space_id, lvl) for i, lvl in items], now=now)


async def record_reads_now(store: UnitOfWork, now: datetime, *, user_id: str, actor_id: str,
                           reads: Sequence[ItemRead], via: str | None = None) -> None:
    """Record these reads by this user now, committed when this returns (call it before the
    items leave the server). Opens no transaction when nothing is classified."""
    if not any(r.level is not Classification.PUBLIC for r in reads):
        return
    async with store.write() as tx:
        await record_reads(tx, user_id=user_id, actor_id=actor_id, reads=reads, now=now,
                           via=via)


class ReadAuditGroup:
    """`record_reads_now` for many readers at once: group commit.

    Where a read's transaction cannot write (SQLite: one writer, reads beside it), each
    classified read needs a write transaction of its own, with its commit's fsync, queued
    behind every other writer. Readers that arrive while one such transaction is under way
    wait together and are recorded in the next one: one commit for all of them, each
    reader's records exactly as if alone, and each still waits for that commit before its
    items leave the server. If a group's transaction fails, its readers are recorded one
    by one, so one reader's failure reaches only that reader."""

    def __init__(self, store: UnitOfWork) -> None:
        self.store = store
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def record(self, now: datetime, *, user_id: str, actor_id: str,
                     reads: Sequence[ItemRead], via: str | None = None) -> None:
        """Record these reads; returns once they are committed."""
        if not any(r.level is not Classification.PUBLIC for r in reads):
            return
        done = asyncio.get_running_loop().create_future()
        self._waiting.append(({"user_id": user_id, "actor_id": actor_id, "reads": reads,
                               "now": now, "via": via}, done))
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush())
        await asyncio.shield(done)  # a reader that goes away leaves the group intact

    async def _flush(self) -> None:
        group: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                try:
                    async with self.store.write() as tx:
                        for reads, _done in group:
                            await record_reads(tx, **reads)
                except Exception:
                    await self._one_by_one(group)
                    continue
                for _reads, done in group:
                    if not done.done():
                        done.set_result(None)
        finally:
            # Only if this task itself was cancelled (shutdown): nobody may wait forever,
            # and nobody's items leave unrecorded.
            self._flushing = None
            for _reads, done in (*group, *self._waiting):
                if not done.done():
                    done.set_exception(RuntimeError("the read audit stopped"))
            self._waiting = []

    async def _one_by_one(self, group: list[tuple[dict[str, Any], asyncio.Future[None]]]
                          ) -> None:
        for reads, done in group:
            try:
                async with self.store.write() as tx:
                    await record_reads(tx, **reads)
            except Exception as error:  # handed to the reader it belongs to
                if not done.done():
                    done.set_exception(error)
            else:
                if not done.done():
                    done.set_result(None)


@dataclass(frozen=True, slots=True)
class ShownAudit:
    """A record as one reader may see it: `redacted` when its details about a space or item
    were withheld; `repeats` counts the coalesced repeats that followed it."""

    stored: StoredAudit
    redacted: bool
    repeats: tuple[Mark, ...]


_ITEM_KINDS = ("entry", "situation_report")


def _space_of(record: AuditRecord) -> str | None:
    if record.space_id is not None:
        return record.space_id
    return record.target_id if record.target_type == "space" else None


def _items_of(record: AuditRecord) -> list[tuple[str, str]]:
    """The (kind, id) of every item a record names (its target, its listed items)."""
    if record.target_type not in _ITEM_KINDS:
        return []
    kind = record.target_type
    found = [(kind, record.target_id)] if record.target_id else []
    listed = record.detail.get("items")
    if isinstance(listed, list):
        found += [(kind, i) for i in listed if isinstance(i, str)]
    return found


def _withheld(stored: StoredAudit, keep_space: bool) -> StoredAudit:
    r = stored.record
    return replace(stored, record=AuditRecord(
        r.action, r.outcome, r.user_id, r.actor_id, r.target_type, None,
        r.space_id if keep_space else None, {}))


class AuditTrail:
    def __init__(self, store: UnitOfWork, clock: Clock = system_clock) -> None:
        self.store = store
        self.clock = clock

    async def integrity_failure(self, principal: Principal | None, *, method: str,
                                route: str) -> None:
        """Content failed authentication on a path that names no item (the entry paths
        record the item's id themselves)."""
        async with self.store.write() as tx:
            await tx.audit.append(AuditRecord(
                "integrity.failure", outcome="error",
                user_id=principal.user_id if principal else None,
                actor_id=principal.actor_id if principal else None,
                detail={"route": f"{method} {route}"}), self.clock())

    async def refused(self, principal: Principal, *, method: str, route: str, status: int,
                      code: Code) -> None:
        """A signed-in user was refused (403) or told "not found" (404): on the trail, so an
        administrator can see someone probing ids — coalesced per user, route and status
        within a window (one chained record, then a count), and naming no id they tried."""
        now = self.clock()
        subject = f"refused:{status}:{method} {route}"[:200]
        bucket = bucket_of(now)
        async with self.store.write() as tx:
            if await tx.audit.repeat_marks(principal.user_id, [subject], bucket, now):
                return
            seq = await tx.audit.append(AuditRecord(
                "access.refused", outcome="denied", user_id=principal.user_id,
                actor_id=principal.actor_id,
                detail={"status": status, "code": code.value, "route": f"{method} {route}"}), now)
            await tx.audit.add_marks(principal.user_id, [subject], bucket, seq, now)

    async def page(self, principal: Principal, *, actor_id: str | None, after: int, limit: int
                   ) -> list[ShownAudit]:
        """System admins read all (or one actor's); actor admins only their own actor's.
        A record's details about a space or item are shown only to a reader who may know it
        exists (their actor participates) and may read the item (the one decision
        function); otherwise it says who did what kind of act, and when, nothing more."""
        if actor_id is None and principal.role is not Role.SYSTEM_ADMIN:
            actor_id = principal.actor_id
        if not decide(principal, Action.READ_AUDIT, target_actor_id=actor_id):
            raise Forbidden("only administrators read the audit trail (actor admins: their "
                            "own actor's)", code=Code.NOT_AUDIT_READER)
        async with self.store.read() as tx:
            records = await tx.audit.page(actor_id=actor_id, after=after,
                                          limit=max(1, min(limit, 1000)))
            marks = await tx.audit.marks_of([r.seq for r in records])
            known_spaces, readable = await self._visibility(tx, principal, records)
        shown = []
        for stored in records:
            record = stored.record
            space_id = _space_of(record)
            items = _items_of(record)
            repeats = tuple(marks.get(stored.seq, ()))
            space_known = space_id is None or space_id in known_spaces
            if space_known and all(i in readable for i in items):
                shown.append(ShownAudit(stored, False, repeats))
                continue
            if repeats:  # how often, first and last seen — not of what
                repeats = (Mark("", stored.seq, sum(m.count for m in repeats),
                                min(m.first_at for m in repeats),
                                max(m.last_at for m in repeats)),)
            shown.append(ShownAudit(_withheld(stored, space_known and space_id is not None),
                                    True, repeats))
        return shown

    async def _visibility(self, tx: Transaction, principal: Principal,
                          records: Sequence[StoredAudit]
                          ) -> tuple[set[str], set[tuple[str, str]]]:
        """The spaces the reader may know of and the items they may read, among those the
        records name."""
        space_ids = {s for r in records if (s := _space_of(r.record)) is not None}
        items = {i for r in records for i in _items_of(r.record)}
        entry_labels = await tx.entries.labels([i for k, i in items if k == "entry"])
        report_ids = [i for k, i in items if k == "situation_report"]
        # (the label's author actor plays no part in a read decision)
        report_labels = await tx.reports.section_labels(report_ids, "") if report_ids else {}
        report_spaces = {item_id: r.record.space_id for r in records
                         for kind, item_id in _items_of(r.record) if kind == "situation_report"}
        space_ids |= {sid for sid, _ in entry_labels.values()}
        spaces: dict[str, Space] = {}
        for sid in space_ids:
            space = await tx.spaces.get(sid, content=False)
            if space is not None and decide(principal, Action.READ, space):
                spaces[sid] = space
        readable: set[tuple[str, str]] = set()
        for kind, item_id in items:
            if kind == "entry" and item_id in entry_labels:
                sid, label = entry_labels[item_id]
                if sid in spaces and decide(principal, Action.READ, spaces[sid], label):
                    readable.add((kind, item_id))
            elif kind == "situation_report":
                report_space = spaces.get(report_spaces.get(item_id) or "")
                if report_space is not None and any(
                        decide(principal, Action.READ, report_space, label)
                        for label in report_labels.get(item_id, [])):
                    readable.add((kind, item_id))
        return set(spaces), readable

    async def verify(self) -> VerifyResult:
        async with self.store.read() as tx:
            return await tx.audit.verify()
