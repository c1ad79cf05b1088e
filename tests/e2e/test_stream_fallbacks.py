"""Degraded-link fallbacks through a real server: long-poll (`events?after=&wait=`) and
Server-Sent Events (`events/stream` with Last-Event-ID) — same order, same rules, gzip that
never holds an event back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LiveServer, start_server, stop_server
from tests.e2e.stream_client import WAIT, actor_ids, auth, exercise_space, login, post_entry


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("stream-fallbacks"))
    yield live
    stop_server(live)


async def test_long_poll_pages_in_order_and_waits_for_the_next_event(
        server: LiveServer) -> None:
    token = await login(server, "tib.lst")
    space_id = await exercise_space(server, token)
    url = f"/api/v1/spaces/{space_id}/events"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        start = (await http.get(url, params={"after": 0}, headers=auth(token))).json()["head"]
        for i in range(7):
            await post_entry(http, token, space_id, f"poll-{i}")
        seen: list[dict[str, Any]] = []
        after = start
        while True:
            r = await http.get(url, params={"after": after, "limit": 3}, headers=auth(token))
            assert r.status_code == 200, r.text
            doc = r.json()
            seen += doc["items"]
            if doc["next_after"] == after:
                break
            after = doc["next_after"]
        assert [f["data"]["body"] for f in seen] == [f"poll-{i}" for i in range(7)]
        assert [f["seq"] for f in seen] == sorted({f["seq"] for f in seen})
        assert all(f["type"] == "event" and f["event"] == "entry.created" for f in seen)

        waiting = asyncio.create_task(http.get(url, params={"after": after, "wait": 30},
                                               headers=auth(token)))
        await asyncio.sleep(0.5)
        assert not waiting.done()  # nothing new yet: the request is held open
        await post_entry(http, token, space_id, "poll-live")
        doc = (await asyncio.wait_for(waiting, WAIT)).json()
        assert [f["data"]["body"] for f in doc["items"]] == ["poll-live"]

        r = await http.get(url, params={"after": 0, "limit": 50},
                           headers={**auth(token), "Accept-Encoding": "gzip"})
        assert r.headers.get("content-encoding") == "gzip"
        assert len(r.json()["items"]) > 7


async def test_long_poll_applies_the_access_rules(server: LiveServer) -> None:
    lst = await login(server, "tib.lst")
    nacka = await login(server, "lasare.nacka")
    space_id = await exercise_space(server, lst)
    actors = await actor_ids(server, lst)
    url = f"/api/v1/spaces/{space_id}/events"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        head = (await http.get(url, headers=auth(nacka))).json()["head"]
        await post_entry(http, lst, space_id, "poll-secret", "sekretess", [actors["LST"]])
        await post_entry(http, lst, space_id, "poll-public")
        doc = (await http.get(url, params={"after": head, "wait": 10},
                              headers=auth(nacka))).json()
        assert [f["data"]["body"] for f in doc["items"]] == ["poll-public"]
        # An invisible event alone: the poll keeps waiting (nothing is revealed), then
        # answers empty with next_after past it.
        await post_entry(http, lst, space_id, "poll-secret-2", "sekretess", [actors["LST"]])
        doc = (await http.get(url, params={"after": doc["next_after"], "wait": 1},
                              headers=auth(nacka))).json()
        assert doc["items"] == []
        unknown = await http.get("/api/v1/spaces/00000000-0000-0000-0000-000000000000/events",
                                 headers=auth(nacka))
        assert unknown.status_code == 404
        assert (await http.get(url)).status_code == 401


async def _sse_events(lines: AsyncIterator[str], until_body: str,
                      into: list[dict[str, Any]]) -> None:
    event: dict[str, Any] = {}
    async for line in lines:
        if line.startswith("id: "):
            event["id"] = int(line[4:])
        elif line.startswith("event: "):
            event["event"] = line[7:]
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])
        elif line == "" and event:
            into.append(event)
            data = event.get("data", {})
            event = {}
            if data.get("type") == "event" and data["data"].get("body") == until_body:
                return


async def test_sse_resumes_from_last_event_id_and_streams_live_through_gzip(
        server: LiveServer) -> None:
    token = await login(server, "tib.rs")
    writer = await login(server, "tib.lst")
    space_id = await exercise_space(server, writer)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        for i in range(4):
            await post_entry(http, writer, space_id, f"sse-old-{i}")
        r = await http.get(f"/api/v1/spaces/{space_id}/entries",
                           params={"order": "desc", "limit": 4}, headers=auth(token))
        oldest = min(e["seq"] for e in r.json()["items"])
        events: list[dict[str, Any]] = []
        headers = {**auth(token), "Last-Event-ID": str(oldest), "Accept-Encoding": "gzip"}
        async with http.stream("GET", f"/api/v1/spaces/{space_id}/events/stream",
                               headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers.get("content-encoding") == "gzip"
            lines = response.aiter_lines()
            await asyncio.wait_for(_sse_events(lines, "sse-old-3", events), WAIT)
            # Live: this event can only arrive if gzip flushes per event.
            await post_entry(http, writer, space_id, "sse-live")
            await asyncio.wait_for(_sse_events(lines, "sse-live", events), WAIT)
    data = [e["data"] for e in events if "id" in e]
    assert [d["data"]["body"] for d in data] == [f"sse-old-{i}" for i in (1, 2, 3)] + \
        ["sse-live"]
    assert [e["id"] for e in events if "id" in e] == [d["seq"] for d in data]
    assert [d["seq"] for d in data] == sorted(d["seq"] for d in data)
    assert events[0]["event"] == "subscribed"


async def test_sse_is_refused_for_an_invisible_space(server: LiveServer) -> None:
    token = await login(server, "tib.lst")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.get("/api/v1/spaces/00000000-0000-0000-0000-000000000000/events/stream",
                           headers=auth(token))
        assert r.status_code == 404
        space_id = await exercise_space(server, token)
        r = await http.get(f"/api/v1/spaces/{space_id}/events/stream")
        assert r.status_code == 401
