"""Websocket stream through a real `wis serve` process: replay after a seq, the hand-over to
live delivery while writes continue, and resume after a disconnect — never a gap or a
duplicate, always in seq order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import LiveServer, start_server, stop_server
from tests.e2e.stream_client import (
    StreamClient,
    auth,
    exercise_space,
    login,
    post_entry,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("stream-resume"))
    yield live
    stop_server(live)


async def _visible_entry_seqs(server: LiveServer, token: str, space_id: str) -> list[int]:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        r = await client.get(f"/api/v1/spaces/{space_id}/entries",
                             params={"after": 0, "limit": 500}, headers=auth(token))
    return [e["seq"] for e in r.json()["items"]]


def _assert_ordered_unique(seqs: list[int]) -> None:
    assert seqs == sorted(seqs), "events out of seq order"
    assert len(seqs) == len(set(seqs)), "duplicate event"


async def test_replay_then_live_with_concurrent_writes_has_no_gap_or_duplicate(
        server: LiveServer) -> None:
    writer = await login(server, "tib.lst")
    reader = await login(server, "tib.sthlm")
    space_id = await exercise_space(server, writer)
    n = 60

    async def write() -> None:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            for i in range(n):
                await post_entry(client, writer, space_id, f"handover-{i}")
                if i % 7 == 0:
                    await asyncio.sleep(0.01)

    writing = asyncio.create_task(write())
    clients = []
    # Subscribers join from the very start (full replay) and at different moments mid-stream.
    for delay in (0.0, 0.05, 0.2, 0.5):
        await asyncio.sleep(delay)
        c = await StreamClient.open(server, reader)
        await c.subscribe(space_id, 0)
        clients.append(c)
    await writing
    for c in clients:
        await c.until_body(f"handover-{n - 1}")
    expected = await _visible_entry_seqs(server, reader, space_id)
    for c in clients:
        seqs = [f["seq"] for f in c.events(space_id)]
        _assert_ordered_unique(seqs)
        got_entries = [f["seq"] for f in c.events(space_id) if f["event"] == "entry.created"]
        assert got_entries == expected
        assert [b for b in c.bodies() if b.startswith("handover-")] == \
            [f"handover-{i}" for i in range(n)]
        await c.close()


async def test_resume_after_disconnect_delivers_exactly_what_was_missed(
        server: LiveServer) -> None:
    writer = await login(server, "tib.lst")
    reader = await login(server, "tib.rs")
    space_id = await exercise_space(server, writer)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        first = await StreamClient.open(server, reader)
        await first.subscribe(space_id, None)  # from now on
        for i in range(5):
            await post_entry(http, writer, space_id, f"before-{i}")
        await first.until_body("before-4")
        last_seen = first.events(space_id)[-1]["seq"]
        await first.close()
        # Offline for a while: writes continue.
        for i in range(8):
            await post_entry(http, writer, space_id, f"missed-{i}")
        second = await StreamClient.open(server, reader)
        await second.subscribe(space_id, last_seen)
        writing = asyncio.create_task(_write_some(http, writer, space_id, "after", 5))
        await writing
        await second.until_body("after-4")
    seqs = [f["seq"] for f in second.events(space_id)]
    _assert_ordered_unique(seqs)
    assert min(seqs) > last_seen
    assert second.bodies() == [f"missed-{i}" for i in range(8)] + [f"after-{i}"
                                                                    for i in range(5)]
    await second.close()


async def _write_some(http: httpx.AsyncClient, token: str, space_id: str, prefix: str,
                      n: int) -> None:
    for i in range(n):
        await post_entry(http, token, space_id, f"{prefix}-{i}")


async def test_ping_unsubscribe_and_unknown_space(server: LiveServer) -> None:
    token = await login(server, "tib.lst")
    space_id = await exercise_space(server, token)
    c = await StreamClient.open(server, token)
    await c.send({"type": "ping"})
    assert await c.next() == {"type": "pong"}
    await c.send({"type": "subscribe", "space_id": "00000000-0000-0000-0000-000000000000",
                  "after": None})
    error = await c.next()
    assert error["type"] == "error" and error["code"] == "not_found"
    await c.subscribe(space_id, None)
    await c.send({"type": "unsubscribe", "space_id": space_id})
    await c.send({"type": "ping"})
    await c.until(lambda f: f["type"] == "pong")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_entry(http, token, space_id, "after-unsubscribe")
    await c.send({"type": "ping"})
    await c.until(lambda f: f["type"] == "pong")
    await asyncio.sleep(0.3)
    await c.send({"type": "ping"})
    await c.until(lambda f: f["type"] == "pong")
    assert "after-unsubscribe" not in c.bodies()
    await c.close()


def test_server_log_has_no_errors(server: LiveServer) -> None:
    log = Path(server.data_dir / "server.log").read_text()
    assert "Traceback" not in log, log[-3000:]
