"""Rules that a first trial by a new administrator showed were missing: who leads a space,
who may change their own account, how usernames are spelled, and what null audience means."""

from __future__ import annotations

from tests.conftest import World


async def _space(world: World) -> str:
    r = await world.client.post("/api/v1/spaces", headers=world["a_editor"].auth, json={
        "title": "Storm", "type": "disruption", "classification": "hemlig",
        "participants": [world.actors["B"]]})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_only_the_owning_actor_administers_its_space(world: World) -> None:
    c, ids, sid = world.client, world.actors, await _space(world)
    takeover = {"participants": [{"actor_id": ids["B"]},
                                 {"actor_id": ids["A"], "role_cap": "reader"}]}
    for patch in (takeover, {"title": "Mitt nu"}, {"status": "closed"}):
        r = await c.patch(f"/api/v1/spaces/{sid}", headers=world["b_editor"].auth, json=patch)
        assert r.status_code == 403 and r.json()["code"] == "not_space_owner", r.text
    r = await c.patch(f"/api/v1/spaces/{sid}", headers=world["a_editor"].auth, json={
        "participants": [{"actor_id": ids["A"], "role_cap": "reader"}, {"actor_id": ids["B"]}]})
    assert r.status_code == 422 and r.json()["code"] == "owner_cannot_be_capped"
    r = await c.get(f"/api/v1/spaces/{sid}", headers=world["a_editor"].auth)
    assert r.json()["title"] == "Storm" and r.json()["my_role"] == "editor"
    # The joint report is compiled by the owner; B publishes its own.
    section = {"key": "event", "classification": "public", "body": "Snö"}
    r = await c.post(f"/api/v1/spaces/{sid}/situation-reports", headers=world["b_editor"].auth,
                     json={"scope": "joint", "sections": [section]})
    assert r.status_code == 403 and r.json()["code"] == "not_space_owner"
    r = await c.post(f"/api/v1/spaces/{sid}/situation-reports", headers=world["b_editor"].auth,
                     json={"scope": "actor", "sections": [section]})
    assert r.status_code == 201


async def test_administrators_cannot_change_their_own_clearance(world: World) -> None:
    admin = world["a_admin"]
    r = await world.client.patch(f"/api/v1/users/{admin.user_id}", headers=admin.auth,
                                 json={"clearance": "hemlig"})
    assert r.status_code == 403 and r.json()["code"] == "self_change"
    r = await world.client.get("/api/v1/me", headers=admin.auth)
    assert r.json()["clearance"] == "public"


async def test_usernames_have_one_spelling(world: World) -> None:
    c, admin = world.client, world["a_admin"]
    url = f"/api/v1/actors/{world.actors['A']}/users"
    user = {"password": "long-enough-secret", "display_name": "Åsa", "role": "reader",
            "clearance": "public"}
    r = await c.post(url, headers=admin.auth, json={**user, "username": "A_EDITOR"})
    assert r.status_code == 409 and r.json()["code"] == "username_taken"
    r = await c.post(url, headers=admin.auth, json={**user, "username": "x y"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_username"
    nfd = "a\u030asa.o\u0308berg"  # å and ö decomposed
    r = await c.post(url, headers=admin.auth, json={**user, "username": nfd})
    assert r.status_code == 201 and r.json()["username"] == "åsa.öberg"
    for spelling in ("ÅSA.ÖBERG", nfd, " åsa.öberg "):
        r = await c.post("/api/v1/auth/token", json={"username": spelling,
                                                      "password": user["password"]})
        assert r.status_code == 200, (spelling, r.text)


async def test_null_audience_restores_the_level_default(world: World) -> None:
    c, sid = world.client, await _space(world)
    r = await c.post(f"/api/v1/spaces/{sid}/entries", headers=world["a_editor"].auth, json={
        "kind": "note", "classification": "sekretess", "body": "hemlis",
        "audience": [world.actors["B"]]})
    entry = r.json()
    assert sorted(entry["audience"]) == sorted([world.actors["A"], world.actors["B"]])
    r = await c.patch(f"/api/v1/spaces/{sid}/entries/{entry['id']}",
                      headers=world["a_editor"].auth, json={"audience": None})
    assert r.status_code == 200 and r.json()["audience"] == [world.actors["A"]]
    r = await c.get(f"/api/v1/spaces/{sid}/entries/{entry['id']}", headers=world["b_editor"].auth)
    assert r.status_code == 404


async def test_wrong_content_type_is_415(world: World) -> None:
    r = await world.client.post("/api/v1/spaces", headers={**world["a_editor"].auth,
                                                           "Content-Type": "text/plain"},
                                content=b'{"title": "x"}')
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
