"""Bytes on the wire per event, for each way a client can receive a space's events.

  ours       `wis serve` (SQLite, fresh data dir, demo data). The demo's eight log entries
             (bodies, kinds, levels, audiences as in services/demo.py; none of them was in the
             sync dictionary's training data) are posted again and again into the exercise
             space by the duty officer (tib.lst); the reader is tib.lst too, so every event is
             readable and every path carries the same events.
  reference  plain JSON of the entries API (`GET /api/v1/spaces/{id}/entries?after=N`, no
             compression) — what a client without any of the real-time paths would fetch.

Every byte between client and server is counted by a TCP relay in this process (requests and
answers, HTTP headers, the websocket handshake and framing, TLS not included), divided by the
events delivered. Two scenarios:

  catch-up   N events missed, fetched at once (one request, or one subscription with `after`)
  live       events one at a time as they happen: each path's way of following (sync and
             long-poll with `wait`, one request per event; the websocket and SSE stay open)

Each line ends in ratio=<ours/reference> (bytes per event; lower is better).

    .venv/bin/python bench/wire.py            # ~30 s
    .venv/bin/python bench/wire.py --events 40 --live 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from fanout import Server, start_ours  # type: ignore[import-not-found]
from websockets.asyncio.client import connect

from wis_server.api.sync_shapes import COMPACT_TYPE, read_records
from wis_server.services.demo import ENTRIES

READER = "tib.lst"


class Relay:
    """A TCP relay that counts the bytes both ways (the wire, as the client's link sees it)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.bytes = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while chunk := await src.read(65536):
                    self.bytes += len(chunk)
                    dst.write(chunk)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))


@dataclass
class Setup:
    base: str          # through the relay
    token: str
    space: str
    audience: dict[str, str]
    dict_id: str
    dictionary: bytes


async def post_entries(http: httpx.AsyncClient, s: Setup, n: int, start: int = 0) -> int:
    """Post n of the demo's entries (cycling); the seq of the last one."""
    seq = 0
    for i in range(start, start + n):
        _, _, kind, level, audience, body = ENTRIES[i % len(ENTRIES)]
        doc: dict[str, object] = {"kind": kind.value, "classification": level.value,
                                  "body": body}
        if audience is not None:
            doc["audience"] = [s.audience[a] for a in audience]
        r = await http.post(f"/api/v1/spaces/{s.space}/entries", json=doc,
                            headers={"Authorization": f"Bearer {s.token}",
                                     "Idempotency-Key": uuid.uuid4().hex})
        r.raise_for_status()
        seq = r.json()["seq"]
    return seq


