"""The stream applies the same rules as REST, per recipient, on every frame — and applies
changes of rights to connections that are already open (live revocation)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import scratch_database
from tests.e2e.conftest import LiveServer, start_server, stop_server
from tests.e2e.stream_client import (
    StreamClient,
    actor_ids,
    auth,
    exercise_space,
    login,
    post_entry,
)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[LiveServer]:
    # One server per database for the module; the revocation test (which changes rights)
    # runs last.
    if request.param == "sqlite":
        live = start_server(tmp_path_factory.mktemp("stream-access"))
        yield live
        stop_server(live)
        return
    with scratch_database("wis_sa") as url:
        live = start_server(tmp_path_factory.mktemp("stream-access-pg"),
                            {"WIS_DATABASE_URL": url})
        yield live
        stop_server(live)


async def _user_id(server: LiveServer, admin: str, actor_id: str, username: str) -> str:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        r = await client.get(f"/api/v1/actors/{actor_id}/users", headers=auth(admin))
    return str(next(u["id"] for u in r.json()["items"] if u["username"] == username))


async def _patch(server: LiveServer, token: str, path: str, doc: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        r = await client.patch(path, headers=auth(token), json=doc)
    assert r.status_code == 200, r.text


async def test_items_above_clearance_or_outside_audience_are_never_sent(
        server: LiveServer) -> None:
    lst = await login(server, "tib.lst")
    space_id = await exercise_space(server, lst)
    actors = await actor_ids(server, lst)
    readers = {name: await StreamClient.open(server, await login(server, name))
               for name in ("tib.lst", "tib.sthlm", "tib.rs", "lasare.nacka")}
    for c in readers.values():
        await c.subscribe(space_id, None)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_entry(http, lst, space_id, "sek-lst-sthlm", "sekretess",
                         [actors["LST"], actors["STHLM"]])
        await post_entry(http, lst, space_id, "hemlig-lst", "hemlig")
        await post_entry(http, lst, space_id, "sek-default", "sekretess")
        r = await http.post(f"/api/v1/spaces/{space_id}/situation-reports", headers=auth(lst),
                            json={"scope": "joint", "sections": [
                                {"key": "event", "classification": "public",
                                 "body": "pub-section"},
                                {"key": "needs", "classification": "sekretess",
                                 "body": "sek-section",
                                 "audience": [actors["LST"], actors["STHLM"]]},
                                {"key": "forecast", "classification": "hemlig",
                                 "body": "hemlig-section"}]})
        assert r.status_code == 201, r.text
        await post_entry(http, lst, space_id, "public-marker")
    for c in readers.values():
        await c.until_body("public-marker")

    def sections(c: StreamClient) -> list[str]:
        reports = [f for f in c.events() if f["event"] == "situation_report.published"]
        assert len(reports) == 1
        return [s["body"] for s in reports[0]["data"]["sections"]]

    assert readers["tib.lst"].bodies() == ["sek-lst-sthlm", "hemlig-lst", "sek-default",
                                           "public-marker"]
    assert sections(readers["tib.lst"]) == ["pub-section", "sek-section", "hemlig-section"]
    assert readers["tib.sthlm"].bodies() == ["sek-lst-sthlm", "public-marker"]
    assert sections(readers["tib.sthlm"]) == ["pub-section", "sek-section"]
    assert readers["tib.rs"].bodies() == ["public-marker"]  # sekretess, but not in audience
    assert sections(readers["tib.rs"]) == ["pub-section"]
    assert readers["lasare.nacka"].bodies() == ["public-marker"]  # public clearance
    assert sections(readers["lasare.nacka"]) == ["pub-section"]
    for c in readers.values():
        text = repr(c.frames)
        assert "sek-section" not in text or c in (readers["tib.lst"], readers["tib.sthlm"])
        assert "hemlig" not in text.replace('"classification":"hemlig"', "") or \
            c is readers["tib.lst"]
        await c.close()

    # The replay path follows the same rules: a public reader replaying everything.
    replay = await StreamClient.open(server, await login(server, "lasare.nacka"))
    await replay.subscribe(space_id, 0)
    await replay.until_body("public-marker")
    for frame in replay.events():
        data = frame["data"]
        if "body" in data:
            assert data["classification"] == "public"
            assert data["audience"] is None or actors["NACKA"] in data["audience"]
        for section in data.get("sections", []):
            assert section["classification"] == "public"
    await replay.close()


async def test_audience_change_reaches_new_readers_and_stops_at_removed_ones(
        server: LiveServer) -> None:
    lst = await login(server, "tib.lst")
    space_id = await exercise_space(server, lst)
    actors = await actor_ids(server, lst)
    sthlm = await StreamClient.open(server, await login(server, "tib.sthlm"))
    rs = await StreamClient.open(server, await login(server, "tib.rs"))
    for c in (sthlm, rs):
        await c.subscribe(space_id, None)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        entry = await post_entry(http, lst, space_id, "aud-entry", "sekretess",
                                 [actors["LST"], actors["STHLM"]])
        await sthlm.until_body("aud-entry")
        # Read right moves from STHLM to RS.
        r = await http.patch(f"/api/v1/spaces/{space_id}/entries/{entry['id']}",
                             headers=auth(lst), json={"audience": [actors["RS"]]})
        assert r.status_code == 200, r.text
        got = await rs.until(lambda f: f.get("type") == "event"
                             and f["event"] == "entry.audience_changed")
        assert got["data"]["id"] == entry["id"] and got["data"]["body"] == "aud-entry"
        assert sorted(got["data"]["audience"]) == sorted([actors["LST"], actors["RS"]])
        await post_entry(http, lst, space_id, "aud-marker")
    for c in (sthlm, rs):
        await c.until_body("aud-marker")
    assert not [f for f in sthlm.events() if f["event"] == "entry.audience_changed"]
    assert [f["data"]["body"] for f in rs.events() if "body" in f["data"]] == [
        "aud-entry", "aud-marker"]
    # The reader cut out is told, with the id only, so the screen drops it at once.
    withdrawn = [f for f in sthlm.events() if f["event"] == "entry.withdrawn"]
    assert [f["data"] for f in withdrawn] == [{"id": entry["id"]}]
    assert "aud-entry" not in repr(withdrawn)
    for c in (sthlm, rs):
        await c.close()
    # A reconnect replaying from before the change gets the same frame (withdrawn offline),
    # and never the entry itself.
    again = await StreamClient.open(server, await login(server, "tib.sthlm"))
    await again.subscribe(space_id, 0)
    await again.until_body("aud-marker")
    assert [f["data"] for f in again.events() if f["event"] == "entry.withdrawn"] == [
        {"id": entry["id"]}]
    assert "aud-entry" not in again.bodies()
    await again.close()


async def test_revocation_applies_to_open_connections(server: LiveServer) -> None:
    lst = await login(server, "tib.lst")
    admin = await login(server, "admin")
    space_id = await exercise_space(server, lst)
    actors = await actor_ids(server, lst)
    clients = {name: await StreamClient.open(server, await login(server, name))
               for name in ("kommunikator.solna", "tib.sthlm", "lasare.nacka", "tib.rs")}
    for c in clients.values():
        await c.subscribe(space_id, None)

    # 1. The reader's actor leaves the space: `revoked`, and nothing after it.
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        space = (await http.get(f"/api/v1/spaces/{space_id}", headers=auth(lst))).json()
    await _patch(server, lst, f"/api/v1/spaces/{space_id}", {"participants": [
        {k: v for k, v in p.items() if k in ("actor_id", "role_cap")}  # the writable fields
        for p in space["participants"] if p["actor_id"] != actors["SOLNA"]]})
    revoked = await clients["kommunikator.solna"].until(lambda f: f["type"] == "revoked")
    assert revoked == {"type": "revoked", "space_id": space_id}
    # … and, per user, that the actor no longer takes part (issue 8.12).
    removed = {"type": "membership.removed", "space_id": space_id}
    if removed not in clients["kommunikator.solna"].frames:  # either may come first
        assert await clients["kommunikator.solna"].until(
            lambda f: f["type"] == "membership.removed") == removed

    # 2. Clearance lowered: classified items stop at once; public ones keep coming.
    sthlm_id = await _user_id(server, admin, actors["STHLM"], "tib.sthlm")
    await _patch(server, admin, f"/api/v1/users/{sthlm_id}", {"clearance": "public"})
    # 3. Actor ceiling lowered (RS): the same for all of the actor's users.
    await _patch(server, admin, f"/api/v1/actors/{actors['RS']}",
                 {"clearance_ceiling": "public"})
    # 4. A user disabled: the socket closes with 4003.
    nacka_id = await _user_id(server, admin, actors["NACKA"], "lasare.nacka")
    await _patch(server, admin, f"/api/v1/users/{nacka_id}", {"active": False})
    assert await clients["lasare.nacka"].closed_with() == 4003

    async with httpx.AsyncClient(base_url=server.base_url) as http:
        # RS's ceiling is now public, so it can no longer be named in a sekretess audience
        # (refused since issue 8.10); STHLM still can, and its lowered user must not get it.
        await post_entry(http, lst, space_id, "sek-after-lowering", "sekretess",
                         [actors["LST"], actors["STHLM"]])
        await post_entry(http, lst, space_id, "public-after-changes")
    for name in ("tib.sthlm", "tib.rs"):
        await clients[name].until_body("public-after-changes")
        assert "sek-after-lowering" not in clients[name].bodies()
    solna = clients["kommunikator.solna"]
    await solna.send({"type": "ping"})
    await solna.until(lambda f: f["type"] == "pong")
    assert solna.bodies() == []
    # Subscribing again is refused exactly like an unknown space.
    await solna.send({"type": "subscribe", "space_id": space_id, "after": 0})
    error = await solna.until(lambda f: f["type"] == "error")
    assert error["code"] == "not_found"
    # Added back: told live on the connection, without following the space.
    await _patch(server, lst, f"/api/v1/spaces/{space_id}", {"participants": [
        {k: v for k, v in p.items() if k in ("actor_id", "role_cap")}
        for p in space["participants"]]})
    added = await solna.until(lambda f: f["type"] == "membership.added")
    assert added == {"type": "membership.added", "space_id": space_id}
    await solna.subscribe(space_id, None)
    for c in clients.values():
        await c.close()
