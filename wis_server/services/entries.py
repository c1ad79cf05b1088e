"""Post and read log entries — the walk of DESIGN.md §3."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from ..classification.policy import Action, decide
from ..domain.audit import AuditRecord
from ..domain.codes import Code
from ..domain.errors import Forbidden, IntegrityFailure, NotFound, ValidationFailed
from ..domain.events import EventKind
from ..domain.levels import Classification, EntryKind, SpaceStatus
from ..domain.model import Audience, Entry, ItemLabel, Principal, Space
from ..domain.notifications import Channel, NotifyEvent
from ..domain.outbox import OutboxDraft
from ..domain.records import EntryLabelFilter
from .audit import ItemRead, ReadAuditGroup, audit_classified_reads
from .idempotency import fingerprint, retrying_on_race
from .outbox import Wake, enqueue, no_wake, recipients_for, space_link
from .ports import Clock, EventPublisher, Transaction, UnitOfWork
from .spaces import visible_space, visible_space_claiming
from .write_checks import audience_for_write, check_audience_cleared

MAX_PAGE = 500
MAX_SEARCH = 200  # characters of a log text search

log = structlog.get_logger("wis.entries")
ENTRY_SUBJECT = "Nytt inlägg"
ENTRY_NOTICE_TTL = timedelta(hours=24)


def _body_contains(needle: str) -> Callable[[Entry], bool]:
    def match(entry: Entry) -> bool:
        return needle in entry.body.casefold()

    return match


def reader_filter(principal: Principal, space: Space) -> Callable[[ItemLabel], bool]:
    """The per-item predicate every read path hands to storage: the one decision function,
    asked once per distinct label (a page of 100 entries has a handful: level, audience,
    author's actor). The memo lives as long as the predicate — one read, one principal,
    one space — so it never outlives what it was decided on."""
    decided: dict[ItemLabel, bool] = {}

    def visible(label: ItemLabel) -> bool:
        known = decided.get(label)
        if known is None:
            known = decided[label] = bool(decide(principal, Action.READ, space, label))
        return known

    return visible


ENTRY_SUBJECT = "Nytt inlägg"
ENTRY_NOTICE_TTL = timedelta(hours=24)


class Entries:
    def __init__(self, store: UnitOfWork, clock: Clock, publisher: EventPublisher, *,
                 enabled: frozenset[Channel] = frozenset(), wake: Wake = no_wake) -> None:
        self.store = store
        self.clock = clock
        self.publisher = publisher
        self.enabled = enabled  # channels for users who asked to hear of new entries
        self.wake = wake
        self.read_audit = ReadAuditGroup(store)  # where a read cannot write its own audit

    async def post(self, principal: Principal, space_id: str, *, kind: EntryKind,
                   classification: Classification, body: str,
                   audience: Sequence[str] | None = None,
                   idempotency_key: str | None = None) -> Entry:
        if kind is EntryKind.NOTICE:
            raise ValidationFailed("a notice is posted to the space's notices "
                                   "(POST /api/v1/spaces/{space_id}/notices), which also "
                                   "delivers it", code=Code.NOTICE_VIA_NOTICES, field="kind")
        print_ = fingerprint("entry.create", [space_id, kind.value, classification.value, body,
                                              sorted(audience) if audience is not None else None])

        async def attempt() -> Entry | str:
            now = self.clock()
            async with self.store.write() as tx:
                entry_id = str(uuid.uuid4())
                space, earlier = await visible_space_claiming(
                    tx, principal, space_id, idempotency_key, print_, "entry", entry_id, now)
                if earlier is not None:
                    return earlier
                # classification.audience: an explicit list is kept as the author chose it,
                # even when it names every participant today; only null (the level's
                # default) reaches those who join later (issue 7.18c).
                chosen = audience_for_write(principal, space, Action.WRITE, classification,
                                        audience)
                await check_audience_cleared(tx, [(classification, chosen)], principal=principal)
                # Everything that needs no sequence number first; the space's seq (a row
                # lock until commit on PostgreSQL) and the audit chain (a lock per shard)
                # last, so concurrent writers queue only for the final statements.
                queued = await self._notify(tx, principal.actor_id, principal.user_id, space,
                                            entry_id, classification, chosen, body, now)

                def make_entry(seq: int) -> Entry:
                    return Entry(entry_id, space.id, seq, kind, classification, body, chosen,
                                 principal.user_id, principal.actor_id,
                                 principal.display_name, created_at=now,
                                 exercise=space.is_exercise)

                def make_record(seq: int) -> AuditRecord:
                    return AuditRecord(
                        "entry.create", user_id=principal.user_id,
                        actor_id=principal.actor_id, target_type="entry", target_id=entry_id,
                        space_id=space.id, detail={
                            "seq": seq, "kind": kind.value, "level": classification.value,
                            "audience": sorted(chosen) if chosen is not None else "all"})

                entry = await tx.append_entry(
                    space_id=space.id, entry_id=entry_id, level=classification,
                    make_entry=make_entry, make_record=make_record, now=now)
                seq = entry.seq
            self.publisher.space_changed(space.id, seq)
            if queued:
                self.wake()
            return entry

        outcome = await retrying_on_race(attempt)
        if isinstance(outcome, Entry):
            return outcome  # as written: no second read, and no read to audit
        return await self.get(principal, space_id, outcome)  # a retry: read it back

    async def post_machine(self, space_id: str, *, author_id: str, author_actor_id: str,
                           author_name: str, body: str, via: str) -> Entry | None:
        """An `incoming`, public entry written by a gateway (`via`: "rakel"), not by a
        person: no access decision is asked (the gateway is not a principal; routing to
        this space was decided by the space's own link), the audit record says `via`.
        None if the space is gone or closed."""
        now = self.clock()
        async with self.store.write() as tx:
            space = await tx.spaces.get(space_id, content=False)
            if space is None or space.status is not SpaceStatus.OPEN:
                return None
            entry_id = str(uuid.uuid4())
            queued = await self._notify(tx, author_actor_id, author_id, space, entry_id,
                                        Classification.PUBLIC, None, body, now)

            def make_entry(seq: int) -> Entry:
                return Entry(entry_id, space.id, seq, EntryKind.INCOMING,
                             Classification.PUBLIC, body, None, author_id, author_actor_id,
                             author_name, created_at=now)

            def make_record(seq: int) -> AuditRecord:
                return AuditRecord(
                    "entry.create", user_id=author_id, actor_id=author_actor_id,
                    target_type="entry", target_id=entry_id, space_id=space.id,
                    detail={"seq": seq, "kind": EntryKind.INCOMING.value,
                            "level": Classification.PUBLIC.value, "audience": "all",
                            "via": via})

            entry = await tx.append_entry(
                space_id=space.id, entry_id=entry_id, level=Classification.PUBLIC,
                make_entry=make_entry, make_record=make_record, now=now)
            seq = entry.seq
        self.publisher.space_changed(space.id, seq)
        if queued:
            self.wake()
        return entry

    async def _notify(self, tx: Transaction, author_actor_id: str, author_id: str, space: Space,
                      entry_id: str, level: Classification, audience: Audience, body: str,
                      now: datetime) -> bool:
        """Outbox rows, in the entry's transaction, for users who asked to hear of new
        entries in this space and may read this one (the author is not told)."""
        if not self.enabled:
            return False
        recipients = await recipients_for(
            tx, space, ItemLabel(level, audience, author_actor_id), NotifyEvent.ENTRY,
            self.enabled, now, exclude=author_id)
        if not recipients:
            return False
        await enqueue(tx, OutboxDraft(
            kind="entry", classification=level, subject=ENTRY_SUBJECT, body=body,
            expires_at=now + ENTRY_NOTICE_TTL, space_id=space.id, ref_id=entry_id,
            audience=audience, author_actor_id=author_actor_id,
            exercise=space.is_exercise, link=space_link(space.id),
            created_by=author_id, recipients=tuple(recipients)), now, space)
        return True

    async def change_audience(self, principal: Principal, space_id: str, entry_id: str,
                              audience: Sequence[str] | None) -> Entry:
        """Widen or narrow who may read an entry (läsrätt). Only the author's actor may, with
        a space role that may write; the author's actor always keeps read right."""
        now = self.clock()
        async with self.store.write() as tx:
            space = await visible_space(tx, principal, space_id)
            label = await tx.entries.label(space.id, entry_id)
            if label is None or not decide(principal, Action.READ, space, label):
                raise NotFound("no such entry")
            if label.author_actor_id != principal.actor_id:
                raise Forbidden("only the author's actor changes an entry's read right",
                                code=Code.NOT_AUTHOR_ACTOR)
            # null means what it means on POST: the level's default read right (every
            # participant for public, the author's actor alone for sekretess/hemlig).
            chosen = audience_for_write(principal, space, Action.WRITE, label.classification,
                                    audience)
            await check_audience_cleared(tx, [(label.classification, chosen)],
                                         principal=principal)
            await tx.entries.set_audience(entry_id, chosen)
            seq = await tx.spaces.append_event(
                space.id, EventKind.ENTRY_AUDIENCE_CHANGED, entry_id, now)
            await tx.audit.append(AuditRecord(
                "entry.audience_change", user_id=principal.user_id, actor_id=principal.actor_id,
                target_type="entry", target_id=entry_id, space_id=space.id,
                detail={"seq": seq, "audience": sorted(chosen) if chosen is not None else "all",
                        "was": sorted(label.audience) if label.audience is not None
                        else "all"}), now)
        self.publisher.access_changed(space_id=space.id)
        self.publisher.space_changed(space.id, seq)
        return await self.get(principal, space_id, entry_id)

    async def get(self, principal: Principal, space_id: str, entry_id: str) -> Entry:
        async with self.store.read() as tx:
            space = await visible_space(tx, principal, space_id)
            corrupt: list[str] = []
            entry = await tx.entries.get(space.id, entry_id, reader_filter(principal, space),
                                         corrupt)
        if corrupt:  # fail closed, loudly: audited, and a stable problem instead of a 500
            await self._report_corruption(principal, space_id, corrupt)
            raise IntegrityFailure("this entry failed its integrity check and is withheld")
        if entry is None:
            raise NotFound("no such entry")
        await self._audit_reads(principal, space_id, [entry])
        return replace(entry, exercise=True) if space.is_exercise else entry

    async def page(self, principal: Principal, space_id: str, *, after: int | None = None,
                   before: int | None = None, limit: int = 100, descending: bool = False,
                   labels: EntryLabelFilter | None = None, text: str | None = None
                   ) -> tuple[list[Entry], int]:
        """A page of the log as the principal may read it, optionally narrowed by plain
        labels (`labels`, in SQL) and by a text search (`text`: case-insensitive substring of
        the body, tested only on entries the decision function let through and decrypted)."""
        limit = max(1, min(limit, MAX_PAGE))
        corrupt: list[str] = []
        match = None
        if text is not None:
            needle = text.strip().casefold()
            if not needle or len(needle) > MAX_SEARCH:
                raise ValidationFailed(f"q must be 1-{MAX_SEARCH} non-blank characters",
                                       code=Code.INVALID_SEARCH, field="q")
            match = _body_contains(needle)
        if labels is not None and labels.since is not None and labels.until is not None \
                and labels.since >= labels.until:
            raise ValidationFailed("since must be before until", code=Code.INVALID_TIME_RANGE,
                                   field="since")
        async with self.store.read() as tx:
            space = await visible_space(tx, principal, space_id)
            items = await tx.entries.page(
                space.id, actor_id=principal.actor_id,
                clearance=principal.effective_clearance,
                visible=reader_filter(principal, space), after=after, before=before,
                limit=limit, descending=descending, corrupt=corrupt, labels=labels,
                match=match)
            # The read's audit in the read's own transaction where it may write
            # (PostgreSQL): committed with it, before the items leave the server.
            audited = not corrupt and tx.writable
            if audited:
                await self._audit_reads_in(tx, principal, space_id, items)
        # The space row was read first in this transaction; an entry committed since can
        # only be newer, so the larger of the two is a head no client can overshoot.
        head = max([space.last_seq, *(e.seq for e in items)])
        if corrupt:
            await self._report_corruption(principal, space_id, corrupt)
        if not audited:
            await self._audit_reads(principal, space_id, items)
        if space.is_exercise:  # storage leaves it False: a copy only where it is not
            items = [replace(e, exercise=True) for e in items]
        return items, head

    async def _report_corruption(self, principal: Principal, space_id: str,
                                 entry_ids: list[str]) -> None:
        """Entries that failed authentication were left out of a log page: say so loudly
        (log and audit, ids only) — the rest of the log stays readable."""
        log.error("integrity failure: entries failed to decrypt", space_id=space_id,
                  entry_ids=entry_ids, user_id=principal.user_id)
        async with self.store.write() as tx:
            await tx.audit.append(AuditRecord(
                "integrity.failure", outcome="error", user_id=principal.user_id,
                actor_id=principal.actor_id, target_type="entry", space_id=space_id,
                detail={"items": entry_ids}), self.clock())

    async def _audit_reads_in(self, tx: Transaction, principal: Principal, space_id: str,
                              items: Sequence[Entry]) -> None:
        if any(e.classification is not Classification.PUBLIC for e in items):
            await audit_classified_reads(
                tx, principal, space_id, "entry",
                [(e.id, e.classification) for e in items], self.clock())

    async def _audit_reads(self, principal: Principal, space_id: str,
                           items: Sequence[Entry]) -> None:
        await self.read_audit.record(
            self.clock(), user_id=principal.user_id, actor_id=principal.actor_id,
            reads=[ItemRead("entry", e.id, space_id, e.classification) for e in items])
