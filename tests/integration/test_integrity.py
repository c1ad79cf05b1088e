"""A damaged or tampered row must not blind a whole log: it is left out of lists, loudly
(audit record with its id), while a direct read of it still refuses to answer anything."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import World
from tests.helpers import assert_problem, create_space, post_entry, raw_execute
from wis_server.classification.crypto import FieldContext
from wis_server.domain.levels import Classification


async def test_a_tampered_entry_is_left_out_of_the_log_and_reported(
        world: World, database_url: str) -> None:
    c, a = world.client, world["a_editor"]
    r = await c.post("/api/v1/spaces", headers=a.auth, json={
        "title": "Storm", "type": "disruption", "classification": "sekretess"})
    sid = r.json()["id"]
    ids = []
    for body in ("ett", "två", "tre"):
        r = await c.post(f"/api/v1/spaces/{sid}/entries", headers=a.auth,
                         json={"kind": "note", "classification": "public", "body": body})
        ids.append(r.json()["id"])
    # Swap the middle entry's ciphertext for the first one's: it no longer authenticates.
    await raw_execute(database_url, "UPDATE entries SET body_ct = (SELECT body_ct FROM entries "
                      "WHERE id = $1) WHERE id = $2", ids[0], ids[1])

    r = await c.get(f"/api/v1/spaces/{sid}/entries", headers=a.auth)
    assert r.status_code == 200
    assert [e["body"] for e in r.json()["items"]] == ["ett", "tre"]
    r = await c.get(f"/api/v1/spaces/{sid}/entries/{ids[1]}", headers=a.auth)
    assert assert_problem(r, 409)["code"] == "integrity_failure" and "ett" not in r.text

    trail = (await c.get("/api/v1/audit", headers=world["sys"].auth,
                         params={"limit": 1000})).json()["items"]
    failures = [x for x in trail if x["action"] == "integrity.failure"]
    # One from the list, one from the single read: both fail closed, both on the trail.
    assert [f["detail"]["items"] for f in failures] == [[ids[1]], [ids[1]]]


TAMPERING: dict[str, tuple[str, Any]] = {
    # A database writer re-attributes, re-kinds, re-dates or re-orders an entry.
    "author": ("UPDATE entries SET author_id = $1 WHERE id = $2", "other_author"),
    "kind": ("UPDATE entries SET kind = $1 WHERE id = $2", "decision"),
    "time": ("UPDATE entries SET created_at = (SELECT created_at FROM entries WHERE id = $1) "
             "WHERE id = $2", "first_entry"),
    "seq": ("UPDATE entries SET seq = seq + $1 WHERE id = $2", 1000),
}


@pytest.mark.parametrize("change", sorted(TAMPERING))
async def test_an_entry_changed_beside_its_ciphertext_fails_closed(
        world: World, database_url: str, change: str) -> None:
    c, a, b = world.client, world["a_editor"], world["b_editor"]
    space = await create_space(c, a, participants=[world.actors["B"]])
    sid = space["id"]
    first = await post_entry(c, a, sid, level="public", body="först")
    target = await post_entry(c, a, sid, level="sekretess", body="lägesbild",
                              audience=[world.actors["A"], world.actors["B"]])
    sql, value = TAMPERING[change]
    arg: Any = {"other_author": b.user_id, "first_entry": first["id"]}.get(str(value), value)
    await raw_execute(database_url, sql, arg, target["id"])

    r = await c.get(f"/api/v1/spaces/{sid}/entries", headers=a.auth)
    assert r.status_code == 200 and [e["id"] for e in r.json()["items"]] == [first["id"]]
    r = await c.get(f"/api/v1/spaces/{sid}/entries/{target['id']}", headers=a.auth)
    problem = assert_problem(r, 409)
    assert problem["code"] == "integrity_failure" and "lägesbild" not in r.text
    rows = await raw_execute(database_url, "SELECT CAST(detail AS TEXT) FROM audit_log "
                             "WHERE action = 'integrity.failure'")
    assert len(rows) == 2 and all(target["id"] in row[0] for row in rows)


async def test_entries_written_before_the_binding_are_still_read(
        world: World, database_url: str) -> None:
    """Rows sealed in the old format (table, row, field, space, level only) stay readable;
    a row in the new format does not open under the old associated data."""
    c, a = world.client, world["a_editor"]
    space = await create_space(c, a, participants=[])
    sid = space["id"]
    e = await post_entry(c, a, sid, level="hemlig", body="ny")
    store: Any = world.app.state.store
    async with store.read() as tx:
        ((key_id,),) = await raw_execute(database_url, "SELECT data_key_id FROM entries "
                                         "WHERE id = $1", e["id"])
        key = (await store.sealer.keys(tx.conn, [key_id]))[key_id]
    old = FieldContext("entries", e["id"], "body", sid, Classification.HEMLIG)
    legacy = store.sealer.seal(key, old, "gammal")
    assert legacy[:1] == b"\x01"
    await raw_execute(database_url, "UPDATE entries SET body_ct = $1 WHERE id = $2",
                      legacy, e["id"])
    r = await c.get(f"/api/v1/spaces/{sid}/entries/{e['id']}", headers=a.auth)
    assert r.status_code == 200 and r.json()["body"] == "gammal"


async def test_tampered_reports_and_spaces_answer_a_problem_and_are_audited(
        world: World, database_url: str) -> None:
    """Paths that do not name the item in their own audit (reports, spaces) fail closed the
    same way: 409 integrity_failure, an integrity.failure record, no 500."""
    c, a = world.client, world["a_editor"]
    space = await create_space(c, a, participants=[])
    sid = space["id"]
    r = await c.post(f"/api/v1/spaces/{sid}/situation-reports", headers=a.auth, json={
        "scope": "joint", "sections": [
            {"key": "event", "classification": "public", "body": "händelse"},
            {"key": "needs", "classification": "public", "body": "behov"}]})
    assert r.status_code == 201
    ((first, second),) = [tuple(row[0] for row in await raw_execute(
        database_url, "SELECT id FROM report_sections ORDER BY position"))]
    await raw_execute(database_url, "UPDATE report_sections SET body_ct = (SELECT body_ct "
                      "FROM report_sections WHERE id = $1) WHERE id = $2", first, second)
    r = await c.get(f"/api/v1/spaces/{sid}/situation-reports/latest", headers=a.auth)
    assert assert_problem(r, 409)["code"] == "integrity_failure" and "händelse" not in r.text

    other = await create_space(c, a, participants=[], title="Annan")
    await raw_execute(database_url, "UPDATE spaces SET title_ct = (SELECT title_ct FROM spaces "
                      "WHERE id = $1) WHERE id = $2", other["id"], sid)
    r = await c.get(f"/api/v1/spaces/{sid}", headers=a.auth)
    assert assert_problem(r, 409)["code"] == "integrity_failure" and "Annan" not in r.text

    rows = await raw_execute(database_url, "SELECT user_id, CAST(detail AS TEXT) FROM "
                             "audit_log WHERE action = 'integrity.failure'")
    assert len(rows) == 2 and all(user_id == a.user_id for user_id, _ in rows)
