"""Degraded-link fallbacks: a page of the readable events after a seq (long-poll and the first
SSE read), and waiting until a space has (or may have) a newer event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

from ..classification.policy import Action, decide
from ..domain.model import Principal
from .ports import EventSource, Frame, Read
from .reads import reads_of
from .registry import Registry
from .views import Views, may_read, sent_without_item


@dataclass(frozen=True, slots=True)
class Backlog:
    """What a long-poll / first SSE read returns: visible frames, the last seq examined
    (resume from it: later reads skip what is invisible), and the space's head."""

    frames: list[Frame]
    last_seq: int
    head: int


class LongPoll:
    def __init__(self, source: EventSource, registry: Registry, views: Views) -> None:
        self.source = source
        self.registry = registry
        self.views = views
        self._waiters: dict[str, list[tuple[int, asyncio.Future[None]]]] = {}

    def spaces(self) -> set[str]:
        """The spaces somebody is waiting on."""
        return set(self._waiters)

    def wake(self, space_id: str, seq: int) -> None:
        for after, future in self._waiters.get(space_id, ()):
            if seq > after and not future.done():
                future.set_result(None)

    async def backlog(self, principal: Principal, space_id: str, after: int, limit: int
                      ) -> Backlog | None:
        """Readable events after `after`; None if the space is invisible."""
        space = await self.source.space(space_id)
        if space is None or not decide(principal, Action.READ, space):
            return None
        changes = await self.source.changes(space_id, after, limit, may_read(principal, space))
        frames: list[Frame] = []
        reads: list[Read] = []
        for change in changes:
            if change.item is None and not sent_without_item(change):
                continue
            view = self.views.view(space, change, principal, {})
            if view.frame is not None:
                frames.append(view.frame)
                reads.extend(reads_of(principal, change, view))
        if reads:  # committed before the page is returned
            await self.source.record_reads(reads)
        last = changes[-1].seq if changes else after
        if len(changes) < limit:
            head = max(last, (await self.source.heads([space_id])).get(space_id, last))
        else:
            head = max(last, space.last_seq)
        return Backlog(frames, last, head)

    async def wait(self, space_id: str, after: int, seconds: float) -> None:
        """Return when the space has (or may have) an event after `after`, or on timeout."""
        await self.wait_any({space_id: after}, seconds)

    async def wait_any(self, afters: Mapping[str, int], seconds: float) -> None:
        """Return when any of the spaces has (or may have) an event after its position, or on
        timeout (the sync endpoint waits on every followed space at once)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entries = [(space_id, (after, future)) for space_id, after in afters.items()]
        for space_id, entry in entries:
            self._waiters.setdefault(space_id, []).append(entry)
        try:
            for space_id, after in afters.items():
                feed = self.registry.feeds.get(space_id)
                if feed is not None and feed.cursor > after:
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, seconds)
        finally:
            for space_id, entry in entries:
                waiters = self._waiters.get(space_id, [])
                with contextlib.suppress(ValueError):
                    waiters.remove(entry)
                if not waiters:
                    self._waiters.pop(space_id, None)
