"""Fan-out: one pump per followed space reads the events after the feed's cursor (loading and
decrypting only what someone present may read), decides and renders once per distinct view,
commits the classified reads, then pushes to every live subscriber."""

from __future__ import annotations

import asyncio

import structlog

from ..classification.policy import Action, decide
from ..domain.events import SPACE_EVENTS
from ..domain.model import ItemLabel, Principal, Space
from .connection import Subscription
from .feed import Feed
from .ports import Change, EventSource, Frame, Read, Wanted
from .reads import reads_of
from .registry import Registry
from .replay import Replay
from .views import View, Views, sent_without_item

log = structlog.get_logger("wis.realtime")
READ_ = Action.READ


class Fanout:
    def __init__(self, source: EventSource, registry: Registry, views: Views, replay: Replay,
                 *, batch: int) -> None:
        self.source = source
        self.registry = registry
        self.views = views
        self.replay = replay
        self.batch = batch

    def wake(self, space_id: str, seq: int) -> None:
        feed = self.registry.feeds.get(space_id)
        if feed is not None:
            feed.advance(seq)

    def _wanted(self, feed: Feed) -> Wanted:
        principals = self.registry.principals_of(feed)
        space = feed.space

        def wanted(label: ItemLabel) -> bool:
            return any(decide(p, READ_, space, label).allowed for p in principals)

        return wanted

    async def pump(self, feed: Feed) -> None:
        current = self.registry.current
        while True:
            await feed.wake.wait()
            feed.wake.clear()
            while feed.target > feed.cursor and not feed.paused:
                generation = feed.generation
                space = feed.space
                try:
                    changes = await self.source.changes(
                        feed.space_id, feed.cursor, self.batch, self._wanted(feed))
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("reading events failed; retrying", space_id=feed.space_id)
                    await asyncio.sleep(1.0)
                    continue
                if not current(feed):
                    return
                if feed.paused or feed.space is not space:
                    break  # rights changed while reading: the re-evaluation wakes us again
                if not changes:
                    feed.target = feed.cursor
                    break
                for change in changes:
                    if change.seq > feed.cursor:
                        try:
                            done = await self._dispatch(feed, change, generation)
                        except asyncio.CancelledError:
                            raise
                        except Exception:
                            log.exception("recording pushed reads failed; retrying",
                                          space_id=feed.space_id)
                            await asyncio.sleep(1.0)
                            break
                        if not current(feed):
                            return
                        if not done:
                            break  # rights changed while the reads were committed
                        feed.cursor = change.seq
                        if feed.paused:
                            break
                if len(changes) >= self.batch:
                    feed.target = max(feed.target, feed.cursor + 1)

    async def _dispatch(self, feed: Feed, change: Change, generation: int) -> bool:
        """Deliver one change to the live subscribers. Classified reads are committed to the
        audit trail first, in one transaction for all recipients of the event; False when
        rights changed meanwhile (nothing sent; the pump reads the change again)."""
        if isinstance(change.item, Space) and change.kind in SPACE_EVENTS:
            feed.space = change.item  # participants may have changed: re-decide everyone
            for sub in list(feed.subscribers.values()):
                if not decide(sub.connection.principal, READ_, feed.space):
                    self.registry.revoke(sub)
        seq = change.seq
        space = feed.space
        # Principals are interned, so connections of one user share a view: the decision and
        # the rendering run once per distinct principal, the bytes once per distinct view.
        # The plan groups the subscribers by view, so each frame goes to all its sockets one
        # after the other (the websocket sender serialises a frame once for a run of them).
        views: dict[int, View] = {}
        frames: dict[tuple[bool, ...], Frame | None] = {}
        plan: dict[int, list[tuple[Subscription, int, Principal, Frame | None]]] = {}
        reads: dict[str, Read] = {}
        for sub in list(feed.subscribers.values()):
            if not sub.live or seq <= sub.delivered:
                continue
            if sub.joined > generation:
                # Joined while this batch was being read (it was loaded without them in mind):
                # read it from the table instead. Never turn live here — the cursor does not
                # include this change yet.
                self.replay.restart(feed, sub)
                continue
            if change.item is None and not sent_without_item(change):
                sub.delivered = seq
                continue
            principal = sub.connection.principal
            view = views.get(id(principal))
            if view is None:
                view = views[id(principal)] = self.views.view(space, change, principal, frames)
                for read in reads_of(principal, change, view):
                    reads.setdefault(read.user_id, read)
            frame = view.frame
            group = plan.get(id(frame))
            if group is None:
                group = plan[id(frame)] = []
            group.append((sub, sub.epoch, principal, frame))
        if reads:
            await self.source.record_reads(list(reads.values()))
            if feed.paused or feed.space is not space:
                return False
        subscribers = feed.subscribers
        for group in plan.values():
            for sub, epoch, principal, frame in group:
                conn = sub.connection
                if sub.epoch != epoch or not sub.live or conn.closed or \
                        subscribers.get(conn) is not sub or conn.principal is not principal:
                    continue  # re-authorised meanwhile: its replay reads this change again
                sub.delivered = seq
                if frame is not None:
                    conn.push(frame)
        if reads:  # subscribers that turned live while we waited: let them read it
            planned = {entry[0] for group in plan.values() for entry in group}
            for sub in list(subscribers.values()):
                if sub.live and sub not in planned and sub.delivered < seq:
                    self.replay.restart(feed, sub)
        return True
