"""Connection.push with a sender that can write synchronously (the websocket's `send_now`):
no task while the socket takes frames; under back-pressure the frames queue, go out in order
through the awaited `send`, and the next frame after the drain goes straight out again."""

from __future__ import annotations

import asyncio

from wis_server.domain.levels import Classification, Role
from wis_server.domain.model import Principal
from wis_server.realtime.connection import CLOSE_SLOW_CONSUMER, Connection, Limits, control


class Sender:
    def __init__(self) -> None:
        self.now: list[str] = []
        self.later: list[str] = []
        self.room = True
        self.drained = asyncio.Event()
        self.closed: int | None = None

    def send_now(self, frame: object) -> bool:
        if not self.room:
            return False
        self.now.append(frame.type)  # type: ignore[attr-defined]
        return True

    async def send(self, frame: object) -> None:
        await self.drained.wait()
        self.later.append(frame.type)  # type: ignore[attr-defined]

    async def close(self, code: int, reason: str) -> None:
        self.closed = code


def principal() -> Principal:
    return Principal("u1", "A", "alice", Role.READER, Classification.PUBLIC,
                     Classification.PUBLIC)


async def test_frames_go_out_synchronously_then_queue_in_order_under_back_pressure() -> None:
    sender = Sender()
    conn = Connection(sender, principal(), None, Limits(max_messages=3), lambda c: None)
    tasks = len(asyncio.all_tasks())
    assert conn.push(control("a")) and conn.push(control("b"))
    assert sender.now == ["a", "b"] and len(asyncio.all_tasks()) == tasks
    sender.room = False
    for name in ("c", "d", "e"):
        assert conn.push(control(name))
    sender.room = True  # room again, but queued frames go first: order is kept
    assert conn.push(control("f"))
    assert sender.now == ["a", "b"] and conn.queued[0] == 3
    sender.drained.set()
    for _ in range(100):
        if len(sender.later) == 4:
            break
        await asyncio.sleep(0)
    assert sender.later == ["c", "d", "e", "f"] and conn.queued == (0, 0)
    await asyncio.sleep(0)
    assert conn.push(control("g"))
    assert sender.now == ["a", "b", "g"]
    await conn.finished()


async def test_the_queue_bound_still_closes_a_slow_consumer() -> None:
    sender = Sender()
    sender.room = False
    closed: list[Connection] = []
    conn = Connection(sender, principal(), None, Limits(max_messages=2), closed.append)
    assert conn.push(control("a"))  # in flight
    assert conn.push(control("b")) and conn.push(control("c"))  # queued: the bound
    assert not conn.push(control("d"))
    assert conn.closed and conn.close_code == CLOSE_SLOW_CONSUMER and closed == [conn]
    await conn.finished()
