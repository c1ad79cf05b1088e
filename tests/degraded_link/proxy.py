"""A fault-injecting TCP proxy with the line's profile, for where network namespaces or
`tc netem` are not available. It models what a TCP application sees on such a line:

- rate: one shared serialiser per direction (all connections share the 9.6 kbit/s line);
- delay: each segment arrives `delay_s` after it left the line;
- loss: a segment is lost with probability `loss` (again on each retransmission); TCP's
  retransmission then delivers it one retransmission time-out later (Linux: at least 200 ms,
  in practice ~ 1.5 × the round trip on this line), and every later byte of the connection
  waits behind it (in-order delivery, head-of-line blocking) — which is what 20 % packet loss
  looks like from above TCP;
- down: nothing crosses the line; connections stay open (as TCP's do through an outage) and
  what was sent waits for the line, then for the next retransmission (exponential backoff,
  so up to several seconds after the line returns). New connections are accepted (the proxy
  is local) but nothing passes, like a SYN into a dead line.

Runs its own asyncio loop in a thread; `down()`/`up()` from any thread."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from dataclasses import dataclass, field

from .profile import LinkProfile

SEGMENT = 536  # bytes: the classic default MSS, a fair packet size for a 9.6 kbit/s line


@dataclass
class _Direction:
    """One direction of the line: its serialiser and counters."""

    profile: LinkProfile
    rng: random.Random
    free_at: float = 0.0
    bytes: int = 0
    segments: int = 0
    lost: int = 0

    def schedule(self, size: int, now: float) -> float:
        """When a segment of `size` bytes handed to the line at `now` is delivered."""
        p = self.profile
        start = max(now, self.free_at)
        tx = size * 8 / p.rate_bps
        self.free_at = start + tx
        arrive = self.free_at + p.delay_s
        rto = max(0.2, 3 * p.delay_s)
        while self.rng.random() < p.loss:  # lost: retransmitted after a time-out
            self.lost += 1
            arrive += rto
            self.free_at += tx
            rto = min(rto * 2, 60.0)
        self.bytes += size
        self.segments += 1
        return arrive


@dataclass
class FaultProxy:
    upstream: tuple[str, int]
    profile: LinkProfile
    seed: int = 12
    host: str = "127.0.0.1"
    port: int = 0
    _down_until: float = 0.0  # monotonic; +inf while down
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.AbstractServer | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _line_up: asyncio.Event = field(init=False)
    connections: int = 0

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        self.to_server = _Direction(self.profile, random.Random(rng.random()))
        self.to_client = _Direction(self.profile, random.Random(rng.random()))

    # --- control (any thread) -------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def down(self) -> None:
        self._down_until = float("inf")
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._line_up.clear)

    def up(self) -> None:
        self._down_until = time.monotonic()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._line_up.set)

    @property
    def is_down(self) -> bool:
        return self._down_until > time.monotonic()

    # --- the loop -------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._line_up = asyncio.Event()
        self._line_up.set()
        self._loop = loop
        self._server = loop.run_until_complete(
            asyncio.start_server(self._accept, self.host, self.port))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()

            async def drain() -> None:
                await asyncio.gather(*tasks, return_exceptions=True)

            loop.run_until_complete(drain())
            loop.close()

    async def _accept(self, client_r: asyncio.StreamReader,
                      client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.gather(self._pump(client_r, server_w, self.to_server),
                                 self._pump(server_r, client_w, self.to_client),
                                 return_exceptions=True)
        except asyncio.CancelledError:
            return  # the proxy is stopping

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    direction: _Direction) -> None:
        """Read what one side sends, deliver it to the other when the line would have."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                at, data = await queue.get()
                delay = at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if self.is_down:  # the line died under it: TCP retransmits after it is back
                    await self._until_up()
                    await asyncio.sleep(direction.rng.uniform(0.5, 4.0))
                if not data:
                    with contextlib.suppress(OSError):
                        writer.write_eof() if writer.can_write_eof() else writer.close()
                    return
                writer.write(data)
                with contextlib.suppress(OSError, ConnectionError):
                    await writer.drain()

        delivering = asyncio.ensure_future(deliver())
        last = 0.0
        try:
            while True:
                data = await reader.read(SEGMENT)
                if self.is_down:  # sent into a dead line: waits, then TCP's retransmission
                    await self._until_up()
                    await asyncio.sleep(direction.rng.uniform(0.5, 4.0))
                now = time.monotonic()
                if not data:
                    queue.put_nowait((max(last, now + self.profile.delay_s), b""))
                    break
                at = max(last, direction.schedule(len(data), now))
                last = at
                queue.put_nowait((at, data))
            await delivering
        except (OSError, ConnectionError):
            delivering.cancel()
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _until_up(self) -> None:
        await self._line_up.wait()

    def stats(self) -> dict[str, int]:
        return {"bytes_to_server": self.to_server.bytes, "bytes_to_client": self.to_client.bytes,
                "segments": self.to_server.segments + self.to_client.segments,
                "lost": self.to_server.lost + self.to_client.lost,
                "connections": self.connections}
