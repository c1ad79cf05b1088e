"""Live re-authorisation: when rights change, open subscriptions are held, re-decided with
the principal / space reloaded from storage, and then resumed from where they were (or
revoked, or the socket closed with 4003 for a disabled account, 4001 for an ended session:
sign-out, password reset, disabling and refresh reuse bump the user's session epoch). A reader
whose own rights narrowed while the space stays readable first gets an id-only frame for each
entry / report section they can no longer read."""

from __future__ import annotations

import structlog

from ..classification.policy import Action, decide
from ..domain.model import Principal
from .connection import CLOSE_AUTH_FAILED, CLOSE_FORBIDDEN, Connection
from .feed import Feed
from .ports import EventSource, Part
from .registry import Registry
from .replay import Replay
from .tasks import TaskSet
from .views import lost, may_have_narrowed, narrowing_frame

log = structlog.get_logger("wis.realtime")
READ_ = Action.READ


class Reauthorisation:
    """Works on the registry it is given; resumes through the replay."""

    def __init__(self, source: EventSource, registry: Registry, replay: Replay,
                 tasks: TaskSet) -> None:
        self.source = source
        self.registry = registry
        self.replay = replay
        self.tasks = tasks
        self.count = 0  # connections re-decided (a test counts them)

    def access_changed(self, user_id: str | None, actor_id: str | None,
                       space_id: str | None) -> None:
        conns: list[Connection] = []
        if user_id:
            conns = self.registry.of_user(user_id)
        if actor_id:
            conns = [*conns, *self.registry.of_actors({actor_id})]
        for conn in conns:
            self.reauthorise(conn)
        feed = self.registry.feeds.get(space_id) if space_id else None
        if feed is not None:
            feed.paused += 1
            feed.resumed.clear()
            self.tasks.spawn(self._reload_space(feed))

    def reauthorise(self, conn: Connection) -> None:
        """Hold the connection's deliveries until its principal is reloaded, then re-decide."""
        self.count += 1
        for sub in conn.subscriptions.values():
            sub.epoch += 1
            sub.live = False
        conn.auth_generation += 1
        self.tasks.spawn(self._reload_principal(conn, conn.auth_generation))

    async def _reload_principal(self, conn: Connection, generation: int) -> None:
        try:
            principal = await self.source.principal(conn.user_id)
        except Exception:
            log.exception("reloading a principal failed")
            conn.close_soon(1011, "internal error; reconnect")
            return
        if conn.closed or conn.auth_generation != generation:
            return
        if _ended(conn, principal):
            return
        assert principal is not None
        try:
            withdrawn = await self._withdrawn(conn, principal)
        except Exception:
            log.exception("reading what a narrowed reader lost failed")
            conn.close_soon(1011, "internal error; reconnect")
            return
        if conn.closed or conn.auth_generation != generation:
            return
        self._apply_principal(conn, principal, withdrawn)

    async def _withdrawn(self, conn: Connection, principal: Principal
                         ) -> dict[str, list[Part]]:
        """Per followed space the reader may still read: the parts (entries, current report
        sections) they could read before and cannot now. Read while the subscriptions are
        held, so the id-only frames go out before anything under the new rights."""
        before = conn.principal
        if not may_have_narrowed(before, principal):
            return {}
        withdrawn: dict[str, list[Part]] = {}
        for space_id in list(conn.subscriptions):
            feed = self.registry.feeds.get(space_id)
            if feed is None or not decide(principal, READ_, feed.space):
                continue  # revoked below: the whole space goes
            parts = await self.source.parts(space_id)
            gone = lost(before, principal, feed.space, parts)
            if gone:
                withdrawn[space_id] = gone
        return withdrawn

    def _apply_principal(self, conn: Connection, principal: Principal,
                         withdrawn: dict[str, list[Part]] | None = None) -> None:
        conn.principal = principal = self.registry.intern(principal)
        for sub in list(conn.subscriptions.values()):
            feed = self.registry.feeds.get(sub.space_id)
            if feed is None:
                continue
            if decide(principal, READ_, feed.space):
                for part in (withdrawn or {}).get(sub.space_id, ()):
                    conn.push(narrowing_frame(sub.space_id, part))
                self.replay.catch_up(feed, sub)
            else:
                self.registry.revoke(sub)

    async def _reload_space(self, feed: Feed) -> None:
        try:
            space = await self.source.space(feed.space_id)
        except Exception:
            log.exception("reloading a space failed", space_id=feed.space_id)
            space = feed.space  # keep the old view, but never stay paused
            for sub in list(feed.subscribers.values()):
                sub.connection.close_soon(1011, "internal error; reconnect")
        if space is not None:
            feed.space = space
        for sub in list(feed.subscribers.values()):
            if space is None or not decide(sub.connection.principal, READ_, feed.space):
                self.registry.revoke(sub)
        feed.paused -= 1
        if not feed.paused:
            feed.resumed.set()
            feed.target = max(feed.target, feed.cursor + 1)  # re-read what we held back
            feed.wake.set()

    async def revalidate_all(self) -> None:
        """Reload every connected principal (covers a lost cross-process notification)."""
        users = sorted(self.registry.by_user)
        if not users:
            return
        fresh = await self.source.principals(users)
        for user_id in users:
            principal = fresh.get(user_id)
            for conn in self.registry.of_user(user_id):
                if not _ended(conn, principal) and principal != conn.principal:
                    self.reauthorise(conn)


def _ended(conn: Connection, principal: Principal | None) -> bool:
    """Close the connection if its account is gone or disabled, or its session ended."""
    if principal is None or not principal.active:
        conn.close_soon(CLOSE_FORBIDDEN, "account disabled")
        return True
    if principal.session_epoch != conn.principal.session_epoch:
        conn.close_soon(CLOSE_AUTH_FAILED, "session ended; sign in again")
        return True
    return False
