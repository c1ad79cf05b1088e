"""Statements sent to asyncpg directly (storage/direct.py) behave as through SQLAlchemy: the
same rows, inside SQLAlchemy's transaction, the same exception classes, dropped connections
invalidated; on SQLite they simply go through SQLAlchemy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, exc, func, select

from tests.conftest import World, admin_sql
from tests.helpers import create_space
from wis_server.domain.levels import Classification
from wis_server.domain.records import EntryLabelFilter
from wis_server.storage import direct
from wis_server.storage.database import Database, is_dropped_connection
from wis_server.storage.direct import Direct
from wis_server.storage.tables import audit_log, idempotency_keys, users

_USER = Direct(select(users).where(users.c.id == bindparam("b_id")))
_KEY_INSERT = Direct(idempotency_keys.insert())
_KEY = Direct(select(idempotency_keys.c.resource_id, idempotency_keys.c.created_at)
              .where(idempotency_keys.c.key == bindparam("b_key")))
_KEYS = Direct(select(func.count()).select_from(idempotency_keys))


def _key_row(user_id: str, key: str) -> dict[str, Any]:
    return {"user_id": user_id, "key": key, "fingerprint": "f" * 64, "resource_type": "entry",
            "resource_id": str(uuid.uuid4()), "created_at": datetime(2026, 12, 3, tzinfo=UTC)}


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    sent: list[str] = []
    real = direct.fetch

    async def counted(driver: Any, sql: str, arguments: Any) -> Any:
        sent.append(sql)
        return await real(driver, sql, arguments)

    monkeypatch.setattr(direct, "fetch", counted)
    return sent


async def test_rows_are_the_same_as_through_sqlalchemy(world: World, database_url: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    sent = _counting(monkeypatch)
    user_id = world["a_editor"].user_id
    database = Database(database_url)
    try:
        async with database.read() as conn:
            plain = (await conn.execute(_USER.statement, {"b_id": user_id})).all()
            through = (await _USER.execute(conn, {"b_id": user_id})).all()
            assert [tuple(r) for r in through] == [tuple(r) for r in plain] and len(plain) == 1
            assert through[0].username == plain[0].username == "a_editor"
            assert through[0].created_at == plain[0].created_at
            assert through[0].created_at.tzinfo is not None  # UtcDateTime's result processing
            assert (await _USER.execute(conn, {"b_id": "nobody"})).first() is None
            assert (await _KEYS.execute(conn, {})).scalar_one() == 0
        # Only PostgreSQL sends them to asyncpg itself.
        assert len(sent) == (3 if database.dialect == "postgresql" else 0)
    finally:
        await database.dispose()


async def test_a_direct_first_statement_runs_in_the_transaction_and_rolls_back_with_it(
        world: World, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sent = _counting(monkeypatch)
    user_id = world["a_editor"].user_id
    database = Database(database_url)
    try:
        with pytest.raises(RuntimeError):
            async with database.write() as conn:
                await _KEY_INSERT.execute(conn, _key_row(user_id, "undone"))  # the first
                assert (await _KEY.execute(conn, {"b_key": "undone"})).first() is not None
                raise RuntimeError("the use case failed")
        async with database.write() as conn:
            await _KEY_INSERT.execute(conn, _key_row(user_id, "kept"))
        async with database.read() as conn:
            keys = (await conn.execute(select(idempotency_keys.c.key))).scalars().all()
            assert keys == ["kept"]
            stored = (await _KEY.execute(conn, {"b_key": "kept"})).one()
            assert stored.created_at == datetime(2026, 12, 3, tzinfo=UTC)  # UtcDateTime bound
        assert len(sent) == (4 if database.dialect == "postgresql" else 0)
    finally:
        await database.dispose()


async def test_a_constraint_violation_is_sqlalchemys_integrity_error(world: World,
                                                                      database_url: str) -> None:
    user_id = world["a_editor"].user_id
    database = Database(database_url)
    try:
        async with database.write() as conn:
            await _KEY_INSERT.execute(conn, _key_row(user_id, "twice"))
        with pytest.raises(exc.IntegrityError) as raised:
            async with database.write() as conn:
                await _KEY_INSERT.execute(conn, _key_row(user_id, "twice"))
        assert not is_dropped_connection(raised.value)
        # The statement's parameters (ids, tags, ciphertext) stay out of the error's text,
        # and so out of any log line it reaches; through SQLAlchemy the same.
        assert "f" * 64 not in str(raised.value)
        assert "hidden due to hide_parameters" in str(raised.value)
        with pytest.raises(exc.IntegrityError) as plain:
            async with database.write() as conn:
                await conn.execute(_KEY_INSERT.statement, _key_row(user_id, "twice"))
        assert "f" * 64 not in str(plain.value)
        async with database.read() as conn:  # the pool's connection is fine afterwards
            assert (await _KEYS.execute(conn, {})).scalar_one() == 1
    finally:
        await database.dispose()


async def test_one_row_wanted_none_or_many_found_is_refused(world: World,
                                                            database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.read() as conn:
            with pytest.raises(exc.NoResultFound):
                (await _USER.execute(conn, {"b_id": "nobody"})).one()
            every = Direct(select(users.c.id))
            with pytest.raises(exc.MultipleResultsFound):
                (await every.execute(conn, {})).one()
    finally:
        await database.dispose()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_dropped_connection_is_invalidated_and_marked_so(world: World,
                                                                 database_url: str) -> None:
    user_id = world["a_editor"].user_id
    database = Database(database_url)
    name = database_url.rpartition("/")[2]
    try:
        with pytest.raises(exc.DBAPIError) as raised:
            async with database.read() as conn:
                await _USER.execute(conn, {"b_id": user_id})  # the transaction is open
                await admin_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")
                await _USER.execute(conn, {"b_id": user_id})
        assert is_dropped_connection(raised.value)
        async with database.read() as conn:  # a fresh connection replaces it
            assert (await _USER.execute(conn, {"b_id": user_id})).one().id == user_id
    finally:
        await database.dispose()


async def test_the_audit_chain_written_directly_verifies(world: World) -> None:
    """A few posts (their seq, lock and rows all sent directly on PostgreSQL), then the
    chain as `wis audit verify` checks it."""
    person = world["a_editor"]
    space = (await world.client.post("/api/v1/spaces", headers=person.auth, json={
        "title": "Direkt", "type": "exercise", "classification": "public"})).json()["id"]
    seqs = []
    for n in range(5):
        response = await world.client.post(
            f"/api/v1/spaces/{space}/entries", headers={**person.auth,
                                                         "Idempotency-Key": f"k{n}"},
            json={"kind": "note", "classification": "public", "body": f"Lägesbild {n}"})
        assert response.status_code == 201, response.text
        seqs.append(response.json()["seq"])
    assert seqs == list(range(seqs[0], seqs[0] + 5))  # gapless
    again = await world.client.post(
        f"/api/v1/spaces/{space}/entries", headers={**person.auth, "Idempotency-Key": "k0"},
        json={"kind": "note", "classification": "public", "body": "Lägesbild 0"})
    assert again.status_code in (200, 201), again.text
    assert again.json()["seq"] == seqs[0]  # the first, not a sixth
    store = world.app.state.store
    async with store.read() as tx:
        assert (await tx.audit.verify()).ok
        count = (await tx.conn.execute(select(func.count()).select_from(audit_log).where(
            audit_log.c.action == "entry.create"))).scalar_one()
    assert count == 5


async def test_a_log_page_sent_directly_is_the_page_sqlalchemy_gives(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The common page (no label filter, no search) is one statement built per shape; every
    shape gives what the general query gives, for a reader at each clearance and with
    audiences that leave some entries out."""
    writer, b_editor = world["a_editor"], world["b_editor"]
    space = (await create_space(world.client, writer, participants=[world.actors["B"]],
                                classification="sekretess"))["id"]
    for n in range(12):
        level = ("public", "sekretess")[n % 2]
        body: dict[str, Any] = {"kind": "note", "classification": level, "body": f"Rad {n}"}
        if n % 4 == 1:
            body["audience"] = [world.actors["A"]]  # not for B
        response = await world.client.post(f"/api/v1/spaces/{space}/entries",
                                            headers=writer.auth, json=body)
        assert response.status_code == 201, response.text
    store = world.app.state.store
    every = EntryLabelFilter(since=datetime(2000, 1, 1, tzinfo=UTC))  # the general query
    shapes = [dict(after=None, before=None, descending=False),
              dict(after=None, before=None, descending=True),
              dict(after=3, before=None, descending=False),
              dict(after=None, before=10, descending=True),
              dict(after=2, before=11, descending=False)]
    for actor, clearance in ((world.actors["A"], Classification.SEKRETESS),
                             (world.actors["B"], Classification.SEKRETESS),
                             (world.actors["B"], Classification.PUBLIC)):
        for shape in shapes:
            async with store.read() as tx:
                pages = [await tx.entries.page(
                    space, actor_id=actor, clearance=clearance, visible=lambda _label: True,
                    limit=5, labels=labels, **shape) for labels in (None, every)]
            assert pages[0] == pages[1] and pages[0], (actor, clearance, shape)
    sent = _counting(monkeypatch)
    b_page = (await world.client.get(f"/api/v1/spaces/{space}/entries",
                                     headers=b_editor.auth)).json()["items"]
    if store.database.dialect == "postgresql":  # read right came with the page's rows
        assert [sql for sql in sent if "FROM entries" in sql]
        assert not [sql for sql in sent if sql.startswith("SELECT item_audience.")]
    # B sees the public ones: a sekretess entry's default audience is its author's actor.
    assert [e["body"] for e in b_page] == [f"Rad {n}" for n in range(0, 12, 2)]


