"""The hub: a thin facade that composes the real-time parts (see the package docstring) and
implements the services' EventPublisher port (`space_changed`, `access_changed`,
`membership_changed`). Every frame passes `classification.policy.decide` for its recipient."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import structlog

from ..classification.policy import Action, decide
from ..domain.codes import Code
from ..domain.model import Principal
from . import signals
from .connection import CLOSE_GOING_AWAY, Connection, Limits, control
from .fanout import Fanout
from .longpoll import Backlog, LongPoll
from .membership import MembershipNotices
from .ports import EventSource, Frame, Render, Sender
from .reauthorisation import Reauthorisation
from .registry import Registry
from .replay import Replay
from .tasks import TaskSet
from .views import Views

log = structlog.get_logger("wis.realtime")

Loop = Callable[[], Awaitable[None]]


class Hub:
    def __init__(self, source: EventSource, render: Render, *, limits: Limits | None = None,
                 poll_s: float = 5.0, revalidate_s: float = 60.0, batch: int = 200) -> None:
        self.source = source
        self.limits = limits or Limits()
        self.poll_s = poll_s
        self.revalidate_s = revalidate_s
        self.registry = Registry(self.limits)
        self.tasks = TaskSet()
        views = Views(render)
        self.replay = Replay(source, self.registry, views, self.tasks, batch=batch)
        self.fanout = Fanout(source, self.registry, views, self.replay, batch=batch)
        self.long_polls = LongPoll(source, self.registry, views)
        self.reauthorisation = Reauthorisation(source, self.registry, self.replay, self.tasks)
        self.membership = MembershipNotices(source, self.registry, self.tasks)
        self.cross_process: Callable[[str], None] | None = None
        """Where signals for the other server processes go (PgBus.publish), if anywhere."""
        # A reconnect storm (5,000 clients after a restart) must not starve REST requests of
        # database connections: sign-ins take turns (replays too, in Replay).
        self.admission = asyncio.Semaphore(8)
        self._started = False

    @property
    def connections(self) -> set[Connection]:
        return self.registry.connections

    @property
    def reauthorisations(self) -> int:
        """Connections re-decided so far."""
        return self.reauthorisation.count

    # --- lifecycle ------------------------------------------------------------------------
    def background_loops(self) -> dict[str, Loop]:
        """The hub's forever-loops, named, for the runtime to supervise (bootstrap.py): the
        head poll that covers lost wake-ups and the re-validation of every connected user.
        The hub starts no loop of its own."""
        return {"realtime.catch_up": self._catch_up_forever,
                "realtime.revalidate": self._revalidate_forever}

    # A failure ends these loops on purpose: the runtime's Supervisor logs it, counts it and
    # starts the loop again with backoff (a swallowed failure would be invisible).
    async def _catch_up_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            await self.catch_up_all()

    async def _revalidate_forever(self) -> None:
        while True:
            await asyncio.sleep(self.revalidate_s)
            await self.revalidate_all()

    async def start(self) -> None:
        """Go live: bus reconnects now trigger a catch-up."""
        self._started = True

    async def stop(self) -> None:
        closing = list(self.connections)
        for conn in closing:
            conn.close_soon(CLOSE_GOING_AWAY, "server shutting down")
        if closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(
                    *(c.finished() for c in closing), return_exceptions=True), 15)
        feeds = self.registry.feeds
        await self.tasks.cancel([f.task for f in feeds.values() if f.task is not None])
        feeds.clear()

    # --- EventPublisher port (called by services after commit) ---------------------------
    def space_changed(self, space_id: str, seq: int) -> None:
        self._wake_space(space_id, seq)
        self._announce(signals.SpaceAdvanced(space_id, seq))

    def access_changed(self, *, user_id: str | None = None, actor_id: str | None = None,
                       space_id: str | None = None) -> None:
        self.reauthorisation.access_changed(user_id, actor_id, space_id)
        if user_id:
            self._announce(signals.UserChanged(user_id))
        if actor_id:
            self._announce(signals.ActorChanged(actor_id))
        if space_id:
            self._announce(signals.SpaceAccessChanged(space_id))

    def membership_changed(self, space_id: str, added: Sequence[str],
                           removed: Sequence[str]) -> None:
        self.membership.changed(space_id, added, removed)
        self._announce(signals.MembershipChanged(space_id, tuple(added), tuple(removed)))

    def _announce(self, signal: signals.Signal) -> None:
        if self.cross_process is not None:
            try:
                text = signals.encode(signal)
            except ValueError:
                log.warning("an id the signal format cannot carry; not announced")
                return
            self.cross_process(text)

    # --- signals from other processes ---------------------------------------------------------
    def on_remote(self, payload: str) -> None:
        """A wake-up from another process (the format: signals.py)."""
        signal = signals.decode(payload)
        match signal:
            case signals.SpaceAdvanced(space_id, seq):
                self._wake_space(space_id, seq)
            case signals.UserChanged(user_id):
                self.reauthorisation.access_changed(user_id, None, None)
            case signals.ActorChanged(actor_id):
                self.reauthorisation.access_changed(None, actor_id, None)
            case signals.SpaceAccessChanged(space_id):
                self.reauthorisation.access_changed(None, None, space_id)
            case signals.MembershipChanged(space_id, added, removed):
                self.membership.changed(space_id, added, removed)
            case signals.CatchUpAll():
                self.tasks.spawn(self.catch_up_all())
            case None:
                log.warning("ignored malformed realtime notification")

    def on_bus_reconnected(self) -> None:
        """Notifications may have been lost while the listener was down: catch up on all."""
        if not self._started:
            return
        self.tasks.spawn(self.catch_up_all())
        self.tasks.spawn(self.revalidate_all())
        for space_id in list(self.registry.feeds):
            self.reauthorisation.access_changed(None, None, space_id)

    # --- wake-ups -----------------------------------------------------------------------------
    def _wake_space(self, space_id: str, seq: int) -> None:
        self.fanout.wake(space_id, seq)
        self.long_polls.wake(space_id, seq)

    async def catch_up_all(self) -> None:
        """Compare every followed space's head with our cursor (a lost wake-up loses nothing)."""
        wanted = set(self.registry.feeds) | self.long_polls.spaces()
        if not wanted:
            return
        for space_id, head in (await self.source.heads(sorted(wanted))).items():
            self._wake_space(space_id, head)

    async def revalidate_all(self) -> None:
        await self.reauthorisation.revalidate_all()

    # --- connections and subscriptions ----------------------------------------------------------
    def has_room(self, user_id: str) -> bool:
        return self.registry.has_room(user_id)

    def long_poll(self, user_id: str) -> contextlib.AbstractContextManager[bool]:
        return self.registry.long_poll(user_id)

    def unauthenticated(self, address: str) -> contextlib.AbstractContextManager[bool]:
        return self.registry.unauthenticated(address)

    def connect(self, sender: Sender, principal: Principal, expires_at: float | None
                ) -> Connection:
        return self.registry.connect(sender, principal, expires_at)

    async def subscribe(self, conn: Connection, space_id: str, after: int | None) -> None:
        """Send `subscribed`, then every readable event after `after`, then live events."""
        if conn.closed:
            return
        if space_id not in conn.subscriptions and \
                len(conn.subscriptions) >= self.limits.max_subscriptions:
            conn.push(control("error", code=Code.TOO_MANY_SUBSCRIPTIONS,
                              message="too many subscriptions on one connection"))
            return
        # Invisible means invisible: decide on a fresh read of the space before anything is
        # allocated, so a missing space and a forbidden one (followed or not) answer alike,
        # at the same cost (one read), and a refused probe leaves no feed or task behind.
        space = await self.source.space(space_id)
        if conn.closed:
            return
        if space is None or not decide(conn.principal, Action.READ, space):
            conn.push(_not_found(space_id))
            return

        async def head() -> int:
            return (await self.source.heads([space_id])).get(space_id, space.last_seq)

        registry = self.registry
        feed = None
        for _ in range(3):
            feed = await registry.open_feed(space, head, self.fanout.pump)
            if feed is None or registry.current(feed):
                break
        if conn.closed:
            return
        if feed is None or not registry.current(feed) or \
                not decide(conn.principal, Action.READ, feed.space):
            conn.push(_not_found(space_id))
            return
        sub = registry.follow(conn, feed, after)
        conn.push(control("subscribed", space_id=space_id, head=feed.cursor))
        self.replay.catch_up(feed, sub)

    def unsubscribe(self, conn: Connection, space_id: str) -> None:
        sub = conn.subscriptions.get(space_id)
        if sub is not None:
            self.registry.remove(sub)

    def followed(self) -> Sequence[str]:
        return list(self.registry.feeds)

    # --- degraded-link fallbacks -----------------------------------------------------------
    async def backlog(self, principal: Principal, space_id: str, after: int, limit: int
                      ) -> Backlog | None:
        """Readable events after `after` (long-poll); None if the space is invisible."""
        return await self.long_polls.backlog(principal, space_id, after, limit)

    async def wait(self, space_id: str, after: int, seconds: float) -> None:
        """Return when the space has (or may have) an event after `after`, or on timeout."""
        await self.long_polls.wait(space_id, after, seconds)


def _not_found(space_id: str) -> Frame:
    return control("error", code=Code.NOT_FOUND, message="no such space", space_id=space_id)
