"""An entry write reads its space and claims its Idempotency-Key in one statement on
PostgreSQL (storage/space_claim.py), and checks its own actor's clearance ceiling from the
principal instead of a lookup: the outcomes are those of the separate steps — a refused
write keeps no claim, a replay finds the first attempt, a reused key is a 409, an audience
below the level is still refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.conftest import World
from tests.helpers import assert_problem, create_space, raw_execute
from wis_server.domain.records import IdempotentResult
from wis_server.storage import direct


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement our storage sends, direct ones (PostgreSQL) and SQLAlchemy's."""
    found: list[str] = []
    real = direct.fetch

    async def counted(driver: Any, sql: str, arguments: Any) -> Any:
        found.append(sql)
        return await real(driver, sql, arguments)

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        found.append(statement)

    monkeypatch.setattr(direct, "fetch", counted)
    event.listen(Engine, "before_cursor_execute", listener)
    try:
        yield found
    finally:
        event.remove(Engine, "before_cursor_execute", listener)


def _claims(sent: list[str]) -> list[str]:
    return [s for s in sent if "INSERT INTO idempotency_keys" in s]


async def test_the_space_and_the_claim_come_in_one_statement(
        world: World, sent: list[str]) -> None:
    writer = world["a_editor"]
    space = (await create_space(world.client, writer, participants=[],
                                classification="public"))["id"]
    url = f"/api/v1/spaces/{space}/entries"
    sent.clear()
    headers = {**writer.auth, "Idempotency-Key": "ett-steg"}
    body = {"kind": "note", "classification": "public", "body": "Vattnet stiger"}
    first = await world.client.post(url, headers=headers, json=body)
    assert first.status_code == 201, first.text
    claims = _claims(sent)
    assert len(claims) == 1
    if world.app.state.store.database.dialect == "postgresql":
        assert "FROM spaces" in claims[0]  # the space's rows came with the claim
        assert not [s for s in sent if s.lstrip().startswith("SELECT spaces.")]
    again = await world.client.post(url, headers=headers, json=body)
    assert again.status_code == 201 and again.json() == first.json()
    reused = await world.client.post(url, headers=headers, json={**body, "body": "Annat"})
    assert assert_problem(reused, 409)["code"] == "idempotency_key_reused"


async def test_a_refused_write_keeps_no_claim(world: World, database_url: str) -> None:
    """Refused after the claim (no such space, a space the writer may not see, a level above
    the space's ceiling): the claim rolls back, and the key is free for the real write."""
    writer, other = world["a_editor"], world["b_editor"]
    own = (await create_space(world.client, writer, participants=[],
                              classification="sekretess"))["id"]
    hidden = (await create_space(world.client, other, participants=[],  # without A
                                 classification="public"))["id"]
    headers = {**writer.auth, "Idempotency-Key": "nekad-forst"}
    body = {"kind": "note", "classification": "public", "body": "Elavbrott i Nacka"}
    for space in ("no-such-space", hidden):
        r = await world.client.post(f"/api/v1/spaces/{space}/entries", headers=headers,
                                    json=body)
        assert_problem(r, 404)
    r = await world.client.post(f"/api/v1/spaces/{own}/entries", headers=headers,
                                json={**body, "classification": "hemlig"})
    assert r.status_code == 422, r.text
    assert await raw_execute(database_url, "SELECT key FROM idempotency_keys "
                             "WHERE key = 'nekad-forst'") == []
    r = await world.client.post(f"/api/v1/spaces/{own}/entries", headers=headers, json=body)
    assert r.status_code == 201, r.text


async def test_the_store_call_says_what_an_earlier_attempt_stored(world: World) -> None:
    writer = world["a_editor"]
    space = (await create_space(world.client, writer, participants=[],
                                classification="public"))["id"]
    store = world.app.state.store
    now = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
    first = IdempotentResult("print-1", "entry", "entry-1")
    async with store.write() as tx:
        found_space, earlier = await tx.space_and_claim(space, writer.user_id, "k", first, now)
        assert found_space is not None and found_space.id == space
        assert [p.actor_id for p in found_space.participants] == [world.actors["A"]]
        assert earlier is None
    async with store.write() as tx:
        _, earlier = await tx.space_and_claim(
            space, writer.user_id, "k", IdempotentResult("print-2", "entry", "entry-2"), now)
        assert earlier is not None and earlier.resource_id == "entry-1"
        assert tx.idempotency.matches(earlier, "print-1")
        assert not tx.idempotency.matches(earlier, "print-2")
    async with store.write() as tx:
        assert await tx.space_and_claim("no-such-space", writer.user_id, "k2", first,
                                        now) == (None, None)


async def test_an_entry_for_ones_own_actor_needs_no_ceiling_lookup(
        world: World, sent: list[str]) -> None:
    writer = world["b_editor"]  # actor B, ceiling sekretess
    space = (await create_space(world.client, writer, classification="sekretess",
                                participants=[world.actors["A"], world.actors["C"]]))["id"]
    url = f"/api/v1/spaces/{space}/entries"
    sent.clear()
    own = {"kind": "note", "classification": "sekretess", "body": "Bara vi"}
    for body in (own, {**own, "audience": [world.actors["B"]]}):
        r = await world.client.post(url, headers=writer.auth, json=body)
        assert r.status_code == 201, r.text
    assert not [s for s in sent if "clearance_ceiling" in s and "FROM actors" in s
                and "users" not in s]
    # Another actor in the audience is looked up, and one below the level is refused.
    r = await world.client.post(url, headers=writer.auth,
                                json={**own, "audience": [world.actors["B"], world.actors["A"]]})
    assert r.status_code == 201, r.text
    r = await world.client.post(url, headers=writer.auth,
                                json={**own, "audience": [world.actors["B"], world.actors["C"]]})
    assert assert_problem(r, 422)["code"] == "audience_below_level"