async def test_the_parameter_plan_gives_what_construct_params_gives(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each direct statement's positional values come from a plan worked out once
    (`_plan`); for every statement a few writes and reads run, it gives construct_params'
    answer, and the hot statements do use it."""
    checked: dict[str, bool] = {}
    real = direct._Compiled.arguments

    def both(self: Any, parameters: Any) -> list[Any]:
        constructed = self.construct(parameters)
        expected = [value if process is None else process(value)
                    for value, process in zip((constructed[n] for n in self.names),
                                              self.binds, strict=True)]
        got = real(self, parameters)
        assert got == expected, self.sql
        checked[self.sql] = self.plan is not None
        return got

    monkeypatch.setattr(direct._Compiled, "arguments", both)
    writer, reader = world["a_editor"], world["b_editor"]
    space = (await create_space(world.client, writer, participants=[world.actors["B"]],
                                classification="sekretess"))["id"]
    url = f"/api/v1/spaces/{space}/entries"
    for n, level in enumerate(("public", "sekretess", "sekretess")):
        body: dict[str, Any] = {"kind": "note", "classification": level, "body": f"Rad {n}"}
        if n == 2:
            body["audience"] = [world.actors["A"], world.actors["B"]]
        r = await world.client.post(url, headers={**writer.auth, "Idempotency-Key": f"p{n}"},
                                    json=body)
        assert r.status_code == 201, r.text
    for who in (writer, reader, writer, reader):  # the second time, repeat read marks
        r = await world.client.get(url, headers=who.auth, params={"order": "desc"})
        assert r.status_code == 200 and r.json()["items"], r.text
    if world.app.state.store.database.dialect != "postgresql":
        assert not checked  # SQLite goes through SQLAlchemy
        return
    planned = {sql for sql, used in checked.items() if used}
    assert len(checked) >= 8, checked  # principal, space+claim, seq, rows, page, marks, ...
    assert planned == set(checked), [sql for sql in checked if sql not in planned]
    assert any("last_seq + $" in sql for sql in planned)  # a bound literal, from the plan
