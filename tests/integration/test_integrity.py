"""A damaged or tampered row must not blind a whole log: it is left out of lists, loudly
(audit record with its id), while a direct read of it still refuses to answer anything."""

from __future__ import annotations

from tests.conftest import World
from tests.helpers import raw_execute


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
    assert r.status_code == 500 and "ett" not in r.text

    trail = (await c.get("/api/v1/audit", headers=world["sys"].auth,
                         params={"limit": 1000})).json()["items"]
    failures = [x for x in trail if x["action"] == "integrity.failure"]
    assert failures and failures[-1]["detail"]["items"] == [ids[1]]
