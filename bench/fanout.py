"""Websocket fan-out: N subscribers on one space, beside a bare reference in the same run.

  ours       `wis serve` (SQLite, fresh data dir, demo data): posts go through the REST API
             (auth → decide → seal → one transaction → after-commit wake-up), each subscriber
             is an authenticated websocket subscribed to the space; every frame passes the
             access decision for its recipient and is rendered once per view.
  reference  a minimal `websockets` broadcast server (websockets.asyncio.server.broadcast,
             compression off): a publisher connection sends a message, the server broadcasts it
             to every other connection. Payloads are padded to the size of our event frames.

Both run in their own processes on 127.0.0.1; all subscribers share this process (asyncio,
the `websockets` client library, compression off). For N in (1000, 5000):

  idle memory   server RSS growth per connected, subscribed, idle connection
  steady        10 posts/s for a few seconds: p50/p99 publish-to-receive latency
  flat out      posts as fast as the publisher can: deliveries/s, server CPU µs per delivery

Every comparison is printed on one line ending in ratio=<ours/reference> (deliveries/s).
Numbers, not pass/fail; the machine's cores are shared by servers and clients.

    .venv/bin/python bench/fanout.py              # ~4-5 min
    .venv/bin/python bench/fanout.py --quick      # N=1000 only, shorter phases

Experiments: WIS_BENCH_SERVE=<script> runs `<script> <port> <WIS_BENCH_WS>` instead of
`wis serve` (e.g. another uvicorn websocket implementation or GC settings);
WIS_BENCH_KEEP=1 keeps the data and log directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
MARK = "bench t="
CLK_TCK = os.sysconf("SC_CLK_TCK")
USERS = ("tib.lst", "tib.sthlm", "tib.rs", "rcb.ssbf")
# --classified: sekretess posts read by three cleared users of three actors, so every delivery
# is an audited read (one commit per event, covering all its recipients, before sending).
CLASSIFIED_USERS = ("tib.lst", "tib.sthlm", "tib.rs")
CLASSIFIED_ACTORS = ("LST", "STHLM", "RS")


# --- the reference server ------------------------------------------------------------------

async def reference_server(port: int) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    subscribers: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        if ws.request is not None and ws.request.path == "/publish":
            async for message in ws:
                broadcast(subscribers, message)
            return
        subscribers.add(ws)
        try:
            await ws.wait_closed()
        finally:
            subscribers.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=None, backlog=4096):
        await asyncio.Future()


async def floor_server(port: int) -> None:
    """The framework floor: the same broadcast as the reference, but as a Starlette websocket
    endpoint under uvicorn with ws="websockets" (what `wis serve` runs) — no auth, no
    database, no policy. Shows how much of the gap to the reference is the ASGI stack."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    subscribers: set[WebSocket] = set()

    async def subscribe(ws: WebSocket) -> None:
        await ws.accept()
        subscribers.add(ws)
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            subscribers.discard(ws)

    async def publish(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                message = await ws.receive_text()
                for sub in list(subscribers):
                    await sub.send_text(message)
        except WebSocketDisconnect:
            pass

    app = Starlette(routes=[WebSocketRoute("/publish", publish), WebSocketRoute("/", subscribe)])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, ws="websockets",
                            log_level="warning", backlog=4096)
    await uvicorn.Server(config).serve()


# --- processes -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < 12_000:
        print(f"note: RLIMIT_NOFILE hard limit is {hard}; 5,000 connections need ~10,500")


def _tree(pid: int) -> list[int]:
    """The process and its descendants (a server may run its workers as child processes)."""
    pids, i = [pid], 0
    while i < len(pids):
        for task in Path(f"/proc/{pids[i]}/task").glob("*/children"):
            pids.extend(int(c) for c in task.read_text().split())
        i += 1
    return pids


