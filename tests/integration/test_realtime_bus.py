"""The PostgreSQL wake-up bus between server processes, on a real PostgreSQL: a burst of
wake-ups far past any bound never crowds out an access change (revocations must arrive), and
coalescing never loses a space's wake-up (or, past the bound, becomes a catch-up-all)."""

from __future__ import annotations

import asyncio

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
