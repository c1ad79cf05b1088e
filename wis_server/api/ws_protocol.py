"""The websocket transport `wis serve` runs: uvicorn's sans-I/O `websockets` protocol (the
websockets library's `ServerProtocol` does the handshake, parsing, ping/pong and the closing
handshake) with one ASGI extension for fan-out, `wis.write_frame`, and less memory per idle
connection.

Why the extension: with ASGI every frame to every socket is a message dict, an awaited `send`,
a frame serialised per socket and a check of the write buffer; fanning one event out to
thousands of sockets repeats that thousands of times. A server-to-client frame is never masked
and we never compress (see cli.py), so its bytes are the same on every socket:
`wis.write_frame(wire)` writes an already serialised frame synchronously, or returns False when
it cannot go now (the transport's buffer is over its high-water mark, the connection is not
open) — the caller then sends through plain ASGI `send`, which waits for the buffer to drain or
raises on a closed connection. Accept, receive, close codes and ping stay uvicorn's.

Why the memory work: 10,000 idle connections are the normal case. uvicorn keeps an
`asyncio.Queue` (four deques of ~0.6 KiB each, allocated up front) and an `asyncio.Event` per
connection, and the parsed handshake request and response for the connection's whole life.
`_Inbox` and `_Flag` do what uvicorn asks of those two (one reader; a flag that senders wait
on) without preallocated deques, and the handshake objects are dropped once answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode

WRITE_FRAME = "wis.write_frame"
"""The scope extension: a callable `(wire: bytes) -> bool`."""

WriteFrame = Callable[[bytes], bool]


def text_frame(data: bytes) -> bytes:
    """A complete, unmasked, uncompressed text frame carrying `data` (UTF-8), as the server
    sends it on every connection."""
    return Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])


class _Inbox:
    """The received-events queue uvicorn's protocol reads from: `put_nowait`, `get` (one
    reader at a time, as ASGI's `receive`), `empty`."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items


class _Flag:
    """The `writable` flag: set, clear, is_set, and `wait` until set (any number of waiters)."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        while not self._set:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if self._waiters is not None and waiter in self._waiters:
                    self._waiters.remove(waiter)
        return True


class WisWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O websockets protocol, offering `wis.write_frame` to the app."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Flag()  # type: ignore[assignment]

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        del self.request  # uvicorn reads neither again; `response` goes once it is sent
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][WRITE_FRAME] = self.write_frame
        else:
            del self.response

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete and "response" in self.__dict__:
            del self.response

    def write_frame(self, wire: bytes) -> bool:
        """Write a serialised data frame now; False when it must wait or cannot be sent."""
        if (self.close_sent or not self.handshake_complete or not self.writable.is_set()
                or self.initial_response is not None or self.transport.is_closing()):
            return False
        self.transport.write(wire)
        return True
