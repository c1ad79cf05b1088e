"""Two real `wis serve` processes on one PostgreSQL: an event written through one reaches
websocket subscribers of the other (LISTEN/NOTIFY wake-up + catch-up from the event table),
also after the listener connection is killed with pg_terminate_backend, and a client resumes
on the other process exactly where it left off.

The periodic catch-up is set to 5 minutes here, so delivery within the test can only come
from the notification path and the catch-up on listener reconnect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import scratch_database
from tests.e2e.conftest import LiveServer, start_server, stop_server
from tests.e2e.stream_client import StreamClient, exercise_space, login, post_entry
from tests.helpers import NGINX, shipped_nginx

pytestmark = pytest.mark.postgres

LISTENER = "wis-realtime-listener"


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with scratch_database("wis_rt") as url:
        yield url


@pytest.fixture(scope="module")
def servers(database: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[LiveServer, LiveServer]]:
    first_dir = tmp_path_factory.mktemp("node-a")
    env = {"WIS_DATABASE_URL": database, "WIS_STREAM_POLL_S": "300",
           "WIS_KEYRING_FILE": str(Path(first_dir) / "keyring.json")}
    a = start_server(first_dir, env)
    try:
        b = start_server(tmp_path_factory.mktemp("node-b"), env)
    except Exception:
        stop_server(a)
        raise
    b.demo.update(a.demo)
    yield a, b
    stop_server(b)
    stop_server(a)


@pytest.fixture
async def admin_db(database: str) -> AsyncIterator[Any]:
    import asyncpg

    conn = await asyncpg.connect(database.replace("postgresql+asyncpg://", "postgresql://"))
    yield conn
    await conn.close()


async def _listeners(conn: Any) -> list[int]:
    rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE application_name = $1 "
                            "AND datname = current_database()", LISTENER)
    return [r["pid"] for r in rows]


async def _wait_for_listeners(conn: Any, count: int, not_in: frozenset[int] = frozenset()
                              ) -> list[int]:
    for _ in range(200):
        pids = [p for p in await _listeners(conn) if p not in not_in]
        if len(pids) >= count:
            return pids
        await asyncio.sleep(0.1)
    raise AssertionError("listeners did not (re)connect")


async def test_events_cross_processes_both_ways(servers: tuple[LiveServer, LiveServer],
                                                admin_db: Any) -> None:
    a, b = servers
    await _wait_for_listeners(admin_db, 2)
    token_a = await login(a, "tib.lst")
    token_b = await login(b, "tib.sthlm")
    space_id = await exercise_space(a, token_a)
    on_a = await StreamClient.open(a, token_a)
    on_b = await StreamClient.open(b, token_b)
    await on_a.subscribe(space_id, None)
    await on_b.subscribe(space_id, None)
    async with httpx.AsyncClient(base_url=a.base_url) as via_a, \
            httpx.AsyncClient(base_url=b.base_url) as via_b:
        await post_entry(via_a, token_a, space_id, "written-on-a")
        await on_b.until_body("written-on-a")
        await post_entry(via_b, token_b, space_id, "written-on-b")
        await on_a.until_body("written-on-b")
        await on_b.until_body("written-on-b")
    assert on_b.bodies() == ["written-on-a", "written-on-b"]
    await on_a.close()
    await on_b.close()


async def test_delivery_survives_killing_the_listener_connection(
        servers: tuple[LiveServer, LiveServer], admin_db: Any) -> None:
    a, b = servers
    old = set(await _wait_for_listeners(admin_db, 2))
    token = await login(a, "tib.lst")
    space_id = await exercise_space(a, token)
    on_b = await StreamClient.open(b, await login(b, "tib.rs"))
    await on_b.subscribe(space_id, None)
    killed = await admin_db.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = $1 AND datname = current_database()", LISTENER)
    assert killed >= 2
    async with httpx.AsyncClient(base_url=a.base_url) as via_a:
        # Written while the listeners are down: B catches up when its listener is back.
        await post_entry(via_a, token, space_id, "while-listener-dead")
        await on_b.until_body("while-listener-dead")
        await _wait_for_listeners(admin_db, 2, not_in=frozenset(old))
        # And notifications flow again on the new connections.
        for i in range(3):
            await post_entry(via_a, token, space_id, f"after-reconnect-{i}")
        await on_b.until_body("after-reconnect-2")
    assert on_b.bodies() == ["while-listener-dead"] + [f"after-reconnect-{i}"
                                                       for i in range(3)]
    await on_b.close()


async def test_resume_on_the_other_process(servers: tuple[LiveServer, LiveServer]) -> None:
    a, b = servers
    token = await login(a, "tib.lst")
    space_id = await exercise_space(a, token)
    first = await StreamClient.open(a, token)
    await first.subscribe(space_id, None)
    async with httpx.AsyncClient(base_url=a.base_url) as via_a:
        for i in range(3):
            await post_entry(via_a, token, space_id, f"seen-{i}")
        await first.until_body("seen-2")
        last = first.events()[-1]["seq"]
        await first.close()
        for i in range(4):
            await post_entry(via_a, token, space_id, f"missed-{i}")
    second = await StreamClient.open(b, await login(b, "tib.lst"))
    await second.subscribe(space_id, last)
    await second.until_body("missed-3")
    assert second.bodies() == [f"missed-{i}" for i in range(4)]
    seqs = [f["seq"] for f in second.events()]
    assert seqs == sorted(set(seqs)) and seqs[0] > last
    await second.close()


# --- through nginx with deploy/nginx/wis.conf (when nginx is installed) ---------------------

@pytest.fixture(scope="module")
def proxy(servers: tuple[LiveServer, LiveServer], tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[str]:
    """nginx with the shipped server block, its upstream pointed at the two processes."""
    if NGINX is None:
        pytest.skip("nginx not installed")
    a, b = servers

    def edit(site: str, port: int) -> str:
        site = site.replace("server 127.0.0.1:8001", f"server {a.base_url[7:]}")
        site = site.replace("server 127.0.0.1:8002", f"server {b.base_url[7:]}")
        return site.replace("listen 8080;", f"listen 127.0.0.1:{port};")

    with shipped_nginx(tmp_path_factory.mktemp("nginx"), edit) as url:
        yield url


async def test_websocket_and_sse_through_nginx_round_robin(
        servers: tuple[LiveServer, LiveServer], proxy: str) -> None:
    a, _b = servers
    via = LiveServer(proxy, a.data_dir, a.demo, a.process, a.env)
    token = await login(via, "tib.lst")
    space_id = await exercise_space(via, token)
    ws = await StreamClient.open(via, token)
    await ws.subscribe(space_id, None)
    async with httpx.AsyncClient(base_url=proxy, timeout=30) as http:
        async with http.stream("GET", f"/api/v1/spaces/{space_id}/events/stream",
                               headers={"Authorization": f"Bearer {token}",
                                        "Accept-Encoding": "gzip"}) as sse:
            assert sse.status_code == 200
            lines = sse.aiter_lines()
            async for line in lines:
                if line.startswith("event: subscribed"):
                    break
            # Posts are spread over both processes by nginx (no stickiness needed).
            for i in range(6):
                await post_entry(http, token, space_id, f"via-nginx-{i}")
            await ws.until_body("via-nginx-5")
            bodies = []
            async for line in lines:
                if line.startswith("data: ") and '"body":"via-nginx-' in line:
                    bodies.append(line.split('"body":"', 1)[1].split('"', 1)[0])
                    if bodies[-1] == "via-nginx-5":
                        break
    assert ws.bodies() == [f"via-nginx-{i}" for i in range(6)]
    assert bodies == [f"via-nginx-{i}" for i in range(6)]
    seqs = [f["seq"] for f in ws.events()]
    assert seqs == sorted(set(seqs))
    await ws.close()
