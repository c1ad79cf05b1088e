"""One client connection: its principal, its subscriptions and a bounded outgoing queue with a
single writer task, so a slow client costs only its own memory (up to the bound) and never
delays anyone else."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from ..domain.model import Principal
from .eager import start_eagerly
from .ports import Frame, Sender

log = structlog.get_logger("wis.realtime")

# Close codes (documented in docs/realtime.md and the websocket route).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED = 1003
CLOSE_INVALID = 1007
CLOSE_AUTH_FAILED = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_SLOW_CONSUMER = 4008
CLOSE_TOKEN_EXPIRED = 4009
CLOSE_TOO_MANY = 4029


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection outgoing queue bound and subscription cap; live connections per user
    (websocket, SSE and long-poll together) and unauthenticated websockets per address."""

    max_messages: int = 1000
    max_bytes: int = 1 << 20
    max_subscriptions: int = 100
    max_per_user: int = 8
    max_per_address: int = 16


def control(type_: str, **fields: Any) -> Frame:
    """A non-event frame (ready, subscribed, revoked, error, pong)."""
    text = json.dumps({"type": type_, **fields}, separators=(",", ":"), ensure_ascii=False)
    return Frame(text, len(text.encode()), type_, fields.get("space_id"))


class Subscription:
    """A connection following one space. `delivered` is the last seq handed to its queue (or
    skipped as invisible); `live` means the feed's pump delivers to it directly."""

    __slots__ = ("connection", "delivered", "epoch", "joined", "live", "space_id")

    def __init__(self, connection: Connection, space_id: str, delivered: int, joined: int
                 ) -> None:
        self.connection = connection
        self.space_id = space_id
        self.delivered = delivered
        self.joined = joined
        self.live = False
        self.epoch = 0


class Connection:
    """Queue and writer for one client. `push` never blocks; past the bound it closes 4008.

    The writer task exists only while frames are queued, so an idle connection costs no task."""

    __slots__ = ("_closer", "_expiry", "_on_closed", "_queue", "_queued_bytes", "_send_now",
                 "_writer", "auth_generation", "close_code", "closed", "limits", "principal",
                 "sender", "subscriptions")

    def __init__(self, sender: Sender, principal: Principal, expires_at: float | None,
                 limits: Limits, on_closed: Callable[[Connection], None]) -> None:
        self.sender = sender
        # A sender that can write a frame synchronously (the websocket's `send_now`) takes
        # the fan-out without any coroutine; otherwise a send is started eagerly (eager.py).
        self._send_now: Callable[[Frame], bool] | None = getattr(sender, "send_now", None)
        self.principal = principal
        self.limits = limits
        self.subscriptions: dict[str, Subscription] = {}
        self.closed = False
        self.close_code: int | None = None
        self.auth_generation = 0
        self._on_closed = on_closed
        self._queue: deque[Frame] | None = None  # made on first back-pressure (~0.6 KiB)
        self._queued_bytes = 0
        self._writer: asyncio.Task[None] | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._closer: asyncio.Task[None] | None = None
        self.set_expiry(expires_at)

    @property
    def user_id(self) -> str:
        return self.principal.user_id

    def set_expiry(self, expires_at: float | None) -> None:
        """Close with 4009 when the access token's `exp` passes (wall clock, seconds)."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if expires_at is None or self.closed:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, expires_at - time.time())
        self._expiry = loop.call_at(loop.time() + delay, self.close_soon,
                                    CLOSE_TOKEN_EXPIRED, "token expired")

    def push(self, frame: Frame) -> bool:
        if self.closed:
            return False
        queue = self._queue
        if queue is None:
            if self._writer is None:
                send_now = self._send_now
                if send_now is not None:
                    try:
                        if send_now(frame):
                            return True
                    except Exception:
                        self.close_soon(CLOSE_GOING_AWAY, "send failed", send_close=False)
                        return False
                return self._send_eagerly(frame)
            queue = self._queue = deque()
        if (len(queue) >= self.limits.max_messages
                or self._queued_bytes + frame.size > self.limits.max_bytes):
            log.info("slow consumer closed", user_id=self.user_id,
                     queued=len(queue), queued_bytes=self._queued_bytes)
            self.close_soon(CLOSE_SLOW_CONSUMER, "slow consumer")
            return False
        queue.append(frame)
        self._queued_bytes += frame.size
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())
        return True

    def _send_eagerly(self, frame: Frame) -> bool:
        """Send at once, eagerly (eager.py); a task takes over only if the send must wait."""
        try:
            rest = start_eagerly(self.sender.send(frame))
        except Exception:
            self.close_soon(CLOSE_GOING_AWAY, "send failed", send_close=False)
            return False
        if rest is not None:
            self._writer = asyncio.get_running_loop().create_task(self._finish(rest))
        return True

    async def _finish(self, rest: Awaitable[None]) -> None:
        try:
            await rest
        except asyncio.CancelledError:
            raise
        except Exception:
            self.close_soon(CLOSE_GOING_AWAY, "send failed", send_close=False)
            return
        await self._write()

    @property
    def queued(self) -> tuple[int, int]:
        return len(self._queue or ()), self._queued_bytes

    async def _write(self) -> None:
        send = self.sender.send
        try:
            while queue := self._queue:
                frame = queue.popleft()
                self._queued_bytes -= frame.size
                await send(frame)
        except asyncio.CancelledError:
            raise
        except Exception:  # the peer went away mid-send: the receive side notices and detaches
            self.close_soon(CLOSE_GOING_AWAY, "send failed", send_close=False)
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None
                if not self._queue:
                    self._queue = None  # drained: the next frame goes straight out again

    def close_soon(self, code: int, reason: str, *, send_close: bool = True,
                   flush: bool = False) -> None:
        """Stop delivering at once; detach from the hub; close the transport in the background.
        With `flush`, what is already queued (e.g. an error frame explaining why) goes first."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if not flush:
            self._queue = None
            self._queued_bytes = 0
        self._on_closed(self)
        if send_close:
            self._closer = asyncio.get_running_loop().create_task(
                self._close(code, reason, flush))
        elif self._writer is not None:
            self._writer.cancel()

    async def _close(self, code: int, reason: str, flush: bool = False) -> None:
        writer = self._writer
        if writer is not None:
            if flush:
                with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                    await asyncio.wait_for(asyncio.shield(writer), 10)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sender.close(code, reason), 10)

    async def finished(self) -> None:
        """Wait for the writer / closer to end (used when the receive side has ended)."""
        if not self.closed:
            self.close_soon(CLOSE_NORMAL, "bye", send_close=False)
        for task in (self._writer, self._closer):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
