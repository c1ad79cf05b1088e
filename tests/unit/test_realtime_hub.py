"""The hub's own logic, without I/O: an in-memory event log behind the EventSource port and
recording senders. Hand-over without gap or duplicate under concurrent appends, one decision
and one rendering per distinct view, invisible items never queued, slow consumers closed,
re-authorisation on access changes."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import replace

from wis_server.api.routes.stream import origin_allowed
from wis_server.domain.levels import Classification, Role, SpaceStatus, SpaceType
from wis_server.domain.model import ItemLabel, Participant, Principal, Space
from wis_server.realtime.connection import Limits
from wis_server.realtime.hub import Hub
from wis_server.realtime.ports import Change, Frame, Read, Wanted

C = Classification
SPACE = Space("S", "Övning", "", SpaceType.EXERCISE, C.HEMLIG, SpaceStatus.OPEN, "A", "u0",
              (Participant("A"), Participant("B")))


def person(user: str, actor: str, clearance: Classification, active: bool = True) -> Principal:
    return Principal(user, actor, user, Role.READER, clearance, C.HEMLIG, active)


class Log:
    """EventSource over a list: (seq, label, body)."""

    def __init__(self) -> None:
        self.events: list[tuple[int, ItemLabel, str]] = []
        self.current = SPACE
        self.people: dict[str, Principal] = {}
        self.loaded: list[str] = []  # bodies "decrypted"

    def append(self, body: str, label: ItemLabel | None = None) -> int:
        seq = len(self.events) + 1
        self.events.append((seq, label or ItemLabel(C.PUBLIC, None, "A"), body))
        return seq

    async def principal(self, user_id: str) -> Principal | None:
        await asyncio.sleep(0)
        return self.people.get(user_id)

    async def principals(self, user_ids: Sequence[str]) -> dict[str, Principal]:
        return {u: self.people[u] for u in user_ids if u in self.people}

    async def space(self, space_id: str) -> Space | None:
        await asyncio.sleep(0)
        return self.current if space_id == "S" else None

    async def heads(self, space_ids: Sequence[str]) -> dict[str, int]:
        return {"S": len(self.events)} if "S" in space_ids else {}

    async def changes(self, space_id: str, after: int, limit: int, wanted: Wanted
                      ) -> list[Change]:
        await asyncio.sleep(random.random() / 1000)  # let writers interleave
        out = []
        for seq, label, body in self.events[after:after + limit]:
            if wanted(label):
                self.loaded.append(body)
                out.append(Change("S", seq, "entry.created", f"e{seq}", (label,), body))
            else:
                out.append(Change("S", seq, "entry.created", f"e{seq}"))
        return out

    async def record_reads(self, reads: Sequence[Read]) -> None:
        return None


renders: list[tuple[int, tuple[bool, ...]]] = []


def render(change: Change, principal: Principal, space: Space, shown: tuple[bool, ...]
           ) -> str | None:
    renders.append((change.seq, shown))
    return json.dumps({"type": "event", "space_id": change.space_id, "seq": change.seq,
                       "event": change.kind, "data": {"body": change.item}})


class Recorder:
    def __init__(self, block: bool = False) -> None:
        self.frames: list[dict[str, object]] = []
        self.closed: int | None = None
        self.block = block

    async def send(self, frame: Frame) -> None:
        if self.block:
            await asyncio.Event().wait()
        self.frames.append(json.loads(frame.text))

    async def close(self, code: int, reason: str) -> None:
        self.closed = code

    def seqs(self) -> list[int]:
        return [int(f["seq"]) for f in self.frames if f["type"] == "event"]  # type: ignore[call-overload]


async def settle(done: Callable[[], object] | None = None) -> None:
    """Let the hub's tasks run (until `done()` holds, if given: the bound is only there so
    that a broken hub fails the test instead of hanging it)."""
    deadline = asyncio.get_running_loop().time() + 30.0
    while True:
        await asyncio.sleep(0.002)
        if done is None or done() or asyncio.get_running_loop().time() > deadline:
            break
    for _ in range(20):
        await asyncio.sleep(0)


async def test_subscribers_joining_during_concurrent_writes_get_every_event_once() -> None:
    for round_ in range(15):
        random.seed(round_)
        await _hand_over_round()


async def _hand_over_round() -> None:
    log = Log()
    hub = Hub(log, render, batch=7)
    await hub.start()
    reader = person("r", "A", C.PUBLIC)
    recorders = []
    for i in range(200):
        hub.space_changed("S", log.append(f"m{i}"))
        if i % 25 == 0:
            rec = Recorder()
            conn = hub.connect(rec, reader, None)
            await hub.subscribe(conn, "S", random.choice([0, max(0, i - 5), None]))
            recorders.append(rec)
        if random.random() < 0.3:
            await asyncio.sleep(0)
    await settle(lambda: all(r.seqs() and r.seqs()[-1] == 200 for r in recorders))
    for rec in recorders:
        seqs = rec.seqs()
        assert seqs == sorted(set(seqs)), "duplicate or out of order"
        assert seqs[-1] == 200
        assert seqs == list(range(seqs[0], 201)), "gap"
    await hub.stop()


async def test_invisible_items_are_not_loaded_or_sent_and_views_render_once() -> None:
    log = Log()
    renders.clear()
    hub = Hub(log, render)
    await hub.start()
    low = [Recorder() for _ in range(50)]
    high = [Recorder() for _ in range(50)]
    public_reader = person("p", "A", C.PUBLIC)
    cleared = person("h", "A", C.SEKRETESS)
    for rec in low:
        await hub.subscribe(hub.connect(rec, public_reader, None), "S", None)
    for rec in high:
        await hub.subscribe(hub.connect(rec, replace(cleared), None), "S", None)
    hub.space_changed("S", log.append("open"))
    hub.space_changed("S", log.append("secret", ItemLabel(C.SEKRETESS, None, "A")))
    hub.space_changed("S", log.append("hemligt", ItemLabel(C.HEMLIG, None, "A")))
    hub.space_changed("S", log.append("B only", ItemLabel(C.PUBLIC, frozenset({"B"}), "B")))
    # A last public event that everyone may see: once it has reached every socket, the hub
    # has handled the ones before it (in order), so nothing may still be on its way.
    hub.space_changed("S", log.append("end"))

    def bodies(r: Recorder) -> list[object]:
        return [f["data"]["body"] for f in r.frames[1:]]  # type: ignore[index]

    await settle(lambda: all(bodies(r)[-1:] == ["end"] for r in low + high))
    assert all(bodies(r) == ["open", "end"] for r in low)
    assert all(bodies(r) == ["open", "secret", "end"] for r in high)
    assert "hemligt" not in log.loaded and "B only" not in log.loaded  # never decrypted
    assert sorted(renders) == [(1, (True,)), (2, (True,)), (5, (True,))]  # once per view
    await hub.stop()


async def test_slow_consumer_is_closed_and_others_continue() -> None:
    log = Log()
    hub = Hub(log, render, limits=Limits(max_messages=5, max_bytes=1 << 20))
    await hub.start()
    reader = person("r", "A", C.PUBLIC)
    stuck, fine = Recorder(block=True), Recorder()
    await hub.subscribe(hub.connect(stuck, reader, None), "S", None)
    await hub.subscribe(hub.connect(fine, reader, None), "S", None)
    for i in range(20):
        hub.space_changed("S", log.append(f"m{i}"))
        await settle()
    await settle(lambda: stuck.closed == 4008 and fine.seqs()[-1:] == [20])
    assert stuck.closed == 4008
    assert fine.seqs() == list(range(1, 21))
    await hub.stop()


async def test_access_changes_reach_open_connections() -> None:
    log = Log()
    hub = Hub(log, render)
    await hub.start()
    b_reader = person("b", "B", C.SEKRETESS)
    off = person("x", "A", C.PUBLIC)
    log.people = {"b": b_reader, "x": off}
    rec_b, rec_x = Recorder(), Recorder()
    await hub.subscribe(hub.connect(rec_b, b_reader, None), "S", None)
    await hub.subscribe(hub.connect(rec_x, off, None), "S", None)
    # Actor B leaves the space: revoked, nothing after.
    log.current = replace(SPACE, participants=(Participant("A"),))
    hub.access_changed(space_id="S")
    hub.space_changed("S", log.append("after-leaving"))
    # User x is disabled: closed 4003.
    log.people["x"] = replace(off, active=False)
    hub.access_changed(user_id="x")
    await settle(lambda: rec_x.closed == 4003 and rec_b.frames[-1:] == [
        {"type": "revoked", "space_id": "S"}])
    assert rec_b.frames[-1] == {"type": "revoked", "space_id": "S"}
    assert rec_b.seqs() == []
    assert rec_x.closed == 4003
    await hub.stop()


def test_origin_check() -> None:
    host = {"host": "wis.example.se"}
    assert origin_allowed(host, ())  # no Origin: not a browser
    assert origin_allowed({**host, "origin": "https://wis.example.se"}, ())
    assert not origin_allowed({**host, "origin": "https://evil.example"}, ())
    assert not origin_allowed({**host, "origin": "null"}, ())
    allowed = ("https://app.example.se",)
    assert origin_allowed({**host, "origin": "https://app.example.se"}, allowed)
    assert not origin_allowed({**host, "origin": "https://wis.example.se"}, allowed)


class CountingLog(Log):
    """A Log that counts calls to the source, per method."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def space(self, space_id: str) -> Space | None:
        self.calls.append("space")
        return await super().space(space_id)

    async def heads(self, space_ids: Sequence[str]) -> dict[str, int]:
        self.calls.append("heads")
        return await super().heads(space_ids)


