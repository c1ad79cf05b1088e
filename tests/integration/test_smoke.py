"""The core walk through the API on both databases: create a space, post, read back."""

from __future__ import annotations

from tests.conftest import World


async def test_space_post_and_read_back(world: World) -> None:
    c, a = world.client, world["a_editor"]
    r = await c.post("/api/v1/spaces", headers=a.auth, json={
        "title": "Storm", "description": "d", "type": "disruption",
        "classification": "hemlig", "participants": [world.actors["B"]]})
    assert r.status_code == 201, r.text
    space = r.json()
    r = await c.post(f"/api/v1/spaces/{space['id']}/entries", headers=a.auth, json={
        "kind": "note", "classification": "public", "body": "Hej"})
    assert r.status_code == 201, r.text
    assert r.json()["seq"] == 2
    r = await c.get(f"/api/v1/spaces/{space['id']}/entries", headers=world["b_reader"].auth)
    assert r.status_code == 200
    assert [e["body"] for e in r.json()["items"]] == ["Hej"]
