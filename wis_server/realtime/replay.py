"""Gapless resume: a subscription that is behind its feed's cursor reads the gap from the event
table under its own rights, then turns live in the same event-loop step in which it reaches the
cursor (the pump delivers from there) — no gap, no duplicate."""

from __future__ import annotations

import asyncio

import structlog

from .connection import Subscription
from .feed import Feed
from .ports import EventSource
from .reads import reads_of
from .registry import Registry
from .tasks import TaskSet
from .views import Views, may_read

log = structlog.get_logger("wis.realtime")


class Replay:
    def __init__(self, source: EventSource, registry: Registry, views: Views, tasks: TaskSet,
                 *, batch: int, concurrent: int = 4) -> None:
        self.source = source
        self.registry = registry
        self.views = views
        self.tasks = tasks
        self.batch = batch
        # A reconnect storm must not starve REST requests of database connections.
        self._slots = asyncio.Semaphore(concurrent)

    def catch_up(self, feed: Feed, sub: Subscription) -> None:
        """Turn live now if nothing is missing; otherwise read the gap from the event table."""
        sub.epoch += 1
        sub.live = False
        if sub.delivered >= feed.cursor and not feed.paused:
            sub.live = True
            return
        self.tasks.spawn(self._run(feed, sub, sub.epoch))

    def restart(self, feed: Feed, sub: Subscription) -> None:
        """Take the subscription off the live path and read from the table again."""
        sub.epoch += 1
        sub.live = False
        self.tasks.spawn(self._run(feed, sub, sub.epoch))

    def _stale(self, feed: Feed, sub: Subscription, epoch: int) -> bool:
        return (sub.epoch != epoch or sub.connection.closed
                or feed.subscribers.get(sub.connection) is not sub
                or not self.registry.current(feed))

    async def _run(self, feed: Feed, sub: Subscription, epoch: int) -> None:
        conn = sub.connection
        try:
            while True:
                await feed.resumed.wait()
                if self._stale(feed, sub, epoch):
                    return
                if sub.delivered >= feed.cursor:
                    sub.live = True  # same loop step as the check: the pump takes over here
                    return
                space, principal = feed.space, conn.principal
                async with self._slots:
                    if self._stale(feed, sub, epoch):
                        return
                    changes = await self.source.changes(
                        feed.space_id, sub.delivered, self.batch, may_read(principal, space))
                if self._stale(feed, sub, epoch):
                    return
                if feed.paused or feed.space is not space or conn.principal is not principal:
                    continue  # rights changed while reading: read again under the new ones
                if not changes:
                    sub.delivered = max(sub.delivered, feed.cursor)
                    continue
                views = [(change, self.views.view(space, change, principal, {}))
                         for change in changes if change.seq > sub.delivered]
                reads = [read for change, view in views
                         for read in reads_of(principal, change, view)]
                if reads:  # on the audit trail (committed) before anything leaves
                    await self.source.record_reads(reads)
                    if self._stale(feed, sub, epoch) or feed.paused or \
                            feed.space is not space or conn.principal is not principal:
                        continue
                for change, view in views:
                    sub.delivered = change.seq
                    if view.frame is not None:
                        conn.push(view.frame)
                    if conn.closed:
                        return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("replay failed", space_id=feed.space_id)
            conn.close_soon(1011, "internal error; resume with after")
