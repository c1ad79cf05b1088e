"""The real-time hub's event source over storage: events of a space after a seq, each loaded
once with only the parts someone present may read decrypted; principals; heads; and the
audit trail for pushed classified items."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ..domain.callouts import Callout
from ..domain.events import (
    CALLOUT_EVENTS,
    CONFERENCE_EVENTS,
    ENTRY_ITEM_EVENTS,
    REPORT_EVENTS,
    SPACE_EVENTS,
    EventKind,
)
from ..domain.model import ItemLabel, Principal, Space
from ..realtime.ports import Change, Part, Read, Wanted
from .audit import ItemRead, record_reads
from .conferences import label as conference_label
from .directory import load_principal
from .ports import Clock, EventPublisher, UnitOfWork


class StreamSource:
    """Implements realtime.ports.EventSource."""

    def __init__(self, store: UnitOfWork, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def principal(self, user_id: str) -> Principal | None:
        async with self.store.read() as tx:
            return await load_principal(tx, user_id)

    async def principals(self, user_ids: Sequence[str]) -> dict[str, Principal]:
        async with self.store.read() as tx:
            return await tx.users.principals(user_ids)

    async def space(self, space_id: str) -> Space | None:
        async with self.store.read() as tx:
            return await tx.spaces.get(space_id)

    async def heads(self, space_ids: Sequence[str]) -> dict[str, int]:
        async with self.store.read() as tx:
            return await tx.spaces.heads(space_ids)

    async def changes(self, space_id: str, after: int, limit: int, wanted: Wanted
                      ) -> list[Change]:
        """Every event after `after` (so cursors pass invisible ones), items loaded as they
        are now; parts nobody in `wanted` may read are neither decrypted nor returned."""
        async with self.store.read() as tx:
            events = await tx.spaces.events_after(space_id, after, limit)
            if not events:
                return []
            kinds = [EventKind.parse(e.kind) for e in events]
            entry_ids = [e.ref_id for e, k in zip(events, kinds, strict=True)
                         if k in ENTRY_ITEM_EVENTS]
            entries = {e.id: e for e in await tx.entries.by_ids(entry_ids, wanted)
                       if e.space_id == space_id}
            reports = {}
            for e, k in zip(events, kinds, strict=True):
                if k in REPORT_EVENTS and e.ref_id not in reports:
                    reports[e.ref_id] = await tx.reports.by_id(
                        e.ref_id, lambda _report, label: wanted(label))
            space = await tx.spaces.get(space_id) if any(
                k in SPACE_EVENTS for k in kinds) else None
            callout_ids = [e.ref_id for e, k in zip(events, kinds, strict=True)
                           if k in CALLOUT_EVENTS]
            callouts: dict[str, tuple[ItemLabel, Callout]] = {}
            if callout_ids:
                # Decrypted only if someone present may read it.
                readable: dict[str, ItemLabel] = {}
                for c in await tx.callouts.by_ids(callout_ids, content=False):
                    label = ItemLabel(c.classification, c.audience, c.owner_actor_id)
                    if c.space_id == space_id and wanted(label):
                        readable[c.id] = label
                if readable:
                    callouts = {c.id: (readable[c.id], c) for c in
                                await tx.callouts.by_ids(list(readable))}
            conference_ids = [e.ref_id for e, k in zip(events, kinds, strict=True)
                              if k in CONFERENCE_EVENTS]
            conferences = {b.id: b for b in await tx.conferences.by_ids(conference_ids)
                           if b.space_id == space_id} if conference_ids else {}
        result = []
        for e, kind in zip(events, kinds, strict=True):
            change = Change(space_id, e.seq, kind, e.ref_id)
            if kind in ENTRY_ITEM_EVENTS and e.ref_id in entries:
                entry = entries[e.ref_id]
                change = Change(space_id, e.seq, kind, e.ref_id, (entry.label,), entry)
            elif kind in REPORT_EVENTS:
                report = reports.get(e.ref_id)
                if report is not None and report.space_id == space_id and report.sections:
                    labels = tuple(s.label(report.actor_id) for s in report.sections)
                    change = Change(space_id, e.seq, kind, e.ref_id, labels, report)
            elif kind in CALLOUT_EVENTS and e.ref_id in callouts:
                label, callout = callouts[e.ref_id]
                change = Change(space_id, e.seq, kind, e.ref_id, (label,), callout)
            elif kind in CONFERENCE_EVENTS and e.ref_id in conferences:
                booking = conferences[e.ref_id]
                change = Change(space_id, e.seq, kind, e.ref_id, (conference_label(booking),),
                                booking)
            elif kind in SPACE_EVENTS and space is not None:
                change = Change(space_id, e.seq, kind, e.ref_id, (), space, personal=True)
            result.append(change)
        return result

    async def parts(self, space_id: str) -> list[Part]:
        """Labels only: what a reader whose rights narrowed may have on screen."""
        async with self.store.read() as tx:
            entries = await tx.entries.labels_in_space(space_id)
            sections = await tx.reports.current_section_labels(space_id)
        return [*(Part(entry_id, label) for entry_id, label in entries),
                *(Part(report_id, label, key.value) for report_id, key, label in sections)]

    async def record_reads(self, reads: Sequence[Read]) -> None:
        """Coalesced like a REST read (services.audit.record_reads): per user, a chained
        record for items first read in the window, a count for repeats."""
        grouped: dict[tuple[str, str], list[ItemRead]] = defaultdict(list)
        for read in reads:
            kind = "situation_report" if read.kind in REPORT_EVENTS else \
                "callout" if read.kind in CALLOUT_EVENTS else "entry"
            grouped[(read.user_id, read.actor_id)].append(
                ItemRead(kind, read.item_id, read.space_id, read.level))
        now = self.clock()
        async with self.store.write() as tx:
            for (user_id, actor_id), items in grouped.items():
                await record_reads(tx, user_id=user_id, actor_id=actor_id, reads=items,
                                   now=now, via="stream")


class TeePublisher:
    """Tells both the real-time hub and another publisher (e.g. one a test passed in)."""

    def __init__(self, first: EventPublisher, second: EventPublisher) -> None:
        self.first = first
        self.second = second

    def space_changed(self, space_id: str, seq: int) -> None:
        self.first.space_changed(space_id, seq)
        self.second.space_changed(space_id, seq)

    def access_changed(self, *, user_id: str | None = None, actor_id: str | None = None,
                       space_id: str | None = None) -> None:
        self.first.access_changed(user_id=user_id, actor_id=actor_id, space_id=space_id)
        self.second.access_changed(user_id=user_id, actor_id=actor_id, space_id=space_id)

    def membership_changed(self, space_id: str, added: Sequence[str],
                           removed: Sequence[str]) -> None:
        self.first.membership_changed(space_id, added, removed)
        self.second.membership_changed(space_id, added, removed)
