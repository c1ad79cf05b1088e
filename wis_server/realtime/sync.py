"""Sync for the worst links (docs/sync.md): one page of the readable events of every followed
space after a per-space position, read by the long-poll reader (`decide` per item and
per-reader withdrawals in views.py, classified reads committed before the page leaves), led
by the withdrawals owed after the reader's own rights narrowed — the websocket's rules, in
another shape (the `render` the API passes)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..domain.events import EventKind
from ..domain.model import Principal, Space
from .longpoll import LongPoll
from .ports import EventSource, Frame, Render
from .registry import Registry
from .views import Views, lost, may_have_narrowed, narrowing_frame


@dataclass(frozen=True, slots=True)
class SpacePage:
    """One space's part of a sync answer: frames in seq order (narrowing withdrawals first),
    the last seq examined (the space's new position) and its head."""

    space: Space
    frames: list[Frame]
    last_seq: int
    head: int
    added: bool
    resync: bool


@dataclass(frozen=True, slots=True)
class SyncPage:
    spaces: list[SpacePage]
    removed: list[str]

    @property
    def empty(self) -> bool:
        """Nothing to tell the client (a long-poll may wait)."""
        return not self.removed and not any(
            p.frames or p.added or p.resync for p in self.spaces)

    @property
    def more(self) -> bool:
        """Some space has events past this page: ask again at once."""
        return any(p.last_seq < p.head for p in self.spaces)


def widened(before: Principal, after: Principal) -> bool:
    """Could `after` read more than `before`? (Items passed over before are not re-sent.)"""
    return (after.effective_clearance > before.effective_clearance
            or after.role != before.role)


class SyncReader:
    def __init__(self, source: EventSource, registry: Registry, waits: LongPoll,
                 render: Render) -> None:
        self.source = source
        self.pages = LongPoll(source, registry, Views(render))
        self.waits = waits  # the hub's: woken by every committed event

    async def read(self, principal: Principal, spaces: Sequence[Space],
                   positions: Mapping[str, int], before: Principal | None, *,
                   limit: int, tail: int) -> SyncPage:
        """`spaces`: those the reader follows (in the order to answer); `positions`: the
        cursor's; `before`: the reader as the cursor saw them (None: start afresh)."""
        share = max(1, math.ceil(limit / max(1, len(spaces))))
        narrowed = before is not None and may_have_narrowed(before, principal)
        wider = before is not None and widened(before, principal)
        pages: list[SpacePage] = []
        removed: list[str] = []
        for space in spaces:
            after = positions.get(space.id) if before is not None else None
            added = after is None
            resync = added or wider
            if after is not None and after > space.last_seq:
                after, resync = None, True  # a position past the head: the log was restored
            if after is None:
                after = max(0, space.last_seq - tail)
            frames: list[Frame] = []
            if narrowed and not added and before is not None:
                parts = await self.source.parts(space.id)
                frames = [narrowing_frame(space.id, part)
                          for part in lost(before, principal, space, parts)]
            backlog = await self.pages.backlog(principal, space.id, after, share)
            if backlog is None:
                removed.append(space.id)
                continue
            resync = resync or any(f.event == EventKind.SPACE_RESYNC for f in backlog.frames)
            pages.append(SpacePage(space, [*frames, *backlog.frames], backlog.last_seq,
                                   backlog.head, added, resync))
        return SyncPage(pages, removed)

    async def wait(self, positions: Mapping[str, int], seconds: float) -> None:
        """Until any of the spaces has (or may have) an event past its position, or timeout."""
        await self.waits.wait_any(positions, seconds)
