"""Idempotency-Key: a retried POST returns the first result and creates nothing new; the same
key with another body is a 409; concurrent retries create exactly one resource."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import World
from tests.helpers import assert_problem, create_space, raw_execute


async def head_and_count(world: World, sid: str, who: str = "a_editor") -> tuple[int, int]:
    r = await world.client.get(f"/api/v1/spaces/{sid}/entries", headers=world[who].auth,
                               params={"limit": 500})
    assert r.status_code == 200
    return r.json()["head"], len(r.json()["items"])


def entry(body: str = "hej", level: str = "public") -> dict[str, Any]:
    return {"kind": "note", "classification": level, "body": body}


async def test_retry_returns_the_first_result(world: World, database_url: str) -> None:
    c = world.client
    a = world["a_editor"]
    space = await create_space(c, a, participants=[world.actors["B"]])
    sid = space["id"]
    path = f"/api/v1/spaces/{sid}/entries"
    headers = {**a.auth, "Idempotency-Key": "retry-1"}
    first = await c.post(path, headers=headers, json=entry("första", "sekretess"))
    assert first.status_code == 201, first.text
    state = await head_and_count(world, sid)
    audit_before = len(await raw_execute(database_url, "SELECT seq FROM audit_log WHERE "
                                         "action = 'entry.create'"))
    for _ in range(3):
        again = await c.post(path, headers=headers, json=entry("första", "sekretess"))
        assert again.status_code == 201, again.text
        assert again.json() == first.json()
    assert await head_and_count(world, sid) == state
    rows = await raw_execute(database_url, "SELECT COUNT(*) FROM entries WHERE space_id = $1",
                             sid)
    assert rows[0][0] == 1
    audit_after = len(await raw_execute(database_url, "SELECT seq FROM audit_log WHERE "
                                        "action = 'entry.create'"))
    assert audit_after == audit_before

    # The same key with another body (or another level, or audience) is refused.
    for other in (entry("andra", "sekretess"), entry("första", "public"),
                  {**entry("första", "sekretess"), "audience": [world.actors["B"]]}):
        r = await c.post(path, headers=headers, json=other)
        assert assert_problem(r, 409)["code"] == "idempotency_key_reused"
        assert "första" not in r.text
    # ... and so is the same key for another kind of request.
    r = await c.post("/api/v1/spaces", headers=headers, json={
        "title": "t", "type": "exercise", "classification": "public"})
    assert assert_problem(r, 409)["code"] == "idempotency_key_reused"
    assert await head_and_count(world, sid) == state

    # Without a key, or with a new key, a POST creates.
    r = await c.post(path, headers=a.auth, json=entry("första", "sekretess"))
    assert r.status_code == 201 and r.json()["id"] != first.json()["id"]
    r = await c.post(path, headers={**a.auth, "Idempotency-Key": "retry-2"},
                     json=entry("första", "sekretess"))
    assert r.status_code == 201 and r.json()["id"] != first.json()["id"]
    assert (await head_and_count(world, sid))[1] == state[1] + 2


async def test_keys_are_per_user(world: World) -> None:
    c = world.client
    space = await create_space(c, world["a_editor"], participants=[world.actors["B"]])
    path = f"/api/v1/spaces/{space['id']}/entries"
    r1 = await c.post(path, headers={**world["a_editor"].auth, "Idempotency-Key": "k"},
                      json=entry("x"))
    # Another user with the same key and body gets their own entry, not a's.
    r2 = await c.post(path, headers={**world["b_editor"].auth, "Idempotency-Key": "k"},
                      json=entry("x"))
    assert r1.status_code == r2.status_code == 201
    assert r1.json()["id"] != r2.json()["id"]
    assert r2.json()["author"]["id"] == world["b_editor"].user_id


async def test_a_retry_never_reveals_more_than_the_caller_may_now_read(world: World) -> None:
    c = world.client
    space = await create_space(c, world["a_editor"], participants=[world.actors["B"]])
    path = f"/api/v1/spaces/{space['id']}/entries"
    b = world["b_editor"]
    headers = {**b.auth, "Idempotency-Key": "k2"}
    r = await c.post(path, headers=headers, json=entry("hemligt nog", "sekretess"))
    assert r.status_code == 201
    # b's clearance is lowered; the retry must not hand back the sekretess entry.
    r = await c.patch(f"/api/v1/users/{b.user_id}", headers=world["b_admin"].auth,
                      json={"clearance": "public"})
    assert r.status_code == 200
    r = await c.post(path, headers=headers, json=entry("hemligt nog", "sekretess"))
    assert r.status_code in (404, 422), r.text
    assert "hemligt nog" not in r.text


async def test_concurrent_retries_create_exactly_one(world: World, database_url: str) -> None:
    c = world.client
    a = world["a_editor"]
    space = await create_space(c, a, participants=[world.actors["B"]])
    sid = space["id"]
    path = f"/api/v1/spaces/{sid}/entries"
    headers = {**a.auth, "Idempotency-Key": "storm-1"}
    results = await asyncio.gather(*[c.post(path, headers=headers, json=entry("samtidigt"))
                                     for _ in range(12)])
    assert all(r.status_code == 201 for r in results), [r.text for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    rows = await raw_execute(database_url, "SELECT COUNT(*) FROM entries WHERE space_id = $1",
                             sid)
    assert rows[0][0] == 1
    # Spaces and reports too.
    space_headers = {**a.auth, "Idempotency-Key": "space-1"}
    body = {"title": "Samtidigt", "type": "exercise", "classification": "public",
            "participants": [world.actors["B"]]}
    results = await asyncio.gather(*[c.post("/api/v1/spaces", headers=space_headers,
                                            json=body) for _ in range(8)])
    assert all(r.status_code == 201 for r in results), [r.text for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    report = {"scope": "joint", "sections": [
        {"key": "event", "classification": "public", "body": "läget"}]}
    report_headers = {**a.auth, "Idempotency-Key": "report-1"}
    results = await asyncio.gather(*[c.post(f"/api/v1/spaces/{sid}/situation-reports",
                                            headers=report_headers, json=report)
                                     for _ in range(8)])
    assert all(r.status_code == 201 for r in results), [r.text for r in results]
    assert {r.json()["version"] for r in results} == {1}
    rows = await raw_execute(database_url,
                             "SELECT COUNT(*) FROM situation_reports WHERE space_id = $1", sid)
    assert rows[0][0] == 1


async def test_concurrent_writers_get_unique_gapless_seqs(world: World,
                                                          database_url: str) -> None:
    c = world.client
    space = await create_space(c, world["a_editor"], participants=[world.actors["B"]])
    sid = space["id"]
    writers = [world["a_editor"], world["b_editor"], world["b_speaker"]]
    results = await asyncio.gather(*[
        c.post(f"/api/v1/spaces/{sid}/entries", headers=writers[i % 3].auth,
               json=entry(f"nr {i}")) for i in range(24)])
    assert all(r.status_code == 201 for r in results), [r.text for r in results]
    seqs = sorted(r.json()["seq"] for r in results)
    assert seqs == list(range(2, 26))  # seq 1 is the space's creation
    rows = await raw_execute(database_url, "SELECT seq FROM space_events WHERE space_id = $1 "
                             "ORDER BY seq", sid)
    assert [r[0] for r in rows] == list(range(1, 26))


async def test_the_stored_fingerprint_does_not_let_a_body_be_guessed(
        world: World, database_url: str) -> None:
    """Someone holding the database file (not the keyring) tries candidate bodies against the
    stored fingerprint, knowing how requests are fingerprinted: no candidate confirms."""
    import hashlib
    import json
    import secrets

    c, a = world.client, world["a_editor"]
    space = await create_space(c, a, participants=[])
    sid = space["id"]
    pin = f"{secrets.randbelow(1000):03d}"
    body = f"Larmkod {pin}"
    r = await c.post(f"/api/v1/spaces/{sid}/entries",
                     headers={**a.auth, "Idempotency-Key": "guess-me"},
                     json=entry(body, "hemlig"))
    assert r.status_code == 201
    ((stored,),) = await raw_execute(database_url, "SELECT fingerprint FROM idempotency_keys "
                                     "WHERE key = $1", "guess-me")
    guesses = set()
    for n in range(1000):
        request = ["entry.create", [sid, "note", "hemlig", f"Larmkod {n:03d}", None]]
        raw = json.dumps(request, sort_keys=True, default=str).encode()
        guesses.add(hashlib.sha256(raw).hexdigest())
        guesses.add(hashlib.sha256(raw).hexdigest()[:len(stored)])
    assert stored not in guesses
    # The keyed fingerprint still does its job: the same request is a retry, another a 409.
    again = await c.post(f"/api/v1/spaces/{sid}/entries",
                         headers={**a.auth, "Idempotency-Key": "guess-me"},
                         json=entry(body, "hemlig"))
    assert again.status_code == 201 and again.json()["id"] == r.json()["id"]
    other = await c.post(f"/api/v1/spaces/{sid}/entries",
                         headers={**a.auth, "Idempotency-Key": "guess-me"},
                         json=entry(body + "!", "hemlig"))
    assert_problem(other, 409)
