"""The authorization matrix through HTTP, on SQLite and PostgreSQL: roles × clearances ×
actor ceilings × participant/non-participant × audience. Every cell is checked against an
oracle written from the rules (not from the code): lists include exactly the visible items,
a GET of an invisible item is a 404 indistinguishable from a missing one, and no response a
reader gets ever contains the content of something hidden from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import Person, World
from tests.helpers import assert_problem, create_space, marker, post_entry
from wis_server.domain.levels import Classification, Role

RANK = {"public": 0, "sekretess": 1, "hemlig": 2}
CEILING = {"A": "hemlig", "B": "sekretess", "C": "public"}


@dataclass
class Item:
    id: str
    level: str
    audience: set[str] | None  # actor short names; None = every participant
    body: str


def short_of(world: World, actor_id: str) -> str:
    return next(k for k, v in world.actors.items() if v == actor_id)


def may_read(world: World, person: Person, item: Item, participants: set[str],
             ceilings: dict[str, str] = CEILING) -> bool:
    """The oracle: participates, effective clearance high enough, actor in the audience."""
    actor = short_of(world, person.actor_id)
    if actor not in participants:
        return False
    effective = min(RANK[person.clearance.value], RANK[ceilings[actor]])
    if RANK[item.level] > effective:
        return False
    return item.audience is None or actor in item.audience


async def add_more_people(world: World) -> None:
    await world.add_person("a_speaker", "A", Role.SPOKESPERSON, Classification.SEKRETESS)
    await world.add_person("a_reader_h", "A", Role.READER, Classification.HEMLIG)
    await world.add_person("b_reader_s", "B", Role.READER, Classification.SEKRETESS)
    await world.add_person("c_reader", "C", Role.READER, Classification.PUBLIC)


async def build_log(world: World) -> tuple[dict[str, Any], list[Item]]:
    if "a_speaker" not in world.people:
        await add_more_people(world)
    c, ids = world.client, world.actors
    space = await create_space(c, world["a_editor"], participants=[ids["B"]],
                               title=marker("title"), description=marker("desc"))
    plan = [
        ("a_editor", "public", None, None),
        ("a_editor", "public", ["A"], {"A"}),
        ("a_editor", "sekretess", None, {"A"}),           # default: the author's actor only
        ("a_editor", "sekretess", ["A", "B"], {"A", "B"}),
        ("a_editor", "hemlig", None, {"A"}),
        # B's ceiling still keeps it out. Naming B is refused since issue 8.10, so the row is
        # written past the service below (as after a lowered ceiling).
        ("a_editor", "hemlig", ["A", "B"], {"A", "B"}),
        ("a_speaker", "sekretess", ["B"], {"A", "B"}),    # the author's actor is always added
        ("b_editor", "public", None, None),
        ("b_editor", "sekretess", None, {"B"}),
        ("b_editor", "sekretess", ["A", "B"], {"A", "B"}),
        ("b_speaker", "public", ["B"], {"B"}),
    ]
    items = []
    for author, level, audience, expected_audience in plan:
        body = marker(f"{level}{author}")
        past_service = level == "hemlig" and audience is not None and "B" in audience
        doc = await post_entry(c, world[author], space["id"], level=level, body=body,
                               audience=None if past_service or not audience
                               else [ids[a] for a in audience])
        if past_service:
            async with world.app.state.services.entries.store.write() as tx:
                await tx.entries.set_audience(doc["id"], frozenset(ids[a] for a in audience))
            doc["audience"] = [ids[a] for a in audience]
        got = None if doc["audience"] is None else {short_of(world, a) for a in doc["audience"]}
        assert got == expected_audience, (author, level, audience, doc["audience"])
        items.append(Item(doc["id"], level, expected_audience, body))
    return space, items


async def check_reader(world: World, person: Person, space: dict[str, Any], items: list[Item],
                       participants: set[str], ceilings: dict[str, str] = CEILING) -> None:
    c = world.client
    sid = space["id"]
    seen: list[str] = []

    def record(r: httpx.Response) -> httpx.Response:
        assert r.status_code != 403, ("invisible things answer 404, not 403", r.text)
        assert r.status_code < 500, r.text
        seen.append(r.text)
        return r

    expected = [i for i in items if may_read(world, person, i, participants, ceilings)]
    hidden = [i for i in items if i not in expected]
    participant = short_of(world, person.actor_id) in participants

    spaces = record(await c.get("/api/v1/spaces", headers=person.auth)).json()["items"]
    assert (sid in [s["id"] for s in spaces]) is participant
    r = record(await c.get(f"/api/v1/spaces/{sid}", headers=person.auth))
    assert r.status_code == (200 if participant else 404)

    r = record(await c.get(f"/api/v1/spaces/{sid}/entries", headers=person.auth))
    if not participant:
        assert_problem(r, 404)
        assert space["title"] not in r.text
    else:
        assert r.status_code == 200
        page = r.json()
        assert [e["id"] for e in page["items"]] == [i.id for i in expected], person.username
        assert {e["body"] for e in page["items"]} == {i.body for i in expected}
        assert isinstance(page["head"], int)
        # Paging one at a time, both directions, gives the same set and no extra item.
        ids: list[str] = []
        after = 0
        while True:
            r = record(await c.get(f"/api/v1/spaces/{sid}/entries",
                                   params={"after": after, "limit": 1}, headers=person.auth))
            batch = r.json()["items"]
            if not batch:
                break
            ids.append(batch[0]["id"])
            after = batch[0]["seq"]
        assert ids == [i.id for i in expected]
        r = record(await c.get(f"/api/v1/spaces/{sid}/entries",
                               params={"order": "desc", "limit": 2}, headers=person.auth))
        assert [e["id"] for e in r.json()["items"]] == [i.id for i in reversed(expected)][:2]

    # The long-poll fallback reads through the same decision.
    r = record(await c.get(f"/api/v1/spaces/{sid}/events", params={"after": 0, "limit": 500},
                           headers=person.auth))
    if participant:
        assert r.status_code == 200, r.text
        for item in expected:
            assert item.body in r.text, (person.username, "event missing", item.level)
    else:
        assert_problem(r, 404)

    missing = record(await c.get(f"/api/v1/spaces/{sid}/entries/"
                                 "00000000-0000-4000-8000-000000000000", headers=person.auth))
    assert_problem(missing, 404)
    for item in items:
        r = record(await c.get(f"/api/v1/spaces/{sid}/entries/{item.id}", headers=person.auth))
        if item in expected:
            assert r.status_code == 200, (person.username, item)
            assert r.json()["body"] == item.body
        else:
            # Indistinguishable from an entry that does not exist.
            assert assert_problem(r, 404) == missing.json()

    everything = "\n".join(seen)
    for item in hidden:
        assert item.body not in everything, (person.username, item.level, item.audience)
    if not participant:
        assert space["title"] not in everything
        assert space["description"] not in everything


async def test_read_matrix(world: World) -> None:
    await add_more_people(world)
    space, items = await build_log(world)
    participants = {"A", "B"}
    for person in world.people.values():
        await check_reader(world, person, space, items, participants)
    # Sanity of the oracle against the world: each of these sees a different slice.
    slices = {name: sum(may_read(world, world[name], i, participants) for i in items)
              for name in ("a_editor", "a_reader", "a_speaker", "b_editor", "b_reader",
                           "c_editor")}
    assert slices["a_editor"] > slices["a_speaker"] > slices["a_reader"] > 0
    assert slices["b_editor"] > slices["b_reader"] > 0
    assert slices["c_editor"] == 0


async def test_non_participant_gets_404_for_everything_in_the_space(world: World) -> None:
    space, items = await build_log(world)
    c, sid = world.client, space["id"]
    await c.post(f"/api/v1/spaces/{sid}/situation-reports", headers=world["a_editor"].auth,
                 json={"scope": "joint", "sections": [
                     {"key": "event", "classification": "public", "body": marker("ev")}]})
    outsider = world["c_editor"]
    for method, path, body in [
        ("GET", f"/api/v1/spaces/{sid}", None),
        ("PATCH", f"/api/v1/spaces/{sid}", {"title": "x"}),
        ("GET", f"/api/v1/spaces/{sid}/entries", None),
        ("GET", f"/api/v1/spaces/{sid}/entries/{items[0].id}", None),
        ("PATCH", f"/api/v1/spaces/{sid}/entries/{items[0].id}", {"audience": None}),
        ("POST", f"/api/v1/spaces/{sid}/entries",
         {"kind": "note", "classification": "public", "body": "x"}),
        ("GET", f"/api/v1/spaces/{sid}/situation-reports", None),
        ("GET", f"/api/v1/spaces/{sid}/situation-reports/latest", None),
        ("GET", f"/api/v1/spaces/{sid}/situation-reports/1", None),
        ("POST", f"/api/v1/spaces/{sid}/situation-reports",
         {"sections": [{"key": "event", "classification": "public", "body": "x"}]}),
    ]:
        r = await c.request(method, path, headers=outsider.auth, json=body)
        doc = assert_problem(r, 404)
        assert doc["code"] == "not_found", (method, path, doc)
        assert items[0].body not in r.text and space["title"] not in r.text
    # And the same answer as for a space that does not exist at all.
    r1 = await c.get(f"/api/v1/spaces/{sid}", headers=outsider.auth)
    r2 = await c.get("/api/v1/spaces/00000000-0000-4000-8000-000000000000",
                     headers=outsider.auth)
    assert r1.json() == r2.json()


async def test_write_matrix(world: World) -> None:
    await add_more_people(world)
    c, ids = world.client, world.actors
    space = await create_space(c, world["a_editor"], participants=[ids["B"]],
                               classification="sekretess")
    sid = space["id"]
    for person in world.people.values():
        actor = short_of(world, person.actor_id)
        for level in ("public", "sekretess", "hemlig"):
            r = await c.post(f"/api/v1/spaces/{sid}/entries", headers=person.auth,
                             json={"kind": "note", "classification": level, "body": "x"})
            effective = min(RANK[person.clearance.value], RANK[CEILING[actor]])
            if actor not in ("A", "B"):
                assert_problem(r, 404)
            elif person.role not in (Role.EDITOR, Role.SPOKESPERSON):
                assert assert_problem(r, 403)["code"] == "space_role_too_low"
            elif RANK[level] > RANK["sekretess"]:
                assert assert_problem(r, 422)["code"] == "classification_above_ceiling"
            elif RANK[level] > effective:
                assert assert_problem(r, 422)["code"] == "classification_above_clearance"
            else:
                assert r.status_code == 201, (person.username, level, r.text)
        # Joint reports: the owning actor's (A's) editors only; the coordinator compiles.
        r = await c.post(f"/api/v1/spaces/{sid}/situation-reports", headers=person.auth,
                         json={"scope": "joint", "sections": [
                             {"key": "event", "classification": "public", "body": "x"}]})
        if actor not in ("A", "B"):
            assert_problem(r, 404)
        elif person.role is Role.EDITOR and actor == "A":
            assert r.status_code == 201, r.text
        elif person.role is Role.EDITOR:
            assert assert_problem(r, 403)["code"] == "not_space_owner"
        else:
            assert_problem(r, 403)
    # Audience must include only participants.
    r = await c.post(f"/api/v1/spaces/{sid}/entries", headers=world["a_editor"].auth,
                     json={"kind": "note", "classification": "public", "body": "x",
                           "audience": [ids["C"]]})
    assert assert_problem(r, 422)["code"] == "invalid_audience"
    # Only editors create spaces.
    for person in world.people.values():
        r = await c.post("/api/v1/spaces", headers=person.auth, json={
            "title": "t", "type": "exercise", "classification": "public"})
        if person.role is Role.EDITOR:
            assert r.status_code == 201, r.text
        else:
            assert_problem(r, 403)


async def test_role_cap_and_closed_space(world: World) -> None:
    c, ids = world.client, world.actors
    space = await create_space(c, world["a_editor"], participants=[ids["B"]])
    sid = space["id"]
    r = await c.patch(f"/api/v1/spaces/{sid}", headers=world["a_editor"].auth, json={
        "participants": [{"actor_id": ids["A"]}, {"actor_id": ids["B"], "role_cap": "reader"}]})
    assert r.status_code == 200, r.text
    r = await c.post(f"/api/v1/spaces/{sid}/entries", headers=world["b_editor"].auth,
                     json={"kind": "note", "classification": "public", "body": "x"})
    assert assert_problem(r, 403)["code"] == "space_role_too_low"
    r = await c.get(f"/api/v1/spaces/{sid}", headers=world["b_editor"].auth)
    assert r.json()["my_role"] == "reader" and r.json()["writable_levels"] == []
    entry = await post_entry(c, world["a_editor"], sid, level="public", body=marker("p"))
    r = await c.get(f"/api/v1/spaces/{sid}/entries/{entry['id']}",
                    headers=world["b_editor"].auth)
    assert r.status_code == 200

    r = await c.patch(f"/api/v1/spaces/{sid}", headers=world["a_editor"].auth,
                      json={"status": "closed"})
    assert r.status_code == 200 and r.json()["status"] == "closed"
    r = await c.post(f"/api/v1/spaces/{sid}/entries", headers=world["a_editor"].auth,
                     json={"kind": "note", "classification": "public", "body": "x"})
    assert assert_problem(r, 403)["code"] == "space_closed"
    r = await c.get(f"/api/v1/spaces/{sid}/entries/{entry['id']}",
                    headers=world["b_reader"].auth)
    assert r.status_code == 200

    # Removing an actor from the space hides the space and its entries at once.
    r = await c.patch(f"/api/v1/spaces/{sid}", headers=world["a_editor"].auth,
                      json={"participants": [{"actor_id": ids["A"]}]})
    assert r.status_code == 200, r.text
    for path in (f"/api/v1/spaces/{sid}", f"/api/v1/spaces/{sid}/entries/{entry['id']}"):
        assert_problem(await c.get(path, headers=world["b_editor"].auth), 404)


async def test_situation_report_sections_are_filtered_per_reader(world: World) -> None:
    await add_more_people(world)
    c, ids = world.client, world.actors
    space = await create_space(c, world["a_editor"], participants=[ids["B"]])
    sid = space["id"]
    plan = [("event", "public", None, None),
            ("current_situation", "sekretess", ["A", "B"], {"A", "B"}),
            ("consequences", "hemlig", ["A"], {"A"}),  # B (ceiling sekretess): refused
            ("needs", "sekretess", None, {"A"}),
            ("forecast", "hemlig", None, {"A"}),
            ("communication", "public", ["A"], {"A"})]
    sections, items = [], {}
    for key, level, audience, expected in plan:
        body = marker(key)
        sections.append({"key": key, "classification": level, "body": body,
                         "audience": [ids[a] for a in audience] if audience else None})
        items[key] = Item(key, level, expected, body)
    r = await c.post(f"/api/v1/spaces/{sid}/situation-reports", headers=world["a_editor"].auth,
                     json={"scope": "joint", "sections": sections})
    assert r.status_code == 201, r.text
    own = [{"key": "event", "classification": "public", "body": marker("bpub")},
           {"key": "needs", "classification": "sekretess", "body": marker("bsek")}]
    r = await c.post(f"/api/v1/spaces/{sid}/situation-reports", headers=world["b_editor"].auth,
                     json={"scope": "actor", "sections": own})
    assert r.status_code == 201, r.text
    b_items = {"event": Item("event", "public", None, own[0]["body"]),
               "needs": Item("needs", "sekretess", {"B"}, own[1]["body"])}

    for person in world.people.values():
        participant = short_of(world, person.actor_id) in ("A", "B")
        texts = []
        for path, params, expected_items in [
            ("situation-reports/latest", {}, items),
            ("situation-reports/1", {"scope": "joint"}, items),
            ("situation-reports/latest", {"scope": "actor", "actor_id": ids["B"]}, b_items),
        ]:
            r = await c.get(f"/api/v1/spaces/{sid}/{path}", params=params, headers=person.auth)
            texts.append(r.text)
            if not participant:
                assert_problem(r, 404)
                continue
            assert r.status_code == 200, r.text
            want = {k for k, i in expected_items.items()
                    if may_read(world, person, i, {"A", "B"})}
            got = {s["key"]: s["body"] for s in r.json()["sections"]}
            assert set(got) == want, (person.username, path, got.keys(), want)
            for key in want:
                assert got[key] == expected_items[key].body
        hidden = [i.body for i in [*items.values(), *b_items.values()]
                  if not may_read(world, person, i, {"A", "B"})]
        joined = "\n".join(texts)
        for body in hidden:
            assert body not in joined, person.username


async def test_disabling_a_user_takes_effect_on_the_next_request(world: World) -> None:
    c = world.client
    reader = world["b_reader"]
    assert (await c.get("/api/v1/spaces", headers=reader.auth)).status_code == 200
    # Another actor's admin cannot even see the user.
    r = await c.patch(f"/api/v1/users/{reader.user_id}", headers=world["a_admin"].auth,
                      json={"active": False})
    assert_problem(r, 404)
    assert (await c.get("/api/v1/spaces", headers=reader.auth)).status_code == 200
    r = await c.patch(f"/api/v1/users/{reader.user_id}", headers=world["b_admin"].auth,
                      json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    r = await c.get("/api/v1/spaces", headers=reader.auth)
    assert assert_problem(r, 401)["code"] == "account_inactive"
    r = await c.post("/api/v1/auth/token",
                     json={"username": reader.username, "password": reader.password})
    assert_problem(r, 401)
    r = await c.patch(f"/api/v1/users/{reader.user_id}", headers=world["b_admin"].auth,
                      json={"active": True})
    assert r.status_code == 200
    # Disabling ended the old sessions for good (issue 7): re-enabling does not revive
    # the old token; signing in again works.
    r = await c.get("/api/v1/spaces", headers=reader.auth)
    assert assert_problem(r, 401)["code"] == "session_revoked"
    r = await c.post("/api/v1/auth/token",
                     json={"username": reader.username, "password": reader.password})
    assert r.status_code == 200, r.text
    fresh = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await c.get("/api/v1/spaces", headers=fresh)).status_code == 200


async def test_lowering_clearance_or_ceiling_hides_items_at_once(world: World) -> None:
    c, ids = world.client, world.actors
    space = await create_space(c, world["a_editor"], participants=[ids["B"]])
    sid = space["id"]
    sek = await post_entry(c, world["b_editor"], sid, level="sekretess", body=marker("bs"))
    hem = await post_entry(c, world["a_editor"], sid, level="hemlig", body=marker("ah"))
    editor = world["b_editor"]
    path = f"/api/v1/spaces/{sid}/entries/{sek['id']}"
    assert (await c.get(path, headers=editor.auth)).status_code == 200
    r = await c.patch(f"/api/v1/users/{editor.user_id}", headers=world["b_admin"].auth,
                      json={"clearance": "public"})
    assert r.status_code == 200, r.text
    assert_problem(await c.get(path, headers=editor.auth), 404)
    r = await c.get(f"/api/v1/spaces/{sid}/entries", headers=editor.auth)
    assert sek["id"] not in r.text and sek["body"] not in r.text
    # Clearance above the actor's ceiling cannot be granted.
    r = await c.patch(f"/api/v1/users/{editor.user_id}", headers=world["b_admin"].auth,
                      json={"clearance": "hemlig"})
    assert assert_problem(r, 422)["code"] == "clearance_above_ceiling"

    # Lowering the actor's ceiling caps every user of the actor at once.
    a_editor = world["a_editor"]
    hem_path = f"/api/v1/spaces/{sid}/entries/{hem['id']}"
    assert (await c.get(hem_path, headers=a_editor.auth)).status_code == 200
    r = await c.patch(f"/api/v1/actors/{ids['A']}", headers=world["a_admin"].auth,
                      json={"clearance_ceiling": "sekretess"})
    assert_problem(r, 403)
    r = await c.patch(f"/api/v1/actors/{ids['A']}", headers=world["sys"].auth,
                      json={"clearance_ceiling": "sekretess"})
    assert r.status_code == 200, r.text
    assert_problem(await c.get(hem_path, headers=a_editor.auth), 404)
    r = await c.get(f"/api/v1/spaces/{sid}/entries", headers=a_editor.auth)
    assert hem["body"] not in r.text


async def test_actor_admins_manage_only_their_own_users(world: World) -> None:
    c, ids = world.client, world.actors
    new = {"username": "b_new", "password": "a-long-enough-pw", "display_name": "Ny",
           "role": "reader", "clearance": "public"}
    # Actors are listed for everyone, so refusing to administer one discloses nothing: 403.
    r = await c.post(f"/api/v1/actors/{ids['B']}/users", headers=world["a_admin"].auth,
                     json=new)
    assert assert_problem(r, 403)["code"] == "not_actor_admin"
    r = await c.get(f"/api/v1/actors/{ids['B']}/users", headers=world["a_admin"].auth)
    assert assert_problem(r, 403)["code"] == "not_actor_admin"
    r = await c.post(f"/api/v1/actors/{ids['B']}/users", headers=world["b_admin"].auth,
                     json={**new, "role": "system_admin"})
    assert_problem(r, 403)
    r = await c.post(f"/api/v1/actors/{ids['B']}/users", headers=world["b_admin"].auth,
                     json={**new, "clearance": "hemlig"})
    assert assert_problem(r, 422)["code"] == "clearance_above_ceiling"
    r = await c.post(f"/api/v1/actors/{ids['B']}/users", headers=world["b_admin"].auth,
                     json=new)
    assert r.status_code == 201, r.text
    for person in ("b_editor", "b_reader", "c_editor"):
        r = await c.post(f"/api/v1/actors/{ids['B']}/users", headers=world[person].auth,
                         json={**new, "username": "b_other"})
        assert assert_problem(r, 403)["code"] == "not_actor_admin"
    r = await c.post("/api/v1/actors", headers=world["a_admin"].auth, json={
        "name": "X", "short_name": "X", "clearance_ceiling": "public"})
    assert_problem(r, 403)


async def test_actor_admin_cannot_disable_or_demote_a_system_admin(world: World) -> None:
    """`sys` belongs to actor A; A's actor admin manages A's users but not the system admin."""
    c = world.client
    sys_admin = world["sys"]
    for patch in ({"active": False}, {"clearance": "hemlig"}, {"role": "reader"}):
        r = await c.patch(f"/api/v1/users/{sys_admin.user_id}",
                          headers=world["a_admin"].auth, json=patch)
        assert 400 <= r.status_code < 500, (patch, r.status_code, r.text)
    assert (await c.get("/api/v1/actors", headers=sys_admin.auth)).status_code == 200
    r = await c.post(f"/api/v1/users/{sys_admin.user_id}/password",
                     headers=world["a_admin"].auth, json={"password": "taken-over-pw-123"})
    assert 400 <= r.status_code < 500, r.text
    r = await c.post("/api/v1/auth/token", json={"username": "sys",
                                                  "password": "taken-over-pw-123"})
    assert r.status_code == 401


async def test_ids_from_another_space_are_not_found(world: World) -> None:
    """An entry id of a space the caller cannot see, asked for through a space they can."""
    c, ids = world.client, world.actors
    secret_space = await create_space(c, world["a_editor"], participants=[])
    open_space = await create_space(c, world["a_editor"], participants=[ids["B"]])
    hidden = await post_entry(c, world["a_editor"], secret_space["id"], level="public",
                              body=marker("other-space"))
    b = world["b_editor"]
    for method, body in (("GET", None), ("PATCH", {"audience": None})):
        r = await c.request(method, f"/api/v1/spaces/{open_space['id']}/entries/{hidden['id']}",
                            headers=b.auth, json=body)
        assert_problem(r, 404)
        assert hidden["body"] not in r.text


async def test_changing_an_entrys_audience(world: World) -> None:
    c, ids = world.client, world.actors
    space = await create_space(c, world["a_editor"], participants=[ids["B"]])
    sid = space["id"]
    e = await post_entry(c, world["a_editor"], sid, level="sekretess", body=marker("aud"),
                         audience=[ids["A"], ids["B"]])
    path = f"/api/v1/spaces/{sid}/entries/{e['id']}"
    assert (await c.get(path, headers=world["b_editor"].auth)).status_code == 200
    # B can see it but is not the author's actor; A's reader may not write.
    r = await c.patch(path, headers=world["b_editor"].auth, json={"audience": [ids["B"]]})
    assert assert_problem(r, 403)["code"] == "not_author_actor"
    r = await c.patch(path, headers=world["a_reader"].auth, json={"audience": [ids["A"]]})
    assert_problem(r, 404)  # a_reader (public clearance) cannot even see the entry
    r = await c.patch(path, headers=world["a_editor"].auth, json={"audience": [ids["C"]]})
    assert assert_problem(r, 422)["code"] == "invalid_audience"
    # Narrowing takes effect at once.
    r = await c.patch(path, headers=world["a_editor"].auth, json={"audience": [ids["A"]]})
    assert r.status_code == 200 and r.json()["audience"] == [ids["A"]]
    assert_problem(await c.get(path, headers=world["b_editor"].auth), 404)
    r = await c.get(f"/api/v1/spaces/{sid}/entries", headers=world["b_editor"].auth)
    assert e["body"] not in r.text


async def test_report_versions_with_nothing_readable_are_listed_empty(world: World) -> None:
    """Issue 7.10 changed this: every participant sees every version (no gaps in the
    numbers); a version shows only the sections the reader may read, possibly none."""
    c, ids = world.client, world.actors
    space = await create_space(c, world["a_editor"], participants=[ids["B"]])
    sid = space["id"]
    base = f"/api/v1/spaces/{sid}/situation-reports"
    v1 = {"key": "event", "classification": "public", "body": marker("v1")}
    v2 = {"key": "needs", "classification": "sekretess", "body": marker("v2")}
    for sections in ([v1], [v2]):
        r = await c.post(base, headers=world["b_editor"].auth, json={"sections": sections})
        assert r.status_code == 201, r.text
    scope = {"scope": "actor", "actor_id": ids["B"]}
    # The latest is v2 for everyone; b_reader (public clearance) reads nothing of it.
    r = await c.get(f"{base}/latest", params=scope, headers=world["b_reader"].auth)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["sections"] == []
    r = await c.get(f"{base}/latest", params=scope, headers=world["b_editor"].auth)
    assert r.status_code == 200 and r.json()["version"] == 2
    # A may read nothing of v2 (sekretess, B only): listed, but empty.
    a = world["a_editor"]
    r = await c.get(f"{base}/2", params=scope, headers=a.auth)
    assert r.status_code == 200 and r.json()["sections"] == []
    assert v2["body"] not in r.text
    r = await c.get(f"{base}/1", params=scope, headers=a.auth)
    assert r.status_code == 200 and r.json()["sections"][0]["body"] == v1["body"]
    r = await c.get(f"{base}/99", params=scope, headers=a.auth)
    assert_problem(r, 404)
    r = await c.get(base, params=scope, headers=a.auth)
    assert [v["version"] for v in r.json()["items"]] == [2, 1]
    assert r.json()["reporting_actors"] == [ids["B"]]


async def test_contact_points_are_managed_by_the_actors_own_admins(world: World) -> None:
    c, ids = world.client, world.actors
    points = {"contact_points": [{"kind": "phone", "value": "08-123 45 67", "label": "TiB"}]}
    url = f"/api/v1/actors/{ids['A']}/contact-points"
    for who in ("b_admin", "a_editor", "a_reader", "c_editor"):
        r = await c.put(url, headers=world[who].auth, json=points)
        assert 400 <= r.status_code < 500 and r.status_code != 422, (who, r.status_code)
    for who in ("a_admin", "sys"):
        r = await c.put(url, headers=world[who].auth, json=points)
        assert r.status_code == 200, (who, r.text)
    r = await c.get("/api/v1/actors", headers=world["c_editor"].auth)
    actor = next(a for a in r.json()["items"] if a["id"] == ids["A"])
    assert actor["contact_points"][0]["value"] == "+4681234567"  # E.164 since issue 8.14
    # An actor admin may not rename their actor or raise its ceiling.
    r = await c.patch(f"/api/v1/actors/{ids['B']}", headers=world["b_admin"].auth,
                      json={"clearance_ceiling": "hemlig"})
    assert_problem(r, 403)
