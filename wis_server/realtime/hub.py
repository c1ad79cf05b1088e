"""The hub: per-space feeds, subscriptions, gapless resume, fan-out (re-authorisation is in
access.py, the per-space state in feed.py).

Every frame passes `classification.policy.decide` for its recipient; content is loaded (and
decrypted) once per event for whoever is present and rendered once per distinct view."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import Any

import structlog

from ..classification.policy import Action, decide
from ..domain.levels import Classification
from ..domain.model import ItemLabel, Principal, Space
from .access import Reauthorisation
from .connection import (
    CLOSE_GOING_AWAY,
    Connection,
    Limits,
    Subscription,
    control,
)
from .feed import Backlog, Feed, View, may_read, withdrawable, withdrawn_frame
from .ports import Change, EventSource, Frame, Read, Render, Sender, Wanted

log = structlog.get_logger("wis.realtime")
READ_ = Action.READ


class Hub(Reauthorisation):
    """Implements the services' EventPublisher port (`space_changed`, `access_changed`)."""

    def __init__(self, source: EventSource, render: Render, *, limits: Limits | None = None,
                 poll_s: float = 5.0, revalidate_s: float = 60.0, batch: int = 200) -> None:
        self.source = source
        self.render = render
        self.limits = limits or Limits()
        self.poll_s = poll_s
        self.revalidate_s = revalidate_s
        self.batch = batch
        self.outbox: Callable[[str], None] | None = None  # cross-process wake-ups (PgBus)
        self.connections: set[Connection] = set()
        self._by_user: dict[str, set[Connection]] = {}
        self._feeds: dict[str, Feed] = {}
        self._opening: dict[str, asyncio.Future[Feed | None]] = {}
        self._waiters: dict[str, list[tuple[int, asyncio.Future[None]]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._principals: dict[Principal, Principal] = {}
        self._polls: dict[str, int] = {}  # long-polls held open, per user
        self._unauthenticated: dict[str, int] = {}  # websockets before auth, per address
        # A reconnect storm (5,000 clients after a restart) must not starve REST requests of
        # database connections: sign-ins and replays take turns.
        self.admission = asyncio.Semaphore(8)
        self._replays = asyncio.Semaphore(4)
        self._started = False

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Go live: bus reconnects now trigger a catch-up. The periodic work is not started
        here: the runtime supervises `background_loops()`."""
        self._started = True

    def background_loops(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """The hub's periodic work, as forever-loops for the runtime's supervisor."""
        return {
            "realtime.catch_up": lambda: self._every(self.poll_s, self.catch_up_all),
            "realtime.revalidate": lambda: self._every(self.revalidate_s, self.revalidate_all),
        }

    async def stop(self) -> None:
        closing = list(self.connections)
        for conn in closing:
            conn.close_soon(CLOSE_GOING_AWAY, "server shutting down")
        if closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(
                    *(c.finished() for c in closing), return_exceptions=True), 15)
        tasks = [*self._tasks,
                 *(f.task for f in self._feeds.values() if f.task is not None)]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._feeds.clear()

    async def _every(self, seconds: float, work: Callable[[], Coroutine[Any, Any, None]]
                     ) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await work()
            except Exception:
                log.exception("realtime periodic task failed", task=work.__name__)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- EventPublisher port (called by services after commit) ---------------------------
    def space_changed(self, space_id: str, seq: int) -> None:
        self._wake_space(space_id, seq)
        self._announce(f"s|{space_id}|{seq}")

    def access_changed(self, *, user_id: str | None = None, actor_id: str | None = None,
                       space_id: str | None = None) -> None:
        self._access(user_id, actor_id, space_id)
        if user_id:
            self._announce(f"u|{user_id}")
        if actor_id:
            self._announce(f"a|{actor_id}")
        if space_id:
            self._announce(f"p|{space_id}")

    def membership_changed(self, space_id: str, added: Sequence[str],
                           removed: Sequence[str]) -> None:
        self._membership(space_id, tuple(added), tuple(removed))
        self._announce(f"m|{space_id}|{','.join(added)}|{','.join(removed)}")

    def _membership(self, space_id: str, added: tuple[str, ...], removed: tuple[str, ...]
                    ) -> None:
        """Tell the connected users of actors that left a space, and (after deciding on the
        space as it is now) those of actors that joined it — per user, not per subscription."""
        if removed:
            gone = set(removed)
            for conn in list(self.connections):
                if conn.principal.actor_id in gone:
                    conn.push(control("membership.removed", space_id=space_id))
        if added and any(c.principal.actor_id in added for c in self.connections):
            self._spawn(self._tell_added(space_id, set(added)))

    async def _tell_added(self, space_id: str, added: set[str]) -> None:
        space = await self.source.space(space_id)
        if space is None:
            return
        for conn in list(self.connections):
            if conn.principal.actor_id in added and decide(conn.principal, READ_, space):
                conn.push(control("membership.added", space_id=space_id))

    def _announce(self, payload: str) -> None:
        if self.outbox is not None:
            self.outbox(payload)

    # --- bus callbacks (other processes) --------------------------------------------------
    def on_remote(self, payload: str) -> None:
        """A wake-up from another process: `s|space|seq`, `u|user`, `a|actor`, `p|space`, or
        `*` (catch up on every followed space)."""
        kind, _, rest = payload.partition("|")
        try:
            if kind == "s":
                space_id, _, seq = rest.rpartition("|")
                self._wake_space(space_id, int(seq))
            elif kind == "u":
                self._access(rest, None, None)
            elif kind == "a":
                self._access(None, rest, None)
            elif kind == "p":
                self._access(None, None, rest)
            elif kind == "m":
                space_id, _, actors = rest.partition("|")
                added, _, removed = actors.partition("|")
                self._membership(space_id, tuple(a for a in added.split(",") if a),
                                 tuple(r for r in removed.split(",") if r))
            elif kind == "*":  # the sender coalesced too many wake-ups: look at everything
                self._spawn(self.catch_up_all())
        except ValueError:
            log.warning("ignored malformed realtime notification")

    def on_bus_reconnected(self) -> None:
        """Notifications may have been lost while the listener was down: catch up on all."""
        if not self._started:
            return
        self._spawn(self.catch_up_all())
        self._spawn(self.revalidate_all())
        for space_id in list(self._feeds):
            self._access(None, None, space_id)

    # --- wake-ups ---------------------------------------------------------------------------
    def _wake_space(self, space_id: str, seq: int) -> None:
        feed = self._feeds.get(space_id)
        if feed is not None and seq > feed.target:
            feed.target = seq
            feed.wake.set()
        waiters = self._waiters.get(space_id)
        if waiters:
            for after, future in waiters:
                if seq > after and not future.done():
                    future.set_result(None)

    async def catch_up_all(self) -> None:
        """Compare every followed space's head with our cursor (a lost wake-up loses nothing)."""
        wanted = set(self._feeds) | set(self._waiters)
        if not wanted:
            return
        for space_id, head in (await self.source.heads(sorted(wanted))).items():
            self._wake_space(space_id, head)

    # --- connection caps ----------------------------------------------------------------------
    def has_room(self, user_id: str) -> bool:
        """May this user open one more live connection (websocket, SSE or long-poll)?"""
        open_ = len(self._by_user.get(user_id, ())) + self._polls.get(user_id, 0)
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

    # --- connections ------------------------------------------------------------------------
    def connect(self, sender: Sender, principal: Principal, expires_at: float | None
                ) -> Connection:
        conn = Connection(sender, self._intern(principal), expires_at, self.limits,
                          self._detach)
        self.connections.add(conn)
        self._by_user.setdefault(principal.user_id, set()).add(conn)
        return conn

    def _intern(self, principal: Principal) -> Principal:
        """One object per distinct principal value (fan-out caches views by identity)."""
        if len(self._principals) > 50_000:
            self._principals.clear()
        return self._principals.setdefault(principal, principal)

    def _detach(self, conn: Connection) -> None:
        self.connections.discard(conn)
        users = self._by_user.get(conn.user_id)
        if users is not None:
            users.discard(conn)
            if not users:
                del self._by_user[conn.user_id]
        for sub in list(conn.subscriptions.values()):
            self._remove(sub)

    def _remove(self, sub: Subscription) -> None:
        conn = sub.connection
        if conn.subscriptions.get(sub.space_id) is sub:
            del conn.subscriptions[sub.space_id]
        sub.epoch += 1
        sub.live = False
        feed = self._feeds.get(sub.space_id)
        if feed is None or feed.subscribers.get(conn) is not sub:
            return
        del feed.subscribers[conn]
        if not feed.subscribers:
            del self._feeds[sub.space_id]
            if feed.task is not None:
                feed.task.cancel()

    async def _feed(self, space: Space) -> Feed | None:
        """The space's feed, opened for a space already loaded and decided readable."""
        space_id = space.id
        feed = self._feeds.get(space_id)
        if feed is not None:
            return feed
        pending = self._opening.get(space_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Feed | None] = asyncio.get_running_loop().create_future()
        self._opening[space_id] = future
        try:
            head = (await self.source.heads([space_id])).get(space_id, space.last_seq)
            feed = Feed(space, head)
            self._feeds[space_id] = feed
            feed.task = asyncio.get_running_loop().create_task(self._pump(feed))
            future.set_result(feed)
            return feed
        except BaseException:
            if not future.done():
                future.set_result(None)
            raise
        finally:
            del self._opening[space_id]

    async def subscribe(self, conn: Connection, space_id: str, after: int | None) -> None:
        """Send `subscribed`, then every readable event after `after`, then live events."""
        if conn.closed:
            return
        if space_id not in conn.subscriptions and \
                len(conn.subscriptions) >= self.limits.max_subscriptions:
            conn.push(control("error", code="too_many_subscriptions",
                              message="too many subscriptions on one connection"))
            return
        # Invisible means invisible: decide on a fresh read of the space before anything is
        # allocated, so a missing space and a forbidden one (followed or not) answer alike,
        # at the same cost (one read), and a refused probe leaves no feed or task behind.
        space = await self.source.space(space_id)
        if conn.closed:
            return
        if space is None or not decide(conn.principal, READ_, space):
            conn.push(control("error", code="not_found", message="no such space",
                              space_id=space_id))
            return
        feed: Feed | None = None
        for _ in range(3):
            feed = await self._feed(space)
            if feed is None or self._feeds.get(space_id) is feed:
                break
        if conn.closed:
            return
        if feed is None or self._feeds.get(space_id) is not feed or \
                not decide(conn.principal, READ_, feed.space):
            conn.push(control("error", code="not_found", message="no such space",
                              space_id=space_id))
            return
        old = conn.subscriptions.get(space_id)
        if old is not None:
            old.epoch += 1
            old.live = False
        feed.generation += 1
        start = feed.cursor if after is None else max(0, after)
        sub = Subscription(conn, space_id, start, feed.generation)
        feed.subscribers[conn] = sub
        conn.subscriptions[space_id] = sub
        conn.push(control("subscribed", space_id=space_id, head=feed.cursor))
        self._catch_up(feed, sub)

    def unsubscribe(self, conn: Connection, space_id: str) -> None:
        sub = conn.subscriptions.get(space_id)
        if sub is not None:
            self._remove(sub)

    def _revoke(self, sub: Subscription) -> None:
        self._remove(sub)
        sub.connection.push(control("revoked", space_id=sub.space_id))

    # --- resume -------------------------------------------------------------------------------
    def _catch_up(self, feed: Feed, sub: Subscription) -> None:
        """Turn live now if nothing is missing; otherwise read the gap from the event table."""
        sub.epoch += 1
        sub.live = False
        if sub.delivered >= feed.cursor and not feed.paused:
            sub.live = True
            return
        self._spawn(self._replay(feed, sub, sub.epoch))

    def _stale(self, feed: Feed, sub: Subscription, epoch: int) -> bool:
        return (sub.epoch != epoch or sub.connection.closed
                or feed.subscribers.get(sub.connection) is not sub
                or self._feeds.get(feed.space_id) is not feed)

    async def _replay(self, feed: Feed, sub: Subscription, epoch: int) -> None:
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
                async with self._replays:
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
                views = [(change, self._view(space, change, principal, {}))
                         for change in changes if change.seq > sub.delivered]
                reads = [read for change, view in views
                         for read in self._read_of(principal, change, view)]
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

    # --- fan-out ------------------------------------------------------------------------------
    def _wanted(self, feed: Feed) -> Wanted:
        principals = list({id(s.connection.principal): s.connection.principal
                           for s in feed.subscribers.values()}.values())  # interned
        space = feed.space

        def wanted(label: ItemLabel) -> bool:
            return any(decide(p, READ_, space, label).allowed for p in principals)

        return wanted

    async def _pump(self, feed: Feed) -> None:
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
                if self._feeds.get(feed.space_id) is not feed:
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
                        if self._feeds.get(feed.space_id) is not feed:
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
        if isinstance(change.item, Space) and change.kind.startswith("space."):
            feed.space = change.item  # participants may have changed: re-decide everyone
            for sub in list(feed.subscribers.values()):
                if not decide(sub.connection.principal, READ_, feed.space):
                    self._revoke(sub)
        seq = change.seq
        space = feed.space
        # Principals are interned, so connections of one user share a view: the decision and
        # the rendering run once per distinct principal, the bytes once per distinct view.
        views: dict[int, View] = {}
        frames: dict[tuple[bool, ...], Frame | None] = {}
        plan: list[tuple[Subscription, int, Principal, Frame | None]] = []
        reads: dict[str, Read] = {}
        for sub in list(feed.subscribers.values()):
            if not sub.live or seq <= sub.delivered:
                continue
            if sub.joined > generation:
                # Joined while this batch was being read (it was loaded without them in mind):
                # read it from the table instead. Never turn live here — the cursor does not
                # include this change yet.
                self._to_replay(feed, sub)
                continue
            if change.item is None and not withdrawable(change):
                sub.delivered = seq
                continue
            principal = sub.connection.principal
            view = views.get(id(principal))
            if view is None:
                view = views[id(principal)] = self._view(space, change, principal, frames)
                for read in self._read_of(principal, change, view):
                    reads.setdefault(read.user_id, read)
            plan.append((sub, sub.epoch, principal, view.frame))
        if reads:
            await self.source.record_reads(list(reads.values()))
            if feed.paused or feed.space is not space:
                return False
        planned = set()
        for sub, epoch, principal, frame in plan:
            planned.add(sub)
            conn = sub.connection
            if sub.epoch != epoch or not sub.live or conn.closed or \
                    feed.subscribers.get(conn) is not sub or conn.principal is not principal:
                continue  # re-authorised meanwhile: its replay reads this change again
            sub.delivered = seq
            if frame is not None:
                conn.push(frame)
        if reads:  # subscribers that turned live while we waited: let them read it
            for sub in list(feed.subscribers.values()):
                if sub.live and sub not in planned and sub.delivered < seq:
                    self._to_replay(feed, sub)
        return True

    def _to_replay(self, feed: Feed, sub: Subscription) -> None:
        sub.epoch += 1
        sub.live = False
        self._spawn(self._replay(feed, sub, sub.epoch))

    def _view(self, space: Space, change: Change, principal: Principal,
              frames: dict[tuple[bool, ...], Frame | None]) -> View:
        shown = tuple(decide(principal, READ_, space, label).allowed
                      for label in change.labels)
        if withdrawable(change) and (change.item is None or not any(shown)):
            # A change to an entry this reader may not read (any more): only its id, so a
            # screen that shows it removes it at once (docs/realtime.md, entry.withdrawn).
            key = (False,)
            if key not in frames:
                frames[key] = withdrawn_frame(change)
            return View(frames[key], shown, False)
        if shown and not any(shown):
            return View(None, shown, False)
        if change.personal:
            frame = self._frame(change, principal, space, shown)
        elif shown in frames:
            frame = frames[shown]
        else:
            frame = frames[shown] = self._frame(change, principal, space, shown)
        classified = any(ok and label.classification is not Classification.PUBLIC
                         for label, ok in zip(change.labels, shown, strict=True))
        return View(frame, shown, classified)

    def _frame(self, change: Change, principal: Principal, space: Space,
               shown: tuple[bool, ...]) -> Frame | None:
        text = self.render(change, principal, space, shown)
        if text is None:
            return None
        return Frame(text, len(text.encode()), "event", change.space_id, change.seq,
                     change.kind)

    @staticmethod
    def _read_of(principal: Principal, change: Change, view: View) -> list[Read]:
        """The audit read of a classified view (empty for public or invisible ones)."""
        if view.frame is None or not view.classified:
            return []
        levels = [label.classification
                  for label, ok in zip(change.labels, view.shown, strict=True)
                  if ok and label.classification is not Classification.PUBLIC]
        return [Read(principal.user_id, principal.actor_id, change.space_id, change.ref_id,
                     change.kind, Classification.highest(*levels))]

    # --- degraded-link fallbacks -----------------------------------------------------------
    async def backlog(self, principal: Principal, space_id: str, after: int, limit: int
                      ) -> Backlog | None:
        """Readable events after `after` (long-poll); None if the space is invisible."""
        space = await self.source.space(space_id)
        if space is None or not decide(principal, READ_, space):
            return None
        changes = await self.source.changes(space_id, after, limit, may_read(principal, space))
        frames: list[Frame] = []
        reads: list[Read] = []
        for change in changes:
            if change.item is None and not withdrawable(change):
                continue
            view = self._view(space, change, principal, {})
            if view.frame is not None:
                frames.append(view.frame)
                reads.extend(self._read_of(principal, change, view))
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
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (after, future)
        self._waiters.setdefault(space_id, []).append(entry)
        try:
            feed = self._feeds.get(space_id)
            if feed is not None and feed.cursor > after:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, seconds)
        finally:
            waiters = self._waiters.get(space_id, [])
            with contextlib.suppress(ValueError):
                waiters.remove(entry)
            if not waiters:
                self._waiters.pop(space_id, None)

    def followed(self) -> Sequence[str]:
        return list(self._feeds)


def _release(counts: dict[str, int], key: str) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
