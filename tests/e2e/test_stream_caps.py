"""Caps on live connections through a real server: per user across websocket, SSE and
long-poll (close 4029 / 429 too_many_connections), and per address before authentication."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import LiveServer, start_server, stop_server
from tests.e2e.stream_client import WAIT, StreamClient, auth, exercise_space, login


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("stream-caps"), {
        "WIS_STREAM_MAX_PER_USER": "3", "WIS_STREAM_MAX_PER_ADDRESS": "4"})
    yield live
    stop_server(live)


async def test_each_user_has_a_cap_across_websocket_sse_and_long_poll(
        server: LiveServer) -> None:
    token = await login(server, "tib.lst")
    space_id = await exercise_space(server, token)
    first = await StreamClient.open(server, token)
    second = await StreamClient.open(server, token)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=WAIT) as http, \
            http.stream("GET", f"/api/v1/spaces/{space_id}/events/stream",
                        headers=auth(token)) as sse:
        assert sse.status_code == 200
        lines = sse.aiter_lines()  # kept: a discarded iterator would close the stream
        async for line in lines:
            if line.startswith("event: subscribed"):
                break
        over = await StreamClient.open(server, None)
        await over.send({"type": "auth", "token": token})
        assert await over.closed_with() == 4029, over.frames
        r = await http.get(f"/api/v1/spaces/{space_id}/events/stream", headers=auth(token))
        assert r.status_code == 429 and r.json()["code"] == "too_many_connections", r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        r = await http.get(f"/api/v1/spaces/{space_id}/events",
                           params={"after": 0, "wait": 5}, headers=auth(token))
        assert r.status_code == 429 and r.json()["code"] == "too_many_connections", r.text
        other = await StreamClient.open(server, await login(server, "tib.sthlm"))  # unaffected
        await other.close()
    await first.close()  # the SSE stream and one socket are gone: room again

    async def reopen() -> StreamClient:
        while True:
            again = await StreamClient.open(server, None)
            await again.send({"type": "auth", "token": token})
            if await again.next() == {"type": "ready"}:
                return again
            # refused while the server had not yet seen the others go: try again
    again = await asyncio.wait_for(reopen(), WAIT)
    await again.close()
    await second.close()


async def test_unauthenticated_websockets_are_capped_per_address(server: LiveServer) -> None:
    waiting = [await StreamClient.open(server, None) for _ in range(4)]
    extra = await StreamClient.open(server, None)
    assert await extra.closed_with() == 4029
    # Authenticating frees the slot it held.
    await waiting[0].send({"type": "auth", "token": await login(server, "tib.rs")})
    assert await waiting[0].next() == {"type": "ready"}

    async def admitted() -> StreamClient:
        while True:
            candidate = await StreamClient.open(server, None)
            await candidate.send({"type": "ping"})  # not auth: closed 4001 if admitted
            code = await candidate.closed_with()
            if code == 4001:
                return candidate
            assert code == 4029
    await asyncio.wait_for(admitted(), WAIT)
    for c in waiting:
        await c.close()
