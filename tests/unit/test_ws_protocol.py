"""The websocket protocol `wis serve` runs (api/ws_protocol.py): uvicorn's sans-I/O protocol
with `wis.write_frame` — a pre-serialised frame written synchronously while the connection is
open and its buffer has room, refused (False) under back-pressure and once closing — and the
lighter receive queue and writable flag it swaps in for asyncio's."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from wis_server.api.ws_protocol import WRITE_FRAME, WisWebSocketProtocol, _Flag, _Inbox, text_frame


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closing = False

    def write(self, data: Any) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default)


def frames_in(data: bytes) -> list[Frame]:
    reader = StreamReader()
    reader.feed_data(data)
    frames = []
    while True:
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as done:
            frames.append(done.value)
            continue
        return frames


async def test_write_frame_writes_while_open_and_refuses_under_back_pressure_and_closing(
        ) -> None:
    writes: list[bool] = []
    go_on = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        write = scope["extensions"][WRITE_FRAME]
        writes.append(write(text_frame(b"before accept")))
        await send({"type": "websocket.accept"})
        writes.append(write(text_frame("hej å ä ö".encode())))
        await go_on.wait()
        writes.append(write(text_frame(b"paused")))
        protocol.resume_writing()
        writes.append(write(text_frame(b"resumed")))
        await send({"type": "websocket.close", "code": 4008})
        writes.append(write(text_frame(b"after close")))

    config = Config(app, ws=WisWebSocketProtocol, lifespan="off")
    config.load()
    protocol = WisWebSocketProtocol(config, ServerState(), {})
    transport = FakeTransport()
    protocol.connection_made(transport)
    key = base64.b64encode(b"0123456789abcdef").decode()
    protocol.data_received(
        f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: 13\r\n\r\n".encode())
    for _ in range(100):
        if len(writes) == 2:
            break
        await asyncio.sleep(0)
    protocol.pause_writing()
    go_on.set()
    for _ in range(100):
        if len(writes) == 5:
            break
        await asyncio.sleep(0)
    assert writes == [False, True, False, True, False]
    head, _, rest = bytes(transport.written).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    sent = frames_in(rest)
    assert [(f.opcode, bytes(f.data)) for f in sent[:2]] == [
        (Opcode.TEXT, "hej å ä ö".encode()), (Opcode.TEXT, b"resumed")]
    assert sent[2].opcode is Opcode.CLOSE and sent[2].data[:2] == (4008).to_bytes(2, "big")
    assert "request" not in protocol.__dict__ and "response" not in protocol.__dict__


async def test_inbox_hands_items_over_in_order_and_a_cancelled_get_leaves_nothing_behind(
        ) -> None:
    inbox = _Inbox()
    getter = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not getter.done()
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert await getter == 1
    assert not inbox.empty()
    assert await inbox.get() == 2
    assert inbox.empty()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(inbox.get(), 0.01)
    inbox.put_nowait(3)  # nobody waits now: kept for the next get
    assert await inbox.get() == 3


async def test_flag_waiters_wake_when_set_and_a_cancelled_waiter_is_forgotten() -> None:
    flag = _Flag()
    assert flag.is_set() and await flag.wait()
    flag.clear()
    waiters = [asyncio.ensure_future(flag.wait()) for _ in range(2)]
    cancelled = asyncio.ensure_future(flag.wait())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    assert flag._waiters is not None and len(flag._waiters) == 2
    assert not any(w.done() for w in waiters)
    flag.set()
    assert await asyncio.gather(*waiters) == [True, True]
    assert flag._waiters is None
