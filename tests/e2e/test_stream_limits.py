"""Connection-level rules of the stream, through a real server process: the auth handshake
(first frame, 10 s, 4001), token expiry on an open socket (4009) and resuming after it, the
Origin check, and a slow consumer closed with 4008 while the others keep receiving."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.e2e.conftest import LiveServer, start_server, stop_server
from tests.e2e.stream_client import StreamClient, auth, exercise_space, login, post_entry
from wis_server.api.tokens import TokenService
from wis_server.classification.keys import load_keyring_file


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("stream-limits"), {
        "WIS_STREAM_QUEUE_MESSAGES": "40", "WIS_STREAM_QUEUE_BYTES": "131072"})
    yield live
    stop_server(live)


async def _me(server: LiveServer, token: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        return dict((await client.get("/api/v1/me", headers=auth(token))).json())


def _short_token(server: LiveServer, user_id: str, actor_id: str, ttl_s: int,
                 issued: datetime | None = None) -> str:
    keyring = load_keyring_file(server.data_dir / "keyring.json")
    tokens = TokenService(keyring, issuer="wis-server", audience="wis-api", ttl_s=ttl_s)
    return tokens.issue(user_id, actor_id, issued or datetime.now(UTC))


async def test_auth_must_come_first_and_be_valid(server: LiveServer) -> None:
    silent = await StreamClient.open(server, None)
    assert await silent.closed_with(within=30) == 4001  # nothing sent within 10 s

    wrong = await StreamClient.open(server, None)
    await wrong.send({"type": "subscribe", "space_id": "x", "after": None})
    assert await wrong.closed_with() == 4001

    forged = await StreamClient.open(server, None)
    await forged.send({"type": "auth", "token": "eyJhbGciOiJub25lIn0.e30."})
    assert await forged.closed_with() == 4001

    me = await _me(server, await login(server, "tib.lst"))
    stale = _short_token(server, me["id"], me["actor_id"], 60,
                         datetime.now(UTC) - timedelta(minutes=10))
    expired = await StreamClient.open(server, None)
    await expired.send({"type": "auth", "token": stale})
    assert await expired.closed_with() == 4009


async def test_token_expiry_closes_4009_and_the_client_resumes(server: LiveServer) -> None:
    token = await login(server, "tib.lst")
    me = await _me(server, token)
    space_id = await exercise_space(server, token)
    short = _short_token(server, me["id"], me["actor_id"], ttl_s=3)
    c = await StreamClient.open(server, short)
    await c.subscribe(space_id, None)
    assert await c.closed_with() == 4009
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_entry(http, token, space_id, "while-expired")
    last = max([f["seq"] for f in c.events()], default=0) or None
    again = await StreamClient.open(server, await login(server, "tib.lst"))
    await again.subscribe(space_id, last if last else 0)
    await again.until_body("while-expired")
    await again.close()


async def test_origin_is_checked_at_the_handshake(server: LiveServer) -> None:
    host = urlsplit(server.base_url).netloc
    with pytest.raises(InvalidStatus) as refused:
        await StreamClient.open(server, None, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    same = await StreamClient.open(server, await login(server, "tib.lst"),
                                   origin=f"http://{host}")
    await same.close()


async def test_slow_consumer_is_closed_4008_and_others_keep_receiving(
        server: LiveServer) -> None:
    token = await login(server, "tib.lst")
    space_id = await exercise_space(server, token)
    fast = await StreamClient.open(server, token)
    await fast.subscribe(space_id, None)
    # A client that stops reading: tiny receive buffer, library queue of one message.
    host, port = urlsplit(server.base_url).netloc.split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    slow = await StreamClient.open(server, token, sock=sock, max_queue=1)
    await slow.subscribe(space_id, None)
    body = "x" * 40_000  # well past what kernel buffers absorb
    n = 80
    reading = asyncio.create_task(fast.until_body(f"{body}-{n - 1}", within=120))
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for i in range(n):
            await post_entry(http, token, space_id, f"{body}-{i}")
    await reading  # the reader that keeps up gets everything
    assert len([b for b in fast.bodies() if b.startswith(body)]) == n
    assert await slow.closed_with(within=30) == 4008
    got = [b for b in slow.bodies() if b.startswith(body)]
    assert len(got) < n
    # The fast one is still connected and served.
    await fast.send({"type": "ping"})
    await fast.until(lambda f: f["type"] == "pong")
    await fast.close()
    await asyncio.sleep(0)


async def test_binary_first_frame_closes_1003_and_deep_message_errors_then_closes(
        server: LiveServer) -> None:
    binary = await StreamClient.open(server, None)
    await binary.ws.send(b'{"type":"auth"}')
    assert await binary.closed_with() == 1003

    deep_first = await StreamClient.open(server, None)
    await deep_first.ws.send("[" * 2000 + "]" * 2000)
    assert await deep_first.closed_with() == 4001

    deep = await StreamClient.open(server, await login(server, "tib.lst"))
    await deep.ws.send("[" * 2000 + "]" * 2000)  # under the 4 KiB limit, too deep
    assert await deep.closed_with() == 1007
    assert deep.frames == [{"type": "ready"}, {"type": "error", "code": "bad_message",
                                               "message": "message nested too deeply"}]
