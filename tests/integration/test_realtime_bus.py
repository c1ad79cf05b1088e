"""The PostgreSQL wake-up bus between server processes, on a real PostgreSQL: a burst of
wake-ups far past any bound never crowds out an access change (revocations must arrive), and
coalescing never loses a space's wake-up (or, past the bound, becomes a catch-up-all)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from tests.conftest import POSTGRES_URL
from wis_server.realtime.pg_bus import MAX_SPACES, PgBus

pytestmark = pytest.mark.postgres


async def _pair() -> tuple[PgBus, PgBus, list[str], asyncio.Event]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL: WIS_TEST_POSTGRES_URL not set")
    received: list[str] = []
    got = asyncio.Event()

    def on_message(payload: str) -> None:
        received.append(payload)
        got.set()

    sender = PgBus(POSTGRES_URL, lambda _p: None, lambda: None)
    listener = PgBus(POSTGRES_URL, on_message, lambda: None)
    for bus in (sender, listener):
        await bus.start()
        await asyncio.wait_for(bus.connected.wait(), 20)
    return sender, listener, received, got


async def _until(received: list[str], got: asyncio.Event, wanted: set[str]) -> None:
    async def loop() -> None:
        while not wanted <= set(received):
            got.clear()
            await got.wait()
    await asyncio.wait_for(loop(), 30)


async def test_access_changes_survive_a_flood_of_wake_ups() -> None:
    sender, listener, received, got = await _pair()
    try:
        for seq in range(1, 20_001):  # one busy space: coalesced, nothing dropped
            sender.publish(f"s|busy|{seq}")
        for i in range(MAX_SPACES + 50):  # more distinct spaces than the bound
            sender.publish(f"s|space-{i}|1")
        sender.publish("u|revoked-user")
        sender.publish("a|lowered-actor")
        sender.publish("p|narrowed-space")
        await _until(received, got, {"u|revoked-user", "a|lowered-actor", "p|narrowed-space",
                                     "*"})
        # Past the bound the wake-ups became one catch-up-all, which covers every space.
        assert "*" in received
        sender.publish("s|busy|20001")
        await _until(received, got, {"s|busy|20001"})
    finally:
        for bus in (sender, listener):
            await bus.stop()


async def test_coalesced_wake_ups_keep_the_highest_seq_per_space() -> None:
    sender, listener, received, got = await _pair()
    try:
        for seq in range(1, 12_001):
            sender.publish(f"s|a|{seq}")
            sender.publish(f"s|b|{seq // 2}")
        await _until(received, got, {"s|a|12000", "s|b|6000"})
    finally:
        for bus in (sender, listener):
            await bus.stop()


async def test_stop_ends_the_bus_when_the_cancel_lands_on_a_finished_health_check(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """stop() ends the bus whatever it was doing. With `asyncio.wait_for` around the health
    check, Python 3.11 swallowed a cancellation that arrived after the query had finished but
    before wait_for resumed: the bus carried on (a health check every few seconds) and stop()
    waited for ever. That was the teardown hang after the burst sign-in test: its event loop,
    stalled for seconds, resumed with the overdue health check and the app's shutdown at once."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL: WIS_TEST_POSTGRES_URL not set")
    bus = PgBus(POSTGRES_URL, lambda _p: None, lambda: None, health_s=0.05)
    stopping: asyncio.Future[asyncio.Task[None]] = asyncio.get_running_loop().create_future()
    real = asyncpg.Connection.fetchval

    async def health_check_then_shut_down(self: asyncpg.Connection, *args: Any,
                                          **kwargs: Any) -> Any:
        result = await real(self, *args, **kwargs)
        # The query is answered; the shutdown starts now, before the bus resumes.
        if not stopping.done():
            stopping.set_result(asyncio.ensure_future(bus.stop()))
        return result

    monkeypatch.setattr(asyncpg.Connection, "fetchval", health_check_then_shut_down)
    await bus.start()
    stop = await asyncio.wait_for(stopping, 20)
    try:
        await asyncio.wait_for(asyncio.shield(stop), 10)
    finally:
        if bus._task is not None and not bus._task.done():  # the bug: clean up for the others
            bus._task.cancel()
            await asyncio.wait({bus._task}, timeout=10)
            await bus._drop()
    assert bus._task is not None and bus._task.done()
    assert not bus.connected.is_set()
