"""Entries and situation-report sections resolve read right (läsrätt) by the same rule: for
each (level, requested audience) the stored audience is the same, and when an actor joins
later, it can read exactly the same cases in both — only what was addressed to everyone
(null, public), never a list that named every participant of the day (README, issue 9)."""

from __future__ import annotations

from typing import Any

from tests.conftest import World
from tests.helpers import create_space, post_entry


async def test_entries_and_report_sections_resolve_audience_alike(world: World) -> None:
    c, a = world.client, world["a_editor"]
    A, B, C = world.actors["A"], world.actors["B"], world.actors["C"]
    sid = (await create_space(c, a, participants=[B]))["id"]
    cases: list[tuple[str, str, list[str] | None]] = [
        # report section key, level, requested audience
        ("event", "public", None),
        ("current_situation", "public", [A, B]),
        ("consequences", "public", [B]),
        ("measures_taken", "public", []),
        ("planned_measures", "sekretess", None),
        ("needs", "sekretess", [B]),
    ]
    entries: dict[str, dict[str, Any]] = {}
    sections = []
    for key, level, requested in cases:
        entries[key] = await post_entry(c, a, sid, level=level, body=f"inlägg {key}",
                                        audience=requested)
        section: dict[str, Any] = {"key": key, "classification": level,
                                   "body": f"avsnitt {key}"}
        if requested is not None:
            section["audience"] = requested
        sections.append(section)
    r = await c.post(f"/api/v1/spaces/{sid}/situation-reports", headers=a.auth,
                     json={"scope": "actor", "sections": sections})
    assert r.status_code == 201, r.text
    stored = {s["key"]: s["audience"] for s in r.json()["sections"]}
    for key, _level, _requested in cases:
        assert stored[key] == entries[key]["audience"], key
    assert stored["event"] is None
    assert sorted(stored["current_situation"]) == sorted([A, B])  # kept as a list
    assert stored["measures_taken"] == [A]
    assert stored["planned_measures"] == [A]

    # C joins later: it reads the same cases in the log as in the report — only "everyone".
    r = await c.patch(f"/api/v1/spaces/{sid}", headers=a.auth, json={"participants": [
        {"actor_id": A}, {"actor_id": B}, {"actor_id": C}]})
    assert r.status_code == 200, r.text
    reader = world["c_editor"]
    r = await c.get(f"/api/v1/spaces/{sid}/entries", headers=reader.auth)
    in_log = {e["body"].removeprefix("inlägg ") for e in r.json()["items"]}
    r = await c.get(f"/api/v1/spaces/{sid}/situation-reports/latest", headers=reader.auth,
                    params={"scope": "actor", "actor_id": A})
    assert r.status_code == 200, r.text
    in_report = {s["key"] for s in r.json()["sections"]}
    assert in_log == in_report == {"event"}
    # and B, a participant from the start, reads the same set in both as well
    r = await c.get(f"/api/v1/spaces/{sid}/entries", headers=world["b_editor"].auth)
    in_log = {e["body"].removeprefix("inlägg ") for e in r.json()["items"]}
    r = await c.get(f"/api/v1/spaces/{sid}/situation-reports/latest",
                    headers=world["b_editor"].auth, params={"scope": "actor", "actor_id": A})
    assert in_log == {s["key"] for s in r.json()["sections"]} == {
        "event", "current_situation", "consequences", "needs"}
