"""A classified item pushed over the stream is on the audit trail (committed) before it leaves
the server: kill -9 the process the moment a reader has it, and the record is there — on the
websocket, on Server-Sent Events and on long-poll alike."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LiveServer, start_server, stop_server
from tests.e2e.stream_client import (
    WAIT,
    StreamClient,
    actor_ids,
    auth,
    exercise_space,
    login,
    post_entry,
)


def _stream_reads(data_dir: Path, entry_id: str) -> list[tuple[str, dict[str, Any]]]:
    db = sqlite3.connect(data_dir / "wis.db")
    try:
        rows = db.execute("SELECT user_id, detail FROM audit_log WHERE action = 'entry.read'"
                          ).fetchall()
    finally:
        db.close()
    found = []
    for user_id, detail in rows:
        doc = json.loads(detail) if isinstance(detail, str) else detail
        if entry_id in doc.get("items", ()) and doc.get("via") == "stream":
            found.append((user_id, doc))
    return found


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    live = start_server(tmp_path)
    yield live
    stop_server(live)


async def _me(server: LiveServer, token: str) -> str:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        return str((await http.get("/api/v1/me", headers=auth(token))).json()["id"])


async def _websocket(server: LiveServer, token: str, space_id: str,
                     post: Callable[[], Awaitable[str]]) -> str:
    client = await StreamClient.open(server, token)
    await client.subscribe(space_id, None)
    body = await post()
    await client.until_body(body)
    server.process.send_signal(signal.SIGKILL)  # at once, before any periodic flush
    return body


async def _sse(server: LiveServer, token: str, space_id: str,
               post: Callable[[], Awaitable[str]]) -> str:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=WAIT) as http, \
            http.stream("GET", f"/api/v1/spaces/{space_id}/events/stream",
                        headers=auth(token)) as response:
        lines = response.aiter_lines()
        async for line in lines:
            if line.startswith("event: subscribed"):
                break
        body = await post()
        async for line in lines:
            if line.startswith("data: ") and body in line:
                server.process.send_signal(signal.SIGKILL)
                return body
    raise AssertionError("not delivered")


async def _long_poll(server: LiveServer, token: str, space_id: str,
                     post: Callable[[], Awaitable[str]]) -> str:
    url = f"/api/v1/spaces/{space_id}/events"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=WAIT * 3) as http:
        head = (await http.get(url, params={"after": 0}, headers=auth(token))).json()["head"]
        waiting = asyncio.create_task(http.get(url, params={"after": head, "wait": 50},
                                               headers=auth(token)))
        body = await post()
        doc = (await waiting).json()
        assert body in json.dumps(doc, ensure_ascii=False)
        server.process.send_signal(signal.SIGKILL)
        return body


@pytest.mark.parametrize("transport", [_websocket, _sse, _long_poll],
                         ids=["websocket", "sse", "long_poll"])
async def test_pushed_classified_item_is_audited_before_it_leaves(
        server: LiveServer, transport: Any) -> None:
    lst = await login(server, "tib.lst")
    reader = await login(server, "tib.sthlm")
    reader_id = await _me(server, reader)
    space_id = await exercise_space(server, lst)
    actors = await actor_ids(server, lst)
    posted: dict[str, str] = {}

    async def post() -> str:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            entry = await post_entry(http, lst, space_id, "sek-kill-9", "sekretess",
                                     [actors["LST"], actors["STHLM"]])
        posted["id"] = entry["id"]
        return "sek-kill-9"

    await transport(server, reader, space_id, post)
    server.process.wait(timeout=20)
    reads = _stream_reads(server.data_dir, posted["id"])
    assert [user for user, _ in reads] == [reader_id], reads
    assert reads[0][1]["levels"] == ["sekretess"]
