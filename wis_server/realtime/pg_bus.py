"""Cross-process wake-ups over PostgreSQL LISTEN/NOTIFY on one dedicated asyncpg connection.

A notification carries only ids (`<node>|` + a signal of signals.py: `s|<space>|<seq>`,
`u|<user>`, ...), never content; the event table stays the truth. The connection is
health-checked; when it dies (e.g. `pg_terminate_backend`) it is re-opened with backoff and
the hub is told to catch up on everything, since notifications sent meanwhile are lost.

Nothing is dropped on the way out: access changes (`u|`, `a|`, `p|`, `m|`, rare) are kept in
their own de-duplicated queue without a bound; space wake-ups are coalesced per space (the
highest seq), and past `MAX_SPACES` distinct spaces they collapse into one `*` (catch up on
every followed space). A batch whose NOTIFY fails is queued again for the next connection."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog

from .signals import CATCH_UP_ALL, CatchUpAll, SpaceAdvanced, decode, encode

log = structlog.get_logger("wis.realtime")

CHANNEL = "wis_events"
APPLICATION_NAME = "wis-realtime-listener"
CATCH_UP = encode(CATCH_UP_ALL)
MAX_SPACES = 10_000


def asyncpg_dsn(url: str) -> str:
    """`postgresql+asyncpg://…` (SQLAlchemy style) → `postgresql://…` (asyncpg style)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


class PgBus:
    def __init__(self, dsn: str, on_message: Callable[[str], None],
                 on_reconnected: Callable[[], None], *, health_s: float = 5.0,
                 node_id: str | None = None) -> None:
        self.dsn = asyncpg_dsn(dsn)
        self.on_message = on_message
        self.on_reconnected = on_reconnected
        self.health_s = health_s
        self.node_id = node_id or secrets.token_hex(6)
        self.connected = asyncio.Event()
        self.connects = 0
        self._access: dict[str, None] = {}  # ordered set: access changes, never dropped
        self._spaces: dict[str, int] = {}  # space → highest seq to announce
        self._catch_up = False  # too many spaces at once: one `*` instead
        self._outgoing = asyncio.Event()
        self._lost = asyncio.Event()
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Listen and send until cancelled, re-connecting with backoff (the runtime
        supervises this); the connection is closed on the way out."""
        try:
            await self._run()
        finally:
            await self._drop()

    async def start(self) -> None:
        """Run in a task of its own (for callers without a runtime, e.g. tests)."""
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        task = self._task
        if task is not None:
            # Cancel until it is done: one cancellation can be lost on the way (Python 3.11's
            # `asyncio.wait_for` drops one that arrives just after the awaited call finished,
            # and an awaited library may do the same); waiting for a task that carries on
            # would hang the shutdown for ever. Each round is bounded; the task is ours.
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=1.0)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
        await self._drop()

    def publish(self, payload: str) -> None:
        """Queue a wake-up for the other processes (sent in the background, batched)."""
        signal = decode(payload)
        if isinstance(signal, SpaceAdvanced):
            space_id, number = signal.space_id, signal.seq
            if space_id in self._spaces:
                self._spaces[space_id] = max(self._spaces[space_id], number)
            elif len(self._spaces) < MAX_SPACES:
                self._spaces[space_id] = number
            else:
                self._catch_up = True
        elif isinstance(signal, CatchUpAll):
            self._catch_up = True
        elif signal is not None:
            self._access[payload] = None
        else:
            return
        self._outgoing.set()

    def pending(self) -> list[str]:
        """What the next batch will send (access changes first), without taking it."""
        spaces = [CATCH_UP] if self._catch_up else [
            encode(SpaceAdvanced(space, seq)) for space, seq in self._spaces.items()]
        return [*self._access, *spaces]

    def _take(self) -> list[str]:
        batch = [f"{self.node_id}|{p}" for p in self.pending()]
        self._access, self._spaces, self._catch_up = {}, {}, False
        return batch

    def _requeue(self, batch: list[str]) -> None:
        for item in batch:
            self.publish(item.partition("|")[2])

    def _received(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        node, _, message = payload.partition("|")
        if node != self.node_id:
            self.on_message(message)

    def _terminated(self, _conn: Any) -> None:
        self._lost.set()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self.connected.clear()
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.terminate()

    async def _run(self) -> None:
        delay = 0.2
        while True:
            try:
                await self._session()
                delay = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("realtime listener connection lost; reconnecting",
                            error=error.__class__.__name__)
            await self._drop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _session(self) -> None:
        self._lost.clear()
        conn = await asyncpg.connect(self.dsn, timeout=10,
                                     server_settings={"application_name": APPLICATION_NAME})
        self._conn = conn
        conn.add_termination_listener(self._terminated)
        await conn.add_listener(CHANNEL, self._received)
        self.connects += 1
        self.connected.set()
        log.info("realtime listener connected", node=self.node_id, connects=self.connects)
        self.on_reconnected()  # catch up on whatever was missed before we listened
        loop = asyncio.get_running_loop()
        next_check = loop.time() + self.health_s
        while True:
            lost = asyncio.ensure_future(self._lost.wait())
            outgoing = asyncio.ensure_future(self._outgoing.wait())
            try:
                await asyncio.wait({lost, outgoing},
                                   timeout=max(0.0, next_check - loop.time()),
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                lost.cancel()
                outgoing.cancel()
            if self._lost.is_set() or conn.is_closed():
                raise ConnectionError("listener connection closed")
            if self._outgoing.is_set():
                self._outgoing.clear()
                batch = self._take()
                if batch:
                    try:
                        # asyncio.timeout, not wait_for: no inner task, so a cancellation
                        # (stop) can never be taken for a finished call and dropped
                        async with asyncio.timeout(10):
                            await conn.execute(
                                "SELECT pg_notify($1, x) FROM unnest($2::text[]) AS x",
                                CHANNEL, batch)
                    except BaseException:
                        self._requeue(batch)  # sent on the next connection, never lost
                        raise
            if loop.time() >= next_check:
                async with asyncio.timeout(self.health_s):
                    await conn.fetchval("SELECT 1")
                next_check = loop.time() + self.health_s
