"""The one-hop SQLite connection (storage/sqlite_driver.py): a reader's statement is one
worker-thread call, the writer's statements none (they run on the loop's thread inside BEGIN
IMMEDIATE), with the results, row counts and errors SQLAlchemy expects of aiosqlite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import exc, text

from wis_server.storage.database import Database
from wis_server.storage.sqlite_driver import OneHopConnection


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = aiosqlite.Connection._execute

    async def counting(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    return calls


async def test_each_statement_is_one_hop_with_its_results(tmp_path: Path, hops: list[str]
                                                           ) -> None:
    database = Database(f"sqlite:///{tmp_path / 'one.db'}")
    try:
        async with database.write() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert isinstance(raw, OneHopConnection)
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
            await conn.execute(text("INSERT INTO t (v) VALUES (:v)"),
                               [{"v": "a"}, {"v": "b"}, {"v": "c"}])  # executemany
            hops.clear()
            rows = (await conn.execute(text("SELECT id, v FROM t ORDER BY id"))).all()
            assert [tuple(r) for r in rows] == [(1, "a"), (2, "b"), (3, "c")]
            assert hops == []  # the writer's statements: on the loop's thread
            hops.clear()
            changed = await conn.execute(text("UPDATE t SET v = v || 'x' WHERE id > 1"))
            assert changed.rowcount == 2
            returned = await conn.execute(text("INSERT INTO t (v) VALUES ('d') RETURNING id"))
            assert returned.scalar_one() == 4
            assert hops == []
            with pytest.raises(exc.IntegrityError):  # driver errors still become SQLAlchemy's
                await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
        async with database.read() as conn:
            hops.clear()
            assert (await conn.execute(text("SELECT group_concat(v) FROM t"))).scalar_one() \
                == "a,bx,cx,d"
            assert len(hops) == 1  # a reader's: one hop (stock aiosqlite: cursor, execute,
            # fetchall, close)
            mode = (await conn.execute(text("PRAGMA synchronous"))).scalar_one()
            assert mode == 2  # FULL: durability is not traded for the shorter path
    finally:
        await database.dispose()


async def test_a_transaction_ends_without_a_hop_for_the_pools_reset(tmp_path: Path,
                                                                     hops: list[str]) -> None:
    """BEGIN, the statement, COMMIT: the pool's rollback-on-return after a COMMIT has nothing
    to undo and costs no hop; a transaction still open is rolled back on the thread."""
    database = Database(f"sqlite:///{tmp_path / 'reset.db'}")
    try:
        async with database.write() as conn:
            await conn.execute(text("CREATE TABLE t (v TEXT)"))
        async with database.read() as conn:  # the reader's connection is opened and pooled
            await conn.execute(text("SELECT 1"))
        hops.clear()
        async with database.read() as conn:
            await conn.execute(text("SELECT count(*) FROM t"))
        assert hops == ["counted"] * 3  # BEGIN, SELECT, COMMIT — no reset rollback
        with pytest.raises(RuntimeError):
            async with database.write() as conn:
                await conn.execute(text("INSERT INTO t (v) VALUES ('undone')"))
                raise RuntimeError("the block fails")
        async with database.read() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
        raw = await database.writer.raw_connection()
        try:
            driver = raw.driver_connection
            assert isinstance(driver, OneHopConnection)
            await driver.execute("BEGIN IMMEDIATE")
            await driver.execute("INSERT INTO t (v) VALUES ('open')")
            await driver.rollback()  # a transaction is open: it is rolled back
            assert not driver._conn.in_transaction
        finally:
            raw.close()
        async with database.read() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
    finally:
        await database.dispose()


async def test_a_rollback_waits_for_an_operation_still_on_the_thread(tmp_path: Path) -> None:
    """A BEGIN queued but not yet run (its caller cancelled) must not let a rollback be
    skipped: the rollback queues behind it and the connection ends outside a transaction."""
    import asyncio
    import sqlite3

    driver = OneHopConnection(lambda: sqlite3.connect(tmp_path / "queued.db",
                                                      check_same_thread=False,
                                                      isolation_level=None), 64)
    await driver
    try:
        begin = asyncio.ensure_future(driver._execute(driver._conn.execute, "BEGIN IMMEDIATE"))
        await asyncio.sleep(0)  # queued (perhaps not yet run): the thread is not idle
        await driver.rollback()
        await begin
        assert not driver._conn.in_transaction
    finally:
        await driver.close()
