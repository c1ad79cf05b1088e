"""A transaction builds only the repositories it uses (issue 9 item 5), once each."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import exc

from tests.conftest import World, admin_sql
from wis_server.classification.crypto import EnvelopeCipher
from wis_server.storage.audit import AuditRecord, verify_chain
from wis_server.storage.unit import Store

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


async def test_a_request_transaction_is_continued_by_the_first_use_case_only(
        world: World) -> None:
    store = world.app.state.store
    async with store.request(write=True) as first:
        async with store.write() as continued:
            assert continued.conn is first.conn  # the same connection and transaction
        async with store.read() as later:
            assert later.conn is not first.conn  # the request's transaction has ended
    async with store.request(write=False) as start:
        # a use case that writes after a read-only start: the read ends, a write begins
        async with store.write() as tx:
            assert tx.conn is not start.conn
            await tx.audit.append(AuditRecord("test.after_read"), datetime.now(UTC))
    async with store.request(write=True) as untouched:
        await untouched.audit.append(AuditRecord("test.untaken"), datetime.now(UTC))
    async with store.read() as tx:  # what no use case took over is committed at the end
        actions = [r.record.action async for r in tx.audit.scan()]
    assert actions[-2:] == ["test.after_read", "test.untaken"]


async def test_the_audit_head_hint_survives_other_writers_and_rollbacks(
        world: World) -> None:
    """Two stores on one database (two processes): each appends on its own stale hint and
    after a rolled-back append; the chain stays gapless and verifies."""
    store = world.app.state.store
    other = Store(store.database, EnvelopeCipher(world.app.state.keyring), store.audit_key)
    now = datetime.now(UTC)
    for n in range(3):
        for writer in (store, other):
            async with writer.write() as tx:
                await tx.audit.append(AuditRecord(f"test.turn{n}"), now)
    with pytest.raises(RuntimeError):
        async with store.write() as tx:
            await tx.audit.append(AuditRecord("test.rolled_back"), now)
            raise RuntimeError("abort after the append")
    async with store.write() as tx:  # its hint names a record that was never committed
        await tx.audit.append(AuditRecord("test.after_rollback"), now)
    async with store.read() as tx:
        result = await verify_chain(tx.audit.scan(), store.audit_key)
        actions = [r.record.action async for r in tx.audit.scan()]
    assert result.ok, result.problem
    assert "test.rolled_back" not in actions
    assert actions[-7:] == [f"test.turn{n}" for n in range(3) for _ in (0, 1)] + [
        "test.after_rollback"]


async def test_only_a_sqlite_read_transaction_is_not_writable(world: World) -> None:
    store = world.app.state.store
    async with store.write() as tx:
        assert tx.writable
    async with store.read() as tx:  # PostgreSQL: one engine, a read may audit in place
        assert tx.writable is (not store.database.is_sqlite)


def _protocol_busy_once(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The next BEGIN meets what CI once saw after pg_terminate_backend: the server's FATAL
    message has put the idle connection's protocol out of its idle state, but the closed
    socket has not arrived yet (so `is_closed()` is still False)."""
    from asyncpg.exceptions import InternalClientError
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

    real = AsyncAdapt_asyncpg_connection._start_transaction
    fired: list[int] = []

    async def busy_once(self: Any) -> None:
        if not fired:
            fired.append(1)
            self._handle_exception(InternalClientError(
                "cannot switch to state 15; another operation (2) is in progress"))
        await real(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "_start_transaction", busy_once)
    return fired


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_connection_whose_protocol_is_stuck_is_dropped_and_the_read_retried(
        world: World, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    person = world["a_editor"]
    fired = _protocol_busy_once(monkeypatch)
    response = await world.client.get("/api/v1/me", headers=person.auth)
    assert fired == [1]  # the first BEGIN did fail ...
    assert response.status_code == 200, response.text  # ... and the retry answered


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_stuck_protocol_counts_as_a_dropped_connection_through_sqlalchemy_too(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import text

    from wis_server.storage.database import Database, is_dropped_connection

    database = Database(database_url)
    try:
        fired = _protocol_busy_once(monkeypatch)
        with pytest.raises(exc.DBAPIError) as caught:
            async with database.read() as conn:
                await conn.execute(text("SELECT 1"))
        assert fired == [1]
        assert is_dropped_connection(caught.value)
        async with database.read() as conn:  # the pool hands out a working connection
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await database.dispose()


def test_only_the_protocol_state_refusal_counts_as_a_broken_connection() -> None:
    from asyncpg.exceptions import InternalClientError, OutdatedSchemaCacheError

    from wis_server.storage.database import is_broken_protocol

    stuck = InternalClientError("cannot switch to state 15; another operation (2) is in progress")
    wrapped = RuntimeError("translated")
    wrapped.__cause__ = stuck
    assert is_broken_protocol(stuck) and is_broken_protocol(wrapped)
    assert not is_broken_protocol(InternalClientError("no encoder for OID 1234"))
    assert not is_broken_protocol(OutdatedSchemaCacheError(
        "cannot switch to state: cached statement plan is invalid"))
    assert not is_broken_protocol(None)
