"""The subscription registry: who is connected (by user), which spaces this process follows
(one Feed each) and who follows them, interned principals, and the connection caps."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any

from ..domain.model import Principal, Space
from .connection import Connection, Limits, Subscription, control
from .feed import Feed
from .ports import Sender


class Registry:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.connections: set[Connection] = set()
        self.by_user: dict[str, set[Connection]] = {}
        self.feeds: dict[str, Feed] = {}
        self._opening: dict[str, asyncio.Future[Feed | None]] = {}
        self._principals: dict[Principal, Principal] = {}
        self._polls: dict[str, int] = {}  # long-polls held open, per user
        self._unauthenticated: dict[str, int] = {}  # websockets before auth, per address

    # --- connection caps ----------------------------------------------------------------------
    def has_room(self, user_id: str) -> bool:
        """May this user open one more live connection (websocket, SSE or long-poll)?"""
        open_ = len(self.by_user.get(user_id, ())) + self._polls.get(user_id, 0)
        return open_ < self.limits.max_per_user

    @contextlib.contextmanager
    def long_poll(self, user_id: str) -> Iterator[bool]:
        """Count a held long-poll against the user's cap; yields False when over it."""
        if not self.has_room(user_id):
            yield False
            return
        self._polls[user_id] = self._polls.get(user_id, 0) + 1
        try:
            yield True
        finally:
            _release(self._polls, user_id)

    @contextlib.contextmanager
    def unauthenticated(self, address: str) -> Iterator[bool]:
        """Count a websocket that has not authenticated yet against its address's cap."""
        if self._unauthenticated.get(address, 0) >= self.limits.max_per_address:
            yield False
            return
        self._unauthenticated[address] = self._unauthenticated.get(address, 0) + 1
        try:
            yield True
        finally:
            _release(self._unauthenticated, address)

    # --- connections ----------------------------------------------------------------------------
    def connect(self, sender: Sender, principal: Principal, expires_at: float | None
                ) -> Connection:
        conn = Connection(sender, self.intern(principal), expires_at, self.limits,
                          self._detach)
        self.connections.add(conn)
        self.by_user.setdefault(principal.user_id, set()).add(conn)
        return conn

    def intern(self, principal: Principal) -> Principal:
        """One object per distinct principal value (fan-out caches views by identity)."""
        if len(self._principals) > 50_000:
            self._principals.clear()
        return self._principals.setdefault(principal, principal)

    def of_user(self, user_id: str) -> list[Connection]:
        return list(self.by_user.get(user_id, ()))

    def of_actors(self, actor_ids: set[str]) -> list[Connection]:
        return [c for c in self.connections if c.principal.actor_id in actor_ids]

    def _detach(self, conn: Connection) -> None:
        self.connections.discard(conn)
        users = self.by_user.get(conn.user_id)
        if users is not None:
            users.discard(conn)
            if not users:
                del self.by_user[conn.user_id]
        for sub in list(conn.subscriptions.values()):
            self.remove(sub)

    # --- feeds and subscriptions ------------------------------------------------------------------
    def current(self, feed: Feed) -> bool:
        """Is this still the space's feed (not closed since, nor replaced)?"""
        return self.feeds.get(feed.space_id) is feed

    def principals_of(self, feed: Feed) -> list[Principal]:
        """The distinct (interned) principals following the feed."""
        return list({id(s.connection.principal): s.connection.principal
                     for s in feed.subscribers.values()}.values())

    async def open_feed(self, space: Space, head: Callable[[], Awaitable[int]],
                        pump: Callable[[Feed], Coroutine[Any, Any, None]]) -> Feed | None:
        """The space's feed, opened (with its pump task) for a space already loaded and
        decided readable; concurrent openers share one opening."""
        space_id = space.id
        feed = self.feeds.get(space_id)
        if feed is not None:
            return feed
        pending = self._opening.get(space_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Feed | None] = asyncio.get_running_loop().create_future()
        self._opening[space_id] = future
        try:
            feed = Feed(space, await head())
            self.feeds[space_id] = feed
            feed.task = asyncio.get_running_loop().create_task(pump(feed))
            future.set_result(feed)
            return feed
        except BaseException:
            if not future.done():
                future.set_result(None)
            raise
        finally:
            del self._opening[space_id]

    def follow(self, conn: Connection, feed: Feed, after: int | None) -> Subscription:
        """Subscribe the connection (replacing an older subscription to the same space), not
        live yet: it catches up first, from `after` (None: from the feed's cursor)."""
        old = conn.subscriptions.get(feed.space_id)
        if old is not None:
            old.epoch += 1
            old.live = False
        feed.generation += 1
        start = feed.cursor if after is None else max(0, after)
        sub = Subscription(conn, feed.space_id, start, feed.generation)
        feed.subscribers[conn] = sub
        conn.subscriptions[feed.space_id] = sub
        return sub

    def remove(self, sub: Subscription) -> None:
        conn = sub.connection
        if conn.subscriptions.get(sub.space_id) is sub:
            del conn.subscriptions[sub.space_id]
        sub.epoch += 1
        sub.live = False
        feed = self.feeds.get(sub.space_id)
        if feed is None or feed.subscribers.get(conn) is not sub:
            return
        del feed.subscribers[conn]
        if not feed.subscribers:
            del self.feeds[sub.space_id]
            if feed.task is not None:
                feed.task.cancel()

    def revoke(self, sub: Subscription) -> None:
        """The subscriber lost the space: remove it and tell it so."""
        self.remove(sub)
        sub.connection.push(control("revoked", space_id=sub.space_id))


def _release(counts: dict[str, int], key: str) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
