"""A transaction builds only the repositories it uses (issue 9 item 5), once each."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import exc

from tests.conftest import World, admin_sql

REPOSITORIES = {"actors", "users", "tokens", "spaces", "entries", "reports", "callouts",
                "audit", "idempotency", "outbox", "notifications"}


async def test_repositories_are_built_lazily_once_per_transaction(world: World) -> None:
    store = world.app.state.store
    async with store.read() as tx:
        assert not REPOSITORIES & set(vars(tx))  # nothing built yet
        actors = tx.actors
        assert await actors.existing_ids([world.actors["A"]]) == {world.actors["A"]}
        assert tx.actors is actors
        assert REPOSITORIES & set(vars(tx)) == {"actors"}
    async with store.write() as other:
        assert other.actors is not actors  # a new transaction, new repositories
        for name in REPOSITORIES:  # every one still reachable
            assert getattr(other, name).__class__.__name__.endswith("Repository")


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_pooled_connections_the_server_dropped_are_replaced_without_pre_ping(
        world: World, database_url: str) -> None:
    person = world["a_editor"]
    assert (await world.client.get("/api/v1/me", headers=person.auth)).status_code == 200
    name = database_url.rpartition("/")[2]
    await admin_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")
    for _ in range(3):  # every pooled connection is dead; each request still succeeds
        assert (await world.client.get("/api/v1/me", headers=person.auth)).status_code == 200


async def test_a_request_meeting_a_dead_connection_is_retried_once_only_when_safe(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    person = world["a_editor"]
    directory = world.app.state.services.directory
    real = directory.principal
    calls: list[str] = []

    async def dropping_once(user_id: str) -> Any:
        calls.append(user_id)
        if len(calls) == 1:
            raise exc.DBAPIError("SELECT 1", {}, ConnectionError("gone"),
                                 connection_invalidated=True)
        return await real(user_id)

    monkeypatch.setattr(directory, "principal", dropping_once)
    assert (await world.client.get("/api/v1/me", headers=person.auth)).status_code == 200
    assert len(calls) == 2  # a read: run again on a fresh connection
    calls.clear()
    # a POST without Idempotency-Key is not repeated (it might have committed)
    r = await world.client.post("/api/v1/spaces", headers=person.auth, json={
            "title": "T", "description": "", "type": "disruption",
            "classification": "public", "participants": [world.actors["A"]]})
    assert r.status_code == 500
    assert len(calls) == 1