def auth(s: Setup, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {s.token}", **extra}


# --- the paths: each receives `n` events after `after` through the relay --------------------

async def entries_api(s: Setup, after: int, n: int) -> int:
    async with httpx.AsyncClient(base_url=s.base, headers={"Accept-Encoding": "identity"}) as c:
        r = await c.get(f"/api/v1/spaces/{s.space}/entries", headers=auth(s),
                        params={"after": after, "limit": max(n, 1)})
        return len(r.json()["items"])


async def sync_first_cursor(s: Setup) -> str:
    async with httpx.AsyncClient(base_url=s.base) as c:
        r = await c.get("/api/v1/sync", headers=auth(s), params={"tail": 0, "spaces": s.space})
        return str(r.json()["cursor"])


def _sync_items(r: httpx.Response, s: Setup) -> tuple[int, str]:
    if r.headers["content-type"] == COMPACT_TYPE:
        envelope, *items = (json.loads(t) for t in read_records(r.content, s.dictionary))
    else:
        envelope = r.json()
        items = [i for sp in envelope["spaces"] for i in sp["items"]]
    return sum(1 for i in items if i["event"] == "entry.created"), str(envelope["cursor"])


async def sync_path(s: Setup, cursor: str, n: int, *, compact: bool, wait: int = 0
                    ) -> tuple[int, str]:
    headers = auth(s, **({"Accept": f"{COMPACT_TYPE}; dict={s.dict_id}"} if compact
                         else {"Accept-Encoding": "gzip"}))
    async with httpx.AsyncClient(base_url=s.base, timeout=60) as c:
        r = await c.get("/api/v1/sync", headers=headers,
                        params={"cursor": cursor, "limit": max(n, 1), "wait": wait,
                                "spaces": s.space})
        return _sync_items(r, s)


async def websocket_path(s: Setup, after: int, n: int,
                         during: Callable[[], Awaitable[None]] | None = None) -> int:
    got = 0
    async with connect(f"ws://127.0.0.1:{s.base.rsplit(':', 1)[1]}/api/v1/stream") as ws:
        await ws.send(json.dumps({"type": "auth", "token": s.token}))
        await ws.send(json.dumps({"type": "subscribe", "space_id": s.space, "after": after}))
        task = asyncio.create_task(during()) if during is not None else None
        while got < n:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame.get("type") == "event" and frame.get("event") == "entry.created":
                got += 1
        if task is not None:
            await task
    return got


async def sse_path(s: Setup, after: int, n: int,
                   during: Callable[[], Awaitable[None]] | None = None) -> int:
    got = 0
    async with httpx.AsyncClient(base_url=s.base, timeout=60) as c, c.stream(
            "GET", f"/api/v1/spaces/{s.space}/events/stream",
            headers=auth(s, **{"Accept-Encoding": "gzip", "Last-Event-ID": str(after)})) as r:
        task = asyncio.create_task(during()) if during is not None else None
        buffer = ""
        async for text in r.aiter_text():
            buffer += text
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                if '"event":"entry.created"' in block:
                    got += 1
            if got >= n:
                break
        if task is not None:
            await task
    return got


async def long_poll_path(s: Setup, after: int, n: int, wait: int = 0) -> tuple[int, int]:
    async with httpx.AsyncClient(base_url=s.base, timeout=60) as c:
        r = await c.get(f"/api/v1/spaces/{s.space}/events", headers=auth(
            s, **{"Accept-Encoding": "gzip"}), params={"after": after, "limit": max(n, 1),
                                                       "wait": wait})
        doc = r.json()
        return (sum(1 for i in doc["items"] if i["event"] == "entry.created"),
                int(doc["next_after"]))


# --- scenarios -----------------------------------------------------------------------------

async def measure(relay: Relay, work: Awaitable[int]) -> tuple[int, int]:
    before = relay.bytes
    got = await work
    await asyncio.sleep(0.05)  # the last bytes of a closing connection
    return relay.bytes - before, got


def line(label: str, spent: int, events: int, reference: float) -> str:
    per = spent / events if events else float("nan")
    return f"{label}: {per:,.0f} B/event ({spent:,} B for {events}) | reference " \
           f"{reference:,.0f} B/event | ratio={per / reference:.2f}"


async def catch_up(relay: Relay, http: httpx.AsyncClient, s: Setup, n: int) -> list[str]:
    cursor = await sync_first_cursor(s)
    start = (await http.get(f"/api/v1/spaces/{s.space}", headers=auth(s))).json()["last_seq"]
    await post_entries(http, s, n)
    ref_bytes, ref_n = await measure(relay, entries_api(s, start, n))
    ref = ref_bytes / ref_n
    out = [line(f"catch-up {n} entries API, plain JSON (reference)", ref_bytes, ref_n, ref)]

    async def sync_n(compact: bool) -> int:
        got, _ = await sync_path(s, cursor, n + 5, compact=compact)
        return got

    async def poll_n() -> int:
        got, _ = await long_poll_path(s, start, n + 5)
        return got

    for label, work in (
            ("sync compact (zstd, dictionary)", lambda: sync_n(True)),
            ("sync JSON (gzip per item)", lambda: sync_n(False)),
            ("websocket (uncompressed: no permessage-deflate, by design)",
             lambda: websocket_path(s, start, n)),
            ("SSE (gzip, flushed per event)", lambda: sse_path(s, start, n)),
            ("long-poll events API (gzip per item)", poll_n)):
        spent, got = await measure(relay, work())
        out.append(line(f"catch-up {n} {label}", spent, got, ref))
    return out


async def live(relay: Relay, http: httpx.AsyncClient, s: Setup, n: int) -> list[str]:
    """Events one at a time: each path follows the space while they are posted one by one."""
    out = []

    async def one_by_one(follow: Callable[[int], Awaitable[int]]) -> int:
        """Post one event, let the path fetch it; n times. The posts are not counted."""
        got = 0
        for i in range(n):
            seq = await post_entries(http, s, 1, i)  # directly, not through the relay
            got += await follow(seq)
        return got

    start = (await http.get(f"/api/v1/spaces/{s.space}", headers=auth(s))).json()["last_seq"]
    position = {"entries": start}

    async def ref_follow(seq: int) -> int:
        got = await entries_api(s, position["entries"], 10)
        position["entries"] = seq
        return got

    ref_bytes, ref_n = await measure(relay, one_by_one(ref_follow))
    ref = ref_bytes / ref_n
    out.append(line(f"live {n} entries API poll, plain JSON (reference)", ref_bytes, ref_n,
                    ref))
    for compact in (True, False):
        cursor = {"c": await sync_first_cursor(s)}

        async def sync_follow(seq: int, compact: bool = compact,
                              cursor: dict[str, str] = cursor) -> int:
            got, cursor["c"] = await sync_path(s, cursor["c"], 10, compact=compact, wait=5)
            return got

        spent, got = await measure(relay, one_by_one(sync_follow))
        name = "compact" if compact else "JSON (gzip)"
        out.append(line(f"live {n} sync {name}, a request per event", spent, got, ref))

    async def posts() -> None:
        for i in range(n):
            await post_entries(http, s, 1, i)
            await asyncio.sleep(0.05)

    for label, path in (("websocket, open", websocket_path), ("SSE, open", sse_path)):
        start = (await http.get(f"/api/v1/spaces/{s.space}",
                                headers=auth(s))).json()["last_seq"]
        spent, got = await measure(relay, path(s, start, n, posts))
        out.append(line(f"live {n} {label}", spent, got, ref))
    return out


@contextlib.asynccontextmanager
async def running() -> AsyncIterator[tuple[Server, Relay, Path]]:
    work = Path(tempfile.mkdtemp(prefix="wis-wire-"))
    server = start_ours(work)
    relay = Relay(server.port)
    await relay.start()
    try:
        yield server, relay, work
    finally:
        await relay.stop()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


async def bench(events: int, live_events: int) -> None:
    async with running() as (server, relay, _):
        direct = f"http://127.0.0.1:{server.port}"
        async with httpx.AsyncClient(base_url=direct, timeout=60) as http:
            r = await http.post("/api/v1/auth/token", json={
                "username": READER, "password": server.demo[READER]})
            r.raise_for_status()
            token = r.json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            spaces = (await http.get("/api/v1/spaces", headers=headers)).json()["items"]
            actors = (await http.get("/api/v1/actors", headers=headers)).json()["items"]
            d = await http.get("/api/v1/sync/dictionary")
            s = Setup(f"http://127.0.0.1:{relay.port}", token,
                      next(sp["id"] for sp in spaces if sp["exercise"]),
                      {a["short_name"]: a["id"] for a in actors},
                      d.headers["WIS-Sync-Dictionary"], d.content)
            print(f"sync dictionary: {len(s.dictionary):,} B once per client (id {s.dict_id})")
            for text in await catch_up(relay, http, s, events):
                print(text)
            for text in await live(relay, http, s, live_events):
                print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100, help="catch-up: events missed")
    parser.add_argument("--live", type=int, default=20, help="live: events one at a time")
    args = parser.parse_args()
    asyncio.run(bench(args.events, args.live))


if __name__ == "__main__":
    main()