async def test_refused_subscriptions_allocate_nothing_and_cost_the_same_as_missing() -> None:
    log = CountingLog()
    hub = Hub(log, render)
    await hub.start()
    stranger = person("z", "Z", C.HEMLIG)  # actor Z does not take part in S
    probe = Recorder()
    conn = hub.connect(probe, stranger, None)
    for _ in range(50):
        await hub.subscribe(conn, "S", None)  # invisible
        await hub.subscribe(conn, "missing", None)
    await settle()
    assert hub.followed() == [] and not hub.registry.feeds and not hub.tasks  # nothing left
    assert {f["code"] for f in probe.frames} == {"not_found"}  # type: ignore[misc]
    # Someone follows S: probing it must still look (and cost) exactly like a missing space.
    member = person("m", "A", C.PUBLIC)
    await hub.subscribe(hub.connect(Recorder(), member, None), "S", None)
    await settle()
    log.calls.clear()
    await hub.subscribe(conn, "S", 0)
    invisible_calls, log.calls = log.calls, []
    await hub.subscribe(conn, "missing", 0)
    assert invisible_calls == log.calls == ["space"]
    assert probe.frames[-1] == {"type": "error", "code": "not_found",
                                "message": "no such space", "space_id": "missing"}
    assert probe.frames[-2] == {**probe.frames[-1], "space_id": "S"}
    assert hub.followed() == ["S"] and len(hub.registry.feeds["S"].subscribers) == 1
    await hub.stop()
