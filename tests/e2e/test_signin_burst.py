"""While a burst of 100 concurrent wrong sign-ins runs against a real server process (real
argon2 parameters), a signed-in reader's REST reads and websocket deliveries keep flowing
(issue 7, items 1-3). Latencies are printed (idle vs burst p99), never asserted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import LiveServer, start_server, stop_server
from tests.e2e.stream_client import StreamClient, auth, exercise_space, login, post_entry


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("signin-burst"))
    yield live
    stop_server(live)


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


async def test_reads_and_deliveries_flow_during_a_sign_in_burst(server: LiveServer) -> None:
    reader = await login(server, "tib.sthlm")
    writer = await login(server, "tib.lst")
    space_id = await exercise_space(server, writer)
    ws = await StreamClient.open(server, reader)
    await ws.subscribe(space_id, None)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120, limits=limits) as http:

        async def reads(samples: list[float], until: asyncio.Event | None, count: int) -> None:
            done = 0
            while (until is None and done < count) or (until is not None
                                                        and not until.is_set()):
                started = time.perf_counter()
                r = await http.get(f"/api/v1/spaces/{space_id}/entries", headers=auth(reader))
                assert r.status_code == 200, r.text
                samples.append(time.perf_counter() - started)
                done += 1

        async def deliveries(tag: str, samples: list[float], until: asyncio.Event | None,
                             count: int) -> None:
            done = 0
            while (until is None and done < count) or (until is not None
                                                        and not until.is_set()):
                body = f"{tag}-{done}"
                started = time.perf_counter()
                await post_entry(http, writer, space_id, body)
                await ws.until_body(body, within=120)
                samples.append(time.perf_counter() - started)
                done += 1

        idle_reads: list[float] = []
        idle_deliveries: list[float] = []
        await reads(idle_reads, None, 100)
        await deliveries("idle", idle_deliveries, None, 20)

        burst_reads: list[float] = []
        burst_deliveries: list[float] = []
        finished = asyncio.Event()

        async def wrong(i: int) -> int:
            r = await http.post("/api/v1/auth/token", json={
                "username": f"nobody-{i}", "password": "wrong-password-burst"})
            return r.status_code

        async def burst() -> list[int]:
            try:
                return list(await asyncio.gather(*(wrong(i) for i in range(100))))
            finally:
                finished.set()

        started = time.perf_counter()
        statuses, _, _ = await asyncio.gather(
            burst(), reads(burst_reads, finished, 0),
            deliveries("burst", burst_deliveries, finished, 0))
        burst_s = time.perf_counter() - started
    await ws.close()
    assert set(statuses) <= {401, 429}, statuses  # never a 500 (pool time-outs)
    assert burst_reads and burst_deliveries  # reads and deliveries went on during the burst
    print(f"\nsign-in burst of 100: {burst_s:.2f} s ({statuses.count(401)} verified, "
          f"{statuses.count(429)} refused)\n"
          f"REST read p99: idle {p99(idle_reads):.1f} ms, burst {p99(burst_reads):.1f} ms "
          f"({len(burst_reads)} reads)\n"
          f"ws delivery p99: idle {p99(idle_deliveries):.1f} ms, "
          f"burst {p99(burst_deliveries):.1f} ms ({len(burst_deliveries)} deliveries)")
