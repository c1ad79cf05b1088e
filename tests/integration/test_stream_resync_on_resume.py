"""Issue 8 item 3 (server, offline case): a reader who was offline while their own rights
narrowed — clearance lowered, their actor's ceiling lowered — is told on resume: the log of
every space of their actor holds a marker at that point, and whoever it concerns and resumes
from before it gets `space.resync` (websocket replay and long-poll alike); nobody else, no
one who resumes from after it, and nothing at all when nothing narrowed. Both databases."""

from __future__ import annotations

from typing import Any

from tests.conftest import World
from tests.helpers import create_space, post_entry
from tests.integration.test_stream_withdrawal_on_narrowing import _Sink

RESYNC = "space.resync"


async def _space_read_by_b(world: World) -> tuple[str, int]:
    """A space of A and B with a SEKRETESS entry B may read; its head (what B's screen was
    loaded up to before going offline)."""
    c, a, b = world.client, world.actors["A"], world.actors["B"]
    sid = (await create_space(c, world["a_editor"], participants=[b]))["id"]
    await post_entry(c, world["a_editor"], sid, level="sekretess", body="Till B",
                     audience=[a, b])
    return sid, await _head(world, sid)


async def _head(world: World, sid: str) -> int:
    r = await world.client.get(f"/api/v1/spaces/{sid}/entries",
                               headers=world["a_editor"].auth)
    assert r.status_code == 200, r.text
    return int(r.json()["head"])


async def _poll(world: World, username: str, sid: str, after: int) -> dict[str, Any]:
    r = await world.client.get(f"/api/v1/spaces/{sid}/events", params={"after": after},
                               headers=world[username].auth)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _resyncs(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in items if f.get("event") == RESYNC]


async def _resume(world: World, username: str, sid: str, after: int) -> _Sink:
    """A websocket-equivalent subscription through the hub, resuming from `after`; returns
    once a public entry posted afterwards has arrived (so everything before it has, too)."""
    hub = world.app.state.hub
    principal = await world.app.state.services.directory.principal(world[username].user_id)
    sink = _Sink()
    conn = hub.connect(sink, principal, None)
    await hub.subscribe(conn, sid, after)
    marker = f"efter {username} {after}"
    await post_entry(world.client, world["a_editor"], sid, level="public", body=marker)
    await sink.until(lambda: any(f["data"].get("body") == marker
                                 for f in sink.events("entry.created")))
    return sink


async def test_lowered_clearance_while_offline_resyncs_on_resume(world: World) -> None:
    sid, seen_up_to = await _space_read_by_b(world)
    other = (await create_space(world.client, world["b_editor"], participants=[],
                                classification="sekretess", title="Egen"))["id"]
    other_head = await _head_of(world, "b_editor", other)
    # b_editor is offline; B's administrator lowers their clearance.
    r = await world.client.patch(f"/api/v1/users/{world['b_editor'].user_id}",
                                 headers=world["b_admin"].auth, json={"clearance": "public"})
    assert r.status_code == 200, r.text
    head = await _head(world, sid)
    assert head == seen_up_to + 1  # one marker in the log of this space

    # Long-poll from before the marker: the resync at the marker's seq, and nothing readable.
    page = await _poll(world, "b_editor", sid, seen_up_to)
    assert [(f["seq"], f["data"]) for f in _resyncs(page["items"])] == [(head, {})]
    assert [f["event"] for f in page["items"]] == [RESYNC]
    # Every space of the actor has one (not only those with classified items).
    page = await _poll(world, "b_editor", other, other_head)
    assert [f["seq"] for f in _resyncs(page["items"])] == [other_head + 1]

    # The websocket replay from before the marker says the same, before what follows.
    sink = await _resume(world, "b_editor", sid, seen_up_to)
    events = [f["event"] for f in sink.frames if f["type"] == "event"]
    assert events == [RESYNC, "entry.created"], events
    assert sink.events(RESYNC)[0]["seq"] == head

    # A view reloaded after the narrowing (resuming from the reloaded head) is not told again,
    # and nobody else is told anything.
    assert _resyncs((await _poll(world, "b_editor", sid, head))["items"]) == []
    for username in ("a_editor", "b_reader", "b_speaker"):
        assert _resyncs((await _poll(world, username, sid, seen_up_to))["items"]) == []
    again = await _resume(world, "b_editor", sid, head)
    assert again.events(RESYNC) == []


async def test_lowered_ceiling_while_offline_resyncs_those_it_caps(world: World) -> None:
    sid, seen_up_to = await _space_read_by_b(world)
    r = await world.client.patch(f"/api/v1/actors/{world.actors['B']}",
                                 headers=world["sys"].auth,
                                 json={"clearance_ceiling": "public"})
    assert r.status_code == 200, r.text
    for username in ("b_editor", "b_speaker"):  # sekretess-cleared: the ceiling now caps them
        page = await _poll(world, username, sid, seen_up_to)
        assert [f["seq"] for f in _resyncs(page["items"])] == [seen_up_to + 1]
    for username in ("b_reader", "a_editor"):  # public-cleared, or another actor: lost nothing
        assert _resyncs((await _poll(world, username, sid, seen_up_to))["items"]) == []


async def test_no_resync_and_no_marker_when_nothing_narrowed(world: World) -> None:
    sid, seen_up_to = await _space_read_by_b(world)
    auth = world["b_admin"].auth
    r = await world.client.patch(f"/api/v1/users/{world['b_reader'].user_id}", headers=auth,
                                 json={"display_name": "Läsare B", "role": "editor"})
    assert r.status_code == 200, r.text
    r = await world.client.patch(f"/api/v1/actors/{world.actors['C']}",
                                 headers=world["sys"].auth,
                                 json={"clearance_ceiling": "public", "name": "Aktör C AB"})
    assert r.status_code == 200, r.text
    r = await world.client.patch(f"/api/v1/actors/{world.actors['B']}",
                                 headers=world["sys"].auth, json={"name": "Kommun B"})
    assert r.status_code == 200, r.text
    assert await _head(world, sid) == seen_up_to  # nothing written to the log
    sink = await _resume(world, "b_editor", sid, seen_up_to)
    assert sink.events(RESYNC) == []


async def _head_of(world: World, username: str, sid: str) -> int:
    r = await world.client.get(f"/api/v1/spaces/{sid}/entries", headers=world[username].auth)
    assert r.status_code == 200, r.text
    return int(r.json()["head"])
