"""Situation reports: what a publisher cannot read is carried forward, never dropped (issue 8
item 2); every participant sees every version, so numbers reveal no hidden ones (issue 7
item 10); read right is refused for actors whose ceiling is below the level (issue 8 item 10)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import World
from tests.helpers import assert_problem, create_space, post_entry
from wis_server.domain.levels import Classification, Role


async def _publish(world: World, who: str, sid: str, sections: list[dict[str, Any]],
                   scope: str) -> Any:
    return await world.client.post(f"/api/v1/spaces/{sid}/situation-reports",
                                   headers=world[who].auth,
                                   json={"scope": scope, "sections": sections})


def _sec(key: str, level: str, body: str) -> dict[str, Any]:
    return {"key": key, "classification": level, "body": body}


@pytest.mark.parametrize("scope", ["joint", "actor"])
async def test_publisher_never_drops_what_they_cannot_read(world: World, scope: str) -> None:
    c = world.client
    await world.add_person("a_sek", "A", Role.EDITOR, Classification.SEKRETESS)
    sid = (await create_space(c, world["a_editor"], participants=[world.actors["B"]]))["id"]
    r = await _publish(world, "a_editor", sid, [
        _sec("event", "hemlig", "Hemlig bakgrund"),
        _sec("current_situation", "public", "Läget v1"),
        _sec("consequences", "sekretess", "Konsekvenser v1")], scope)
    assert r.status_code == 201, r.text
    assert r.json()["kept_unreadable"] == 0

    # The sekretess editor sees two sections; changes one, drops the other (they can read it).
    params = {"scope": scope}
    r = await c.get(f"/api/v1/spaces/{sid}/situation-reports/latest",
                    headers=world["a_sek"].auth, params=params)
    assert [s["key"] for s in r.json()["sections"]] == ["current_situation", "consequences"]
    r = await _publish(world, "a_sek", sid, [_sec("current_situation", "public", "Läget v2")],
                       scope)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["kept_unreadable"] == 1
    assert [s["key"] for s in doc["sections"]] == ["current_situation"]
    assert "Hemlig" not in r.text

    r = await c.get(f"/api/v1/spaces/{sid}/situation-reports/latest",
                    headers=world["a_editor"].auth, params=params)
    assert r.json()["version"] == 2
    assert [(s["key"], s["classification"], s["body"]) for s in r.json()["sections"]] == [
        ("event", "hemlig", "Hemlig bakgrund"), ("current_situation", "public", "Läget v2")]

    # Changing (or replacing) the section they cannot read is refused, and changes nothing.
    r = await _publish(world, "a_sek", sid, [_sec("event", "sekretess", "Skrivet över")], scope)
    assert assert_problem(r, 409)["code"] == "section_not_readable"
    r = await c.get(f"/api/v1/spaces/{sid}/situation-reports", headers=world["a_editor"].auth,
                    params=params)
    assert [v["version"] for v in r.json()["items"]] == [2, 1]

    # Someone who can read it may remove it.
    r = await _publish(world, "a_editor", sid, [_sec("current_situation", "public", "v3")],
                       scope)
    assert r.status_code == 201 and r.json()["kept_unreadable"] == 0
    r = await c.get(f"/api/v1/spaces/{sid}/situation-reports/latest",
                    headers=world["a_editor"].auth, params=params)
    assert [s["key"] for s in r.json()["sections"]] == ["current_situation"]


async def test_every_version_is_listed_to_every_participant(world: World) -> None:
    c, reader = world.client, world["b_reader"]
    sid = (await create_space(c, world["a_editor"], participants=[world.actors["B"]]))["id"]
    for sections in ([_sec("event", "public", "v1")], [_sec("event", "hemlig", "v2 hemlig")],
                     [_sec("event", "public", "v3")]):
        assert (await _publish(world, "a_editor", sid, sections, "joint")).status_code == 201
    url = f"/api/v1/spaces/{sid}/situation-reports"
    r = await c.get(url, headers=reader.auth)
    # No gap: version 2 (entirely above the reader) is listed like the others.
    assert [v["version"] for v in r.json()["items"]] == [3, 2, 1]
    r = await c.get(f"{url}/2", headers=reader.auth)
    assert r.status_code == 200 and r.json()["sections"] == [] and "hemlig" not in r.text
    # A missing version answers 404 and there is no other 404 for a participant: hidden and
    # missing cannot be told apart because nothing is hidden behind a 404 any more.
    assert_problem(await c.get(f"{url}/4", headers=reader.auth), 404)
    r = await c.get(f"{url}/latest", headers=reader.auth)
    assert r.json()["version"] == 3 and [s["body"] for s in r.json()["sections"]] == ["v3"]
    # Own reports too: the list of reporting actors does not depend on what one can read.
    assert (await _publish(world, "a_editor", sid, [_sec("event", "hemlig", "egen")],
                           "actor")).status_code == 201
    r = await c.get(url, headers=reader.auth)
    assert r.json()["reporting_actors"] == [world.actors["A"]]
    r = await c.get(url, headers=reader.auth, params={"scope": "actor",
                                                      "actor_id": world.actors["A"]})
    assert [v["version"] for v in r.json()["items"]] == [1]


async def test_read_right_refused_for_actor_whose_ceiling_is_below_the_level(
        world: World) -> None:
    c, a = world.client, world["a_editor"]
    b, cc = world.actors["B"], world.actors["C"]
    sid = (await create_space(c, a, participants=[b, cc]))["id"]
    r = await c.post(f"/api/v1/spaces/{sid}/entries", headers=a.auth, json={
        "kind": "note", "classification": "hemlig", "body": "x", "audience": [b]})
    problem = assert_problem(r, 422)
    assert problem["code"] == "audience_below_level" and b in problem["detail"]
    r = await c.post(f"/api/v1/spaces/{sid}/entries", headers=a.auth, json={
        "kind": "note", "classification": "sekretess", "body": "x", "audience": [b, cc]})
    assert assert_problem(r, 422)["code"] == "audience_below_level"
    # At B's ceiling it is fine; widening a hemlig entry to B afterwards is refused too.
    await post_entry(c, a, sid, level="sekretess", body="ok", audience=[b])
    hemlig = await post_entry(c, a, sid, level="hemlig", body="h")
    r = await c.patch(f"/api/v1/spaces/{sid}/entries/{hemlig['id']}", headers=a.auth,
                      json={"audience": [b]})
    assert assert_problem(r, 422)["code"] == "audience_below_level"
    r = await _publish(world, "a_editor", sid, [
        {**_sec("event", "hemlig", "h"), "audience": [b]}], "joint")
    assert assert_problem(r, 422)["code"] == "audience_below_level"
    # Public stays open to everyone, whatever their ceiling.
    await post_entry(c, a, sid, level="public", body="p", audience=[b, cc])


async def test_space_names_each_participants_ceiling(world: World) -> None:
    """The client counts "läsrätt hos N av M" only over actors whose ceiling reaches the
    level: the server says each participant's ceiling."""
    c, a = world.client, world["a_editor"]
    sid = (await create_space(c, a, participants=[world.actors["B"], world.actors["C"]]))["id"]
    for r in (await c.get(f"/api/v1/spaces/{sid}", headers=a.auth),):
        ceilings = {p["actor_id"]: p["clearance_ceiling"] for p in r.json()["participants"]}
        assert ceilings == {world.actors["A"]: "hemlig", world.actors["B"]: "sekretess",
                            world.actors["C"]: "public"}
    listed = (await c.get("/api/v1/spaces", headers=world["c_editor"].auth)).json()["items"]
    assert {p["clearance_ceiling"] for p in listed[0]["participants"]} == {
        "hemlig", "sekretess", "public"}
