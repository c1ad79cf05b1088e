"""Issue 8 item 3 (server): when a connected reader's rights narrow but the space stays
readable — their clearance lowered, their actor's ceiling lowered — the live stream sends an
id-only frame for every entry (`entry.withdrawn`) and every section of a current situation
report (`situation_report.section_withdrawn`) they could read before and cannot now; nothing
for what they still may read; the subscription goes on. Both databases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from tests.conftest import World
from tests.helpers import create_space, post_entry
from wis_server.realtime.ports import Frame


class _Sink:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None
        self.changed = asyncio.Event()

    async def send(self, frame: Frame) -> None:
        self.frames.append(json.loads(frame.text))
        self.changed.set()

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self.changed.set()

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == "event" and f.get("event") == kind]

    async def until(self, done: Callable[[], bool]) -> None:
        async def wait() -> None:
            while not done():
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(wait(), 30)


async def _setup(world: World) -> tuple[str, dict[str, str], str]:
    c, a, b = world.client, world.actors["A"], world.actors["B"]
    sid = (await create_space(c, world["a_editor"], participants=[b]))["id"]
    ids = {
        "sek": (await post_entry(c, world["a_editor"], sid, level="sekretess",
                                 body="Sekretess till B", audience=[a, b]))["id"],
        "pub": (await post_entry(c, world["a_editor"], sid, level="public",
                                 body="Öppet för alla"))["id"],
    }
    r = await c.post(f"/api/v1/spaces/{sid}/situation-reports", headers=world["a_editor"].auth,
                     json={"scope": "joint", "sections": [
                         {"key": "current_situation", "classification": "public",
                          "body": "Läget"},
                         {"key": "consequences", "classification": "sekretess",
                          "body": "Konsekvenser", "audience": [a, b]}]})
    assert r.status_code == 201, r.text
    return sid, ids, str(r.json()["id"])


async def _follow(world: World, username: str, sid: str) -> _Sink:
    hub = world.app.state.hub
    principal = await world.app.state.services.directory.principal(world[username].user_id)
    sink = _Sink()
    conn = hub.connect(sink, principal, None)
    await hub.subscribe(conn, sid, None)
    await sink.until(lambda: any(f["type"] == "subscribed" for f in sink.frames))
    return sink


async def test_lowered_clearance_withdraws_what_became_unreadable(world: World) -> None:
    sid, ids, report_id = await _setup(world)
    sink = await _follow(world, "b_editor", sid)
    r = await world.client.patch(f"/api/v1/users/{world['b_editor'].user_id}",
                                 headers=world["b_admin"].auth, json={"clearance": "public"})
    assert r.status_code == 200, r.text
    await sink.until(lambda: sink.events("entry.withdrawn")
                     and sink.events("situation_report.section_withdrawn"))
    assert [f["data"] for f in sink.events("entry.withdrawn")] == [{"id": ids["sek"]}]
    assert [f["data"] for f in sink.events("situation_report.section_withdrawn")] == [
        {"id": report_id, "key": "consequences"}]
    for frame in sink.events("entry.withdrawn") + \
            sink.events("situation_report.section_withdrawn"):
        assert frame["space_id"] == sid and frame["seq"] is None  # not an event of the log
    assert not any(f["type"] == "revoked" for f in sink.frames) and sink.closed is None
    # The subscription goes on under the new rights.
    await post_entry(world.client, world["a_editor"], sid, level="public", body="Därefter")
    await sink.until(lambda: bool(sink.events("entry.created")))
    assert [f["data"]["body"] for f in sink.events("entry.created")] == ["Därefter"]


async def test_lowered_actor_ceiling_withdraws_too_and_readers_below_get_nothing(
        world: World) -> None:
    sid, ids, _ = await _setup(world)
    editor = await _follow(world, "b_editor", sid)
    reader = await _follow(world, "b_reader", sid)  # public clearance: never saw either
    r = await world.client.patch(f"/api/v1/actors/{world.actors['B']}",
                                 headers=world["sys"].auth,
                                 json={"clearance_ceiling": "public"})
    assert r.status_code == 200, r.text
    await editor.until(lambda: bool(editor.events("entry.withdrawn")))
    assert [f["data"] for f in editor.events("entry.withdrawn")] == [{"id": ids["sek"]}]
    # The public reader's rights did not narrow: re-decided, but told nothing.
    await post_entry(world.client, world["a_editor"], sid, level="public", body="Sist")
    await reader.until(lambda: bool(reader.events("entry.created")))
    assert reader.events("entry.withdrawn") == []
    assert reader.events("situation_report.section_withdrawn") == []
