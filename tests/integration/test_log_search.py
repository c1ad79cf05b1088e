"""Filtering and searching the log (issue 8 item 18): kind, level, actor and time narrow in
SQL; the text search looks only at what the reader may read, and pages correctly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import World
from tests.helpers import assert_problem, create_space, post_entry, raw_execute


def _bodies(r: object) -> list[str]:
    doc = r.json()  # type: ignore[attr-defined]
    return [e["body"] for e in doc["items"]]


async def _space(world: World) -> str:
    space = await create_space(world.client, world["a_editor"],
                               participants=[world.actors["B"], world.actors["C"]])
    return str(space["id"])


async def test_filters_by_kind_level_actor_and_time(world: World) -> None:
    c, a, b = world.client, world["a_editor"], world["b_editor"]
    sid = await _space(world)
    start = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)
    moments = iter(start + timedelta(minutes=10 * i) for i in range(20))
    entries = world.app.state.services.entries
    entries.clock = lambda: next(moments)
    await post_entry(c, a, sid, level="public", body="06:00 not", kind="note")
    await post_entry(c, a, sid, level="sekretess", body="06:10 beslut", kind="decision")
    await post_entry(c, b, sid, level="public", body="06:20 b behov", kind="need")
    await post_entry(c, b, sid, level="public", body="06:30 b beslut", kind="decision")
    url = f"/api/v1/spaces/{sid}/entries"

    assert _bodies(await c.get(url, headers=a.auth, params={"kind": "decision"})) == [
        "06:10 beslut", "06:30 b beslut"]
    assert _bodies(await c.get(url, headers=a.auth, params={"level": "sekretess"})) == [
        "06:10 beslut"]
    assert _bodies(await c.get(url, headers=a.auth, params={"actor": world.actors["B"]})) == [
        "06:20 b behov", "06:30 b beslut"]
    assert _bodies(await c.get(url, headers=a.auth, params={
        "since": "2026-03-04T06:10:00Z", "until": "2026-03-04T08:30:00+02:00"})) == [
        "06:10 beslut", "06:20 b behov"]
    assert _bodies(await c.get(url, headers=a.auth, params={
        "kind": "decision", "actor": world.actors["B"], "order": "desc"})) == ["06:30 b beslut"]
    # Filters never widen what a reader sees: b_reader (public) gets no sekretess entry.
    assert _bodies(await c.get(url, headers=world["b_reader"].auth,
                               params={"kind": "decision"})) == ["06:30 b beslut"]

    for params, code in (({"since": "igår"}, "invalid_time"),
                         ({"until": "2026-03-04T06:00:00"}, "invalid_time"),
                         ({"since": "2026-03-04T07:00:00Z", "until": "2026-03-04T06:00:00Z"},
                          "invalid_time_range"),
                         ({"kind": "rumour"}, "unknown_value"),
                         ({"level": "topphemlig"}, "unknown_value"),
                         ({"q": "   "}, "invalid_search"),
                         ({"q": "x" * 201}, "invalid_search")):
        r = await c.get(url, headers=a.auth, params=params)
        assert assert_problem(r, 422)["code"] == code, params


async def test_text_search_sees_only_readable_entries_and_pages(world: World,
                                                                database_url: str) -> None:
    c, a = world.client, world["a_editor"]
    reader = world["b_reader"]
    sid = await _space(world)
    expected = []
    hidden = []
    for i in range(40):
        if i % 4 == 0:
            body = f"Älv stiger vid Bro {i}"
            await post_entry(c, a, sid, level="public", body=body)
            expected.append(body)
        elif i % 4 == 1:
            hidden.append((await post_entry(c, a, sid, level="hemlig",
                                            body=f"ÄLV hemlig {i}"))["id"])
        else:
            await post_entry(c, a, sid, level="public", body=f"annat {i}")
    # Spoil every entry the reader may not read: a search that decrypted any of them would
    # hit an integrity failure (and put it on the audit trail).
    for entry_id in hidden:
        await raw_execute(database_url, "UPDATE entries SET body_ct = $1 WHERE id = $2",
                          b"\x00" * 60, entry_id)

    url = f"/api/v1/spaces/{sid}/entries"
    seen: list[str] = []
    before = None
    while True:
        params: dict[str, object] = {"q": "älv", "limit": 3, "order": "desc"}
        if before is not None:
            params["before"] = before
        r = await c.get(url, headers=reader.auth, params=params)
        assert r.status_code == 200, r.text
        page = r.json()["items"]
        if not page:
            break
        assert len(page) <= 3
        seen += [e["body"] for e in page]
        before = page[-1]["seq"]
    assert seen == list(reversed(expected))

    trail = (await c.get("/api/v1/audit", headers=world["sys"].auth,
                         params={"limit": 1000})).json()["items"]
    assert not [x for x in trail if x["action"] == "integrity.failure"]

    # The cleared author finds the hemlig ones too (and, being spoiled, they are reported).
    r = await c.get(url, headers=a.auth, params={"q": "ÄLV HEMLIG", "level": "hemlig"})
    assert r.status_code == 200 and r.json()["items"] == []
    trail = (await c.get("/api/v1/audit", headers=world["sys"].auth,
                         params={"limit": 1000})).json()["items"]
    assert [x for x in trail if x["action"] == "integrity.failure"]


async def test_text_search_scans_past_one_chunk(world: World) -> None:
    """More non-matching entries than one scan chunk between matches: still found, in order."""
    from wis_server.storage import entries as storage_entries

    c, a = world.client, world["a_editor"]
    sid = await _space(world)
    storage_entries.SCAN_CHUNK, saved = 4, storage_entries.SCAN_CHUNK
    try:
        for i in range(14):
            await post_entry(c, a, sid, level="public",
                             body=f"träff {i}" if i in (1, 9, 13) else f"brus {i}")
        r = await c.get(f"/api/v1/spaces/{sid}/entries", headers=a.auth,
                        params={"q": "TRÄFF", "limit": 2})
        assert _bodies(r) == ["träff 1", "träff 9"]
        r = await c.get(f"/api/v1/spaces/{sid}/entries", headers=a.auth,
                        params={"q": "träff", "after": r.json()["items"][-1]["seq"]})
        assert _bodies(r) == ["träff 13"]
    finally:
        storage_entries.SCAN_CHUNK = saved


async def test_explicit_public_audience_is_kept_for_later_joiners(world: World) -> None:
    """Issue 7.18c: an explicit list naming today's participants is not widened to 'all'."""
    c, a = world.client, world["a_editor"]
    sid = (await create_space(c, a, participants=[world.actors["B"]]))["id"]
    chosen = sorted([world.actors["A"], world.actors["B"]])
    explicit = await post_entry(c, a, sid, level="public", body="bara A och B", audience=chosen)
    assert explicit["audience"] == chosen
    everyone = await post_entry(c, a, sid, level="public", body="alla")
    assert everyone["audience"] is None
    r = await c.patch(f"/api/v1/spaces/{sid}/entries/{everyone['id']}", headers=a.auth,
                      json={"audience": chosen})
    assert r.json()["audience"] == chosen
    r = await c.patch(f"/api/v1/spaces/{sid}/entries/{everyone['id']}", headers=a.auth,
                      json={"audience": None})
    assert r.json()["audience"] is None
    r = await c.patch(f"/api/v1/spaces/{sid}", headers=a.auth, json={"participants": [
        {"actor_id": world.actors["A"]}, {"actor_id": world.actors["B"]},
        {"actor_id": world.actors["C"]}]})
    assert r.status_code == 200, r.text
    r = await c.get(f"/api/v1/spaces/{sid}/entries", headers=world["c_editor"].auth)
    assert _bodies(r) == ["alla"]