def rss_kib(pid: int) -> int:
    total = 0
    for p in _tree(pid):
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def cpu_s(pid: int) -> float:
    total = 0.0
    for p in _tree(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    demo: dict[str, str] = field(default_factory=dict)
    others: list[subprocess.Popen[bytes]] = field(default_factory=list)
    """More processes whose CPU counts as this server's (scale-out: the other `wis serve`)."""

    def cpu(self) -> float:
        return sum(cpu_s(p.pid) for p in [self.process, *self.others])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_ours(data_dir: Path, extra_env: dict[str, str] | None = None) -> Server:
    wis = [sys.executable, "-m", "wis_server.cli"]
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WIS_DATA_DIR": str(data_dir), "WIS_LOG_LEVEL": "warning",
           "WIS_COOKIE_SECURE": "false", "WIS_STREAM_QUEUE_MESSAGES": "5000",
           # thousands of connections from one address and four users: lift the caps
           "WIS_STREAM_MAX_PER_USER": "1000000", "WIS_STREAM_MAX_PER_ADDRESS": "1000000"}
    env.pop("WIS_DATABASE_URL", None)
    env.update(extra_env or {})
    subprocess.run([*wis, "init"], env=env, check=True, capture_output=True, cwd=ROOT)
    out = subprocess.run([*wis, "demo", "--if-empty"], env=env, check=True,
                         capture_output=True, text=True, cwd=ROOT).stdout
    demo = {p[0]: p[1] for p in (line.split() for line in out.splitlines())
            if len(p) == 2 and p[1].startswith("demo-")}
    port = free_port()
    log = data_dir / "server.log"
    argv = [*wis, "serve", "--port", str(port)]
    if os.environ.get("WIS_BENCH_SERVE"):  # experiments: an alternative launcher
        argv = [sys.executable, os.environ["WIS_BENCH_SERVE"], str(port),
                os.environ.get("WIS_BENCH_WS", "websockets")]
    process = subprocess.Popen(argv, env=env, cwd=ROOT,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    wait_ready(f"http://127.0.0.1:{port}/readyz", process, log)
    return Server("ours", process, port, demo)


def start_reference(data_dir: Path, kind: str = "reference") -> Server:
    port = free_port()
    log = data_dir / f"{kind}.log"
    process = subprocess.Popen([sys.executable, __file__, f"--{kind}-server", str(port)],
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return Server(kind, process, port)
        time.sleep(0.05)
    raise RuntimeError("reference server did not start")


# --- subscribers ---------------------------------------------------------------------------

class Receivers:
    """Counts deliveries and publish-to-receive latencies over all subscriber connections."""

    def __init__(self) -> None:
        self.count = 0
        self.latencies_ns: list[int] = []
        self.last_ns = 0
        self.frame_size = 0
        self.closed: dict[int | None, int] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.conns: list[ClientConnection] = []

    def reset(self) -> None:
        self.count = 0
        self.latencies_ns = []

    async def consume(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                now = time.time_ns()
                text = message if isinstance(message, str) else message.decode()
                i = text.find(MARK)
                if i < 0:
                    continue
                j = text.find(";", i)
                self.latencies_ns.append(now - int(text[i + len(MARK):j]))
                self.count += 1
                self.last_ns = now
                self.frame_size = len(text.encode())
        except Exception:
            pass
        finally:
            code = ws.close_code
            self.closed[code] = self.closed.get(code, 0) + 1


async def open_ours(server: Server, tokens: list[str], space_id: str, n: int,
                    receivers: Receivers) -> None:
    url = f"ws://127.0.0.1:{server.port}/api/v1/stream"

    async def one(i: int) -> None:
        ws = await connect(url, compression=None, ping_interval=None, open_timeout=60,
                           max_queue=None)
        await ws.send(json.dumps({"type": "auth", "token": tokens[i % len(tokens)]}))
        assert json.loads(await ws.recv())["type"] == "ready"
        await ws.send(json.dumps({"type": "subscribe", "space_id": space_id, "after": None}))
        assert json.loads(await ws.recv())["type"] == "subscribed"
        receivers.conns.append(ws)
        receivers.tasks.append(asyncio.create_task(receivers.consume(ws)))

    await _in_batches(one, len(receivers.conns), n)


async def open_reference(server: Server, n: int, receivers: Receivers) -> None:
    url = f"ws://127.0.0.1:{server.port}/"

    async def one(_i: int) -> None:
        ws = await connect(url, compression=None, ping_interval=None, open_timeout=60,
                           max_queue=None)
        receivers.conns.append(ws)
        receivers.tasks.append(asyncio.create_task(receivers.consume(ws)))

    await _in_batches(one, len(receivers.conns), n)


async def _in_batches(one: Any, have: int, n: int, size: int = 100) -> None:
    for start in range(have, n, size):
        await asyncio.gather(*(one(i) for i in range(start, min(n, start + size))))


async def close_all(receivers: Receivers) -> None:
    await asyncio.gather(*(ws.close() for ws in receivers.conns), return_exceptions=True)
    for task in receivers.tasks:
        task.cancel()
    await asyncio.gather(*receivers.tasks, return_exceptions=True)


# --- publishers ----------------------------------------------------------------------------

class OursPublisher:
    def __init__(self, server: Server, token: str, space_id: str,
                 audience: list[str] | None = None) -> None:
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}",
                                      headers={"Authorization": f"Bearer {token}"},
                                      timeout=60)
        self.url = f"/api/v1/spaces/{space_id}/entries"
        self.audience = audience  # set: post sekretess items (each push is audited)

    async def publish(self, padding: str) -> None:
        body = f"{MARK}{time.time_ns()};{padding}"
        doc: dict[str, Any] = {"kind": "note", "classification": "public", "body": body}
        if self.audience is not None:
            doc.update(classification="sekretess", audience=self.audience)
        r = await self.http.post(self.url, json=doc)
        r.raise_for_status()

    async def close(self) -> None:
        await self.http.aclose()


class ReferencePublisher:
    def __init__(self, ws: ClientConnection, size: int) -> None:
        self.ws = ws
        self.size = size

    async def publish(self, padding: str) -> None:
        head = f'{{"type":"event","data":{{"body":"{MARK}{time.time_ns()};'
        await self.ws.send(head + "x" * max(0, self.size - len(head) - 3) + '"}}')

    async def close(self) -> None:
        await self.ws.close()


# --- phases --------------------------------------------------------------------------------

@dataclass
class Result:
    deliveries: int
    seconds: float
    cpu_s: float
    latencies_ns: list[int]

    @property
    def rate(self) -> float:
        return self.deliveries / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us_per_delivery(self) -> float:
        return self.cpu_s * 1e6 / self.deliveries if self.deliveries else float("nan")

    def pct(self, p: float) -> float:
        if not self.latencies_ns:
            return float("nan")
        data = sorted(self.latencies_ns)
        return data[min(len(data) - 1, int(p / 100 * len(data)))] / 1e6

    def summary(self) -> str:
        return (f"deliveries/s={self.rate:,.0f} p50={self.pct(50):.1f}ms "
                f"p99={self.pct(99):.1f}ms cpu={self.cpu_us_per_delivery:.1f}us/delivery")


async def run_phase(server: Server, publisher: Any, receivers: Receivers, n: int,
                    posts: int, rate: float | None, concurrency: int = 1) -> Result:
    """`posts` publications (at `rate`/s, or flat out) to `n` subscribers; waits for all."""
    receivers.reset()
    expected = posts * n
    cpu0 = server.cpu()
    start_ns = time.time_ns()
    padding = "p" * 200
    if rate is None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(posts):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                await publisher.publish(padding)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    else:
        for i in range(posts):
            due = start_ns / 1e9 + i / rate
            await asyncio.sleep(max(0.0, due - time.time()))
            await publisher.publish(padding)
    idle_since = time.monotonic()
    seen = -1
    while receivers.count < expected:
        await asyncio.sleep(0.05)
        if receivers.count != seen:
            seen, idle_since = receivers.count, time.monotonic()
        elif time.monotonic() - idle_since > 10:
            break  # something was lost (printed below)
    seconds = (receivers.last_ns - start_ns) / 1e9
    cpu = server.cpu() - cpu0
    if receivers.count < expected:
        print(f"  note: {server.name} delivered {receivers.count:,} of {expected:,} "
              f"(closed: {receivers.closed})")
    return Result(receivers.count, seconds, cpu, list(receivers.latencies_ns))


def line(label: str, ours: Result, ref: Result) -> str:
    ratio = ours.rate / ref.rate if ref.rate else float("nan")
    return f"{label:<34} ours {ours.summary()} | reference {ref.summary()} ratio={ratio:.2f}"


# --- main ------------------------------------------------------------------------------------

async def setup_ours(server: Server, classified: bool = False
                     ) -> tuple[list[str], str, list[str] | None]:
    users = CLASSIFIED_USERS if classified else USERS
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
        tokens = []
        for user in users:
            r = await http.post("/api/v1/auth/token",
                                json={"username": user, "password": server.demo[user]})
            r.raise_for_status()
            tokens.append(r.json()["access_token"])
        spaces = (await http.get("/api/v1/spaces", headers={
            "Authorization": f"Bearer {tokens[0]}"})).json()["items"]
        audience = None
        if classified:
            actors = (await http.get("/api/v1/actors", headers={
                "Authorization": f"Bearer {tokens[0]}"})).json()["items"]
            audience = [a["id"] for a in actors if a["short_name"] in CLASSIFIED_ACTORS]
    return tokens, next(s["id"] for s in spaces if s["exercise"]), audience


async def bench(sizes: list[int], steady_s: float, flat_deliveries: int, floor: bool,
                classified: bool = False, publishers: int = 4) -> None:
    work = Path(tempfile.mkdtemp(prefix="wis-fanout-"))
    ours = start_ours(work / "ours")
    ref = start_reference(work)
    flo = start_reference(work, "floor") if floor else None
    ours_rx, ref_rx, floor_rx = Receivers(), Receivers(), Receivers()
    try:
        tokens, space_id, audience = await setup_ours(ours, classified)
        ours_pub = OursPublisher(ours, tokens[0], space_id, audience)
        # Warm up both (imports, first connection) before the memory baseline.
        await open_ours(ours, tokens, space_id, 1, ours_rx)
        await open_reference(ref, 1, ref_rx)
        await ours_pub.publish("warm-up")
        await asyncio.sleep(0.5)
        size = max(ours_rx.frame_size, 300)
        ref_pub_ws = await connect(f"ws://127.0.0.1:{ref.port}/publish", compression=None)
        ref_pub = ReferencePublisher(ref_pub_ws, size)
        floor_pub = None
        if flo is not None:
            await open_reference(flo, 1, floor_rx)
            floor_pub = ReferencePublisher(await connect(
                f"ws://127.0.0.1:{flo.port}/publish", compression=None), size)
            floor_base = rss_kib(flo.process.pid)
        ours_base, ref_base = rss_kib(ours.process.pid), rss_kib(ref.process.pid)
        print(f"payload: {size} bytes per frame; {os.cpu_count()} cores shared by both "
              f"servers and all clients")
        for n in sizes:
            await open_ours(ours, tokens, space_id, n, ours_rx)
            await open_reference(ref, n, ref_rx)
            if flo is not None:
                await open_reference(flo, n, floor_rx)
            await asyncio.sleep(2)
            ours_mem = (rss_kib(ours.process.pid) - ours_base) / (n - 1)
            ref_mem = (rss_kib(ref.process.pid) - ref_base) / (n - 1)
            print(f"idle memory N={n:<5} (KiB/connection)  ours={ours_mem:.1f}"
                  f" | reference={ref_mem:.1f} "
                  f"ratio={ours_mem / ref_mem if ref_mem else float('nan'):.2f}")
            if flo is not None:
                floor_mem = (rss_kib(flo.process.pid) - floor_base) / (n - 1)
                print(f"  framework floor (Starlette/uvicorn ws=websockets broadcast): "
                      f"{floor_mem:.1f} KiB/connection")
            posts = max(5, int(steady_s * 10))
            o = await run_phase(ours, ours_pub, ours_rx, n, posts, 10.0)
            r = await run_phase(ref, ref_pub, ref_rx, n, posts, 10.0)
            print(line(f"N={n} steady 10 posts/s", o, r))
            if flo is not None:
                f = await run_phase(flo, floor_pub, floor_rx, n, posts, 10.0)
                print(f"  framework floor: {f.summary()}")
            posts = max(5, flat_deliveries // n)
            o = await run_phase(ours, ours_pub, ours_rx, n, posts, None,
                                concurrency=publishers)
            r = await run_phase(ref, ref_pub, ref_rx, n, posts, None)
            print(line(f"N={n} flat out ({posts} posts)", o, r))
            if flo is not None:
                f = await run_phase(flo, floor_pub, floor_rx, n, posts, None)
                print(f"  framework floor: {f.summary()}")
        await ours_pub.close()
        await ref_pub.close()
        if floor_pub is not None:
            await floor_pub.close()
    except Exception:
        log = work / "ours" / "server.log"
        if log.exists():
            print("server log (tail):\n" + log.read_text()[-4000:])
        raise
    finally:
        for rx in (ours_rx, ref_rx, floor_rx):
            await close_all(rx)
        for server in (ours, ref, flo):
            if server is not None:
                server.stop()
        if not os.environ.get("WIS_BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


# --- scale-out: one and two `wis serve` processes on one PostgreSQL behind the shipped nginx -

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None)


def start_nginx(work: Path, upstreams: list[int]) -> tuple[subprocess.Popen[bytes], int]:
    """nginx with deploy/nginx/wis.conf as its server block, its upstream pointed at our
    processes (the same edit as tests/integration/test_realtime_multiprocess.py)."""
    assert NGINX is not None
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    site = (ROOT / "deploy" / "nginx" / "wis.conf").read_text()
    lines = "".join(f"    server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;\n"
                    for p in upstreams)
    site = site.replace("    server 127.0.0.1:8001 max_fails=3 fail_timeout=10s;\n"
                        "    server 127.0.0.1:8002 max_fails=3 fail_timeout=10s;\n", lines)
    assert lines in site, "deploy/nginx/wis.conf changed: update the bench's edit"
    (work / "wis.conf").write_text(site.replace("listen 8080;", f"listen 127.0.0.1:{port};"))
    (work / "nginx.conf").write_text(
        f"worker_processes 1;\nworker_rlimit_nofile 30000;\nerror_log {work}/error.log warn;\n"
        f"pid {work}/nginx.pid;\nevents {{ worker_connections 25000; }}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {work};\n"
        f"  proxy_temp_path {work};\n  include {work}/wis.conf;\n}}\n")
    process = subprocess.Popen([NGINX, "-p", str(work), "-c", str(work / "nginx.conf"),
                                "-g", "daemon off;"], stderr=subprocess.STDOUT,
                               stdout=(work / "out.log").open("wb"))
    wait_ready(f"http://127.0.0.1:{port}/readyz", process, work / "error.log")
    return process, port


async def write_phase(server: Server, publisher: Any, seconds: float, concurrency: int
                      ) -> tuple[float, float]:
    """Posts for `seconds` with `concurrency` in flight: (writes/s, server CPU ms per write)."""
    cpu0, t0, done = server.cpu(), time.monotonic(), 0
    deadline = t0 + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            await publisher.publish("w")
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - t0
    return done / elapsed, (server.cpu() - cpu0) * 1e3 / max(1, done)


async def scale_out_one(k: int, database: str, work: Path, n: int, steady_s: float,
                        flat_deliveries: int, publishers: int, write_s: float
                        ) -> dict[str, Any]:
    env = {"WIS_DATABASE_URL": database, "WIS_KEYRING_FILE": str(work / "keyring.json")}
    servers = [start_ours(work / f"node{i}", env) for i in range(k)]  # node0: demo logins
    nginx, port = start_nginx(work / f"k{k}-nginx", [s.port for s in servers])
    demo = servers[0].demo or next((s.demo for s in servers if s.demo), {})
    via = Server(f"{k} process{'es' if k > 1 else ''}", servers[0].process, port, demo,
                 others=[s.process for s in servers[1:]])
    rx = Receivers()
    result: dict[str, Any] = {}
    try:
        tokens, space_id, _ = await setup_ours(via)
        pub = OursPublisher(via, tokens[0], space_id)
        result["writes"] = await write_phase(via, pub, write_s, 16)
        await open_ours(via, tokens, space_id, n, rx)
        await asyncio.sleep(2)
        nginx_cpu0 = cpu_s(nginx.pid)
        result["steady"] = await run_phase(via, pub, rx, n, max(5, int(steady_s * 10)), 10.0)
        posts = max(5, flat_deliveries // n)
        result["flat"] = await run_phase(via, pub, rx, n, posts, None, concurrency=publishers)
        delivered = result["steady"].deliveries + result["flat"].deliveries
        result["nginx_us"] = (cpu_s(nginx.pid) - nginx_cpu0) * 1e6 / max(1, delivered)
        result["posts"] = posts
        await pub.close()
    finally:
        await close_all(rx)
        nginx.terminate()
        nginx.wait(10)
        for server in servers:
            server.stop()
    return result


async def scale_out(n: int, steady_s: float, flat_deliveries: int, publishers: int,
                    write_s: float) -> None:
    from common import postgres_url_from_env, scratch_postgres

    admin = postgres_url_from_env()
    if not admin or NGINX is None:
        print("scale-out: skipped (needs WIS_BENCH_POSTGRES_URL or WIS_TEST_POSTGRES_URL, "
              "and nginx)")
        return
    work = Path(tempfile.mkdtemp(prefix="wis-scale-"))
    results = []
    try:
        async with scratch_postgres(admin) as url:
            database = url.replace("postgresql://", "postgresql+asyncpg://", 1)
            for k in (1, 2):
                results.append(await scale_out_one(k, database, work, n, steady_s,
                                                   flat_deliveries, publishers, write_s))
    finally:
        if not os.environ.get("WIS_BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    one, two = results
    print(f"scale-out on PostgreSQL behind the shipped nginx, N={n}, {os.cpu_count()} cores "
          f"shared by PostgreSQL, nginx, the servers and all clients (ratio: two processes / one)")
    (w1, c1), (w2, c2) = one["writes"], two["writes"]
    print(f"{'writes (16 in flight)':<34} one process {w1:,.0f}/s cpu={c1:.1f}ms/write | "
          f"two processes {w2:,.0f}/s cpu={c2:.1f}ms/write ratio={w2 / w1:.2f}")
    for key, label in (("steady", f"N={n} steady 10 posts/s"),
                       ("flat", f"N={n} flat out ({one['posts']} posts)")):
        a, b = one[key], two[key]
        print(f"{label:<34} one process {a.summary()} | two processes {b.summary()} "
              f"ratio={b.rate / a.rate if a.rate else float('nan'):.2f}")
    print(f"  nginx CPU per delivery: one {one['nginx_us']:.1f}us, two {two['nginx_us']:.1f}us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=1000 only, shorter phases")
    parser.add_argument("--sizes", default="", help="comma list of N (default 1000,5000)")
    parser.add_argument("--no-floor", action="store_true",
                        help="skip the framework floor (Starlette/uvicorn broadcast)")
    parser.add_argument("--classified", action="store_true",
                        help="post sekretess items (every delivery is an audited read)")
    parser.add_argument("--publishers", type=int, default=4,
                        help="our POSTs in flight during flat out (default 4)")
    parser.add_argument("--scale-out", action="store_true",
                        help="instead: one and two `wis serve` processes on one PostgreSQL "
                        "behind the shipped nginx (writes/s, steady, flat out)")
    parser.add_argument("--reference-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--floor-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference_server:
        asyncio.run(reference_server(args.reference_server))
        return
    if args.floor_server:
        asyncio.run(floor_server(args.floor_server))
        return
    raise_nofile()
    sizes = [int(s) for s in args.sizes.split(",") if s] or (
        [1000] if args.quick else [1000, 5000])
    if args.scale_out:
        asyncio.run(scale_out(sizes[0], steady_s=3 if args.quick else 6,
                              flat_deliveries=100_000 if args.quick else 250_000,
                              publishers=args.publishers, write_s=3 if args.quick else 6))
        return
    asyncio.run(bench(sizes, steady_s=3 if args.quick else 6,
                      flat_deliveries=100_000 if args.quick else 250_000,
                      floor=not args.no_floor, classified=args.classified,
                      publishers=args.publishers))


if __name__ == "__main__":
    main()
