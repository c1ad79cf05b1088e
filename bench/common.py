"""Benchmark plumbing shared by the scenarios: a lean HTTP/1.1 load generator, latency
statistics, server subprocesses and scratch PostgreSQL databases.

The load generator is deliberately the same object for our server and the bare reference, so
a ratio compares servers, not clients. It keeps one keep-alive connection per simulated client
on raw asyncio streams (much less client CPU per request than httpx, which matters when the
load generator and the server share a small machine); `--client httpx` swaps in an
httpx.AsyncClient pool for comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# --- requests and clients -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    expect: int = 200


class Client(Protocol):
    async def send(self, request: Request) -> tuple[int, bytes]: ...

    async def close(self) -> None: ...


class RawClient:
    """One keep-alive HTTP/1.1 connection. Handles Content-Length and chunked bodies."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(
            self.host, self.port, limit=1 << 20)

    async def send(self, request: Request) -> tuple[int, bytes]:
        if self._writer is None:
            await self._connect()
        assert self._reader is not None and self._writer is not None
        lines = [f"{request.method} {request.path} HTTP/1.1",
                 f"Host: {self.host}:{self.port}", f"Content-Length: {len(request.body)}"]
        lines.extend(f"{k}: {v}" for k, v in request.headers)
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + request.body)
        status_line = await self._reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        while True:
            line = await self._reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            parts = []
            while True:
                size = int((await self._reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self._reader.readline()
                    break
                parts.append(await self._reader.readexactly(size))
                await self._reader.readline()
            body = b"".join(parts)
        else:
            body = await self._reader.readexactly(length)
        if close:
            await self.close()
        return status, body

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        self._reader = self._writer = None


class HttpxClient:
    """The same contract over one shared httpx.AsyncClient (connection pool)."""

    def __init__(self, shared: Any) -> None:
        self.shared = shared

    async def send(self, request: Request) -> tuple[int, bytes]:
        response = await self.shared.request(request.method, request.path,
                                             content=request.body or None,
                                             headers=dict(request.headers))
        return response.status_code, response.content

    async def close(self) -> None:
        return None


@contextlib.asynccontextmanager
async def client_pool(kind: str, host: str, port: int, size: int) -> AsyncIterator[list[Client]]:
    """`size` clients of one kind ("raw" or "httpx") against host:port."""
    if kind == "httpx":
        import httpx

        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", limits=limits,
                                     timeout=60.0) as shared:
            yield [HttpxClient(shared) for _ in range(size)]
        return
    clients: list[Client] = [RawClient(host, port) for _ in range(size)]
    try:
        yield clients
    finally:
        for client in clients:
            await client.close()


# --- load and statistics --------------------------------------------------------------------


@dataclass
class Stats:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    cpu_seconds: float | None = None  # the server process's CPU time inside the window

    def merge(self, other: Stats) -> Stats:
        cpu = (None if self.cpu_seconds is None or other.cpu_seconds is None
               else self.cpu_seconds + other.cpu_seconds)
        return Stats(self.seconds + other.seconds, self.latencies + other.latencies,
                     self.errors + other.errors, self.first_error or other.first_error, cpu)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[index] * 1000

    def summary(self) -> str:
        text = (f"{self.rate:.1f}/s p50={self.percentile(50):.1f}ms "
                f"p99={self.percentile(99):.1f}ms")
        if self.cpu_seconds is not None and self.latencies:
            text += f" cpu={self.cpu_seconds / len(self.latencies) * 1000:.2f}ms/req"
        if self.errors:
            text += f" errors={self.errors}"
        return text


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process (all threads), from /proc; None where there is none."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def run_load(clients: Sequence[Client], make_request: Callable[[int], Request], *,
                   seconds: float, warmup: float, pid: int | None = None) -> Stats:
    """Every client sends requests back to back (closed loop) for warmup + seconds. Requests
    completing inside the measured window count; latency is send-to-last-byte. With `pid`,
    the server process's CPU time inside the window is recorded too."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    window_start = start + warmup
    stop = window_start + seconds
    stats = Stats(seconds)

    async def cpu_probe() -> None:
        if pid is None:
            return
        await asyncio.sleep(warmup)
        before = process_cpu_seconds(pid)
        await asyncio.sleep(seconds)
        after = process_cpu_seconds(pid)
        if before is not None and after is not None:
            stats.cpu_seconds = after - before

    async def worker(index: int, client: Client) -> None:
        while loop.time() < stop:
            request = make_request(index)
            began = time.perf_counter()
            try:
                status, body = await client.send(request)
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                status, body = 0, repr(error).encode()
                await client.close()
            elapsed = time.perf_counter() - began
            now = loop.time()
            if window_start <= now <= stop:
                if status == request.expect:
                    stats.latencies.append(elapsed)
                else:
                    stats.errors += 1
                    if not stats.first_error:
                        stats.first_error = f"{status} {body[:200]!r}"

    await asyncio.gather(cpu_probe(), *(worker(i, c) for i, c in enumerate(clients)))
    return stats


def ratio_line(label: str, ours: Stats, reference: Stats) -> str:
    ratio = ours.rate / reference.rate if reference.rate else float("nan")
    return f"{label}: ours {ours.summary()} | reference {reference.summary()} | ratio={ratio:.2f}"


# --- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A server in its own process (so it does not share a core's GIL with the load)."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str] | None = None,
                 log_path: str | None = None) -> None:
        self.port = port
        self._log = open(log_path, "wb") if log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [sys.executable, *argv], env={**os.environ, **(env or {})},
            stdout=self._log, stderr=self._log)

    async def wait_ready(self, path: str = "/healthz", within_s: float = 30.0) -> None:
        deadline = time.monotonic() + within_s
        client = RawClient("127.0.0.1", self.port)
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited with {self.process.returncode}")
                try:
                    status, _ = await client.send(Request("GET", path))
                    if status == 200:
                        return
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    await client.close()
                await asyncio.sleep(0.1)
            raise RuntimeError("server did not become ready")
        finally:
            await client.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not subprocess.DEVNULL:
            self._log.close()


# --- scratch PostgreSQL ---------------------------------------------------------------------


def postgres_url_from_env() -> str:
    return (os.environ.get("WIS_BENCH_POSTGRES_URL")
            or os.environ.get("WIS_TEST_POSTGRES_URL") or "")


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@contextlib.asynccontextmanager
async def scratch_postgres(admin_url: str) -> AsyncIterator[str]:
    """A fresh database `wis_bench_<random>`, dropped afterwards; yields its URL."""
    import asyncpg

    name = f"wis_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(_plain(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield _with_database(_plain(admin_url), name)
    finally:
        conn = await asyncpg.connect(_plain(admin_url))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
