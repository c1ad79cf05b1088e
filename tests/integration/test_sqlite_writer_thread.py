"""SQLite's writer runs its statements on the event loop's thread and only what may wait
(BEGIN IMMEDIATE for the lock, COMMIT/ROLLBACK for the fsync) on the worker thread; a
statement under `offloaded()` and every reader statement stay on the worker thread. What
the writer commits is on disk for another connection, and a failed statement rolls its
transaction back and leaves the connection usable."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from wis_server.storage.database import Database
from wis_server.storage.sqlite_driver import offloaded


async def traced(conn: Any, seen: list[tuple[str, int]]) -> None:
    raw = await conn.get_raw_connection()
    raw.driver_connection._conn.set_trace_callback(
        lambda sql: seen.append((sql.split()[0].upper(), threading.get_ident())))


@pytest.fixture
async def database(tmp_path: Path) -> Any:
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    async with db.write() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"))
    yield db
    await db.dispose()


async def test_writer_statements_run_on_the_loop_thread(database: Database) -> None:
    loop_thread = threading.get_ident()
    seen: list[tuple[str, int]] = []
    async with database.write() as conn:
        await traced(conn, seen)
    seen.clear()
    async with database.write() as conn:
        await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
        rows = (await conn.execute(text("SELECT v FROM t"))).all()
        with offloaded():
            await conn.execute(text("UPDATE t SET v = 'b'"))
    assert [r.v for r in rows] == ["a"]
    where = {kind: thread for kind, thread in seen}
    assert [kind for kind, _ in seen] == ["BEGIN", "INSERT", "SELECT", "UPDATE", "COMMIT"]
    assert where["INSERT"] == where["SELECT"] == loop_thread
    assert where["BEGIN"] != loop_thread and where["COMMIT"] != loop_thread
    assert where["UPDATE"] != loop_thread  # offloaded


async def test_reader_statements_stay_on_the_worker_thread(database: Database) -> None:
    loop_thread = threading.get_ident()
    seen: list[tuple[str, int]] = []
    async with database.read() as conn:
        await traced(conn, seen)
        await conn.execute(text("SELECT count(*) FROM t"))
    assert ("SELECT", loop_thread) not in seen
    assert any(kind == "SELECT" for kind, _ in seen)


async def test_what_the_writer_commits_is_there_for_another_connection(
        database: Database, tmp_path: Path) -> None:
    async with database.write() as conn:
        await conn.execute(text("INSERT INTO t (id, v) VALUES (7, 'kept')"))
    other = sqlite3.connect(tmp_path / "w.db")
    try:
        assert other.execute("SELECT v FROM t WHERE id = 7").fetchall() == [("kept",)]
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        other.close()


async def test_a_failed_statement_rolls_back_and_the_writer_goes_on(
        database: Database) -> None:
    with pytest.raises(IntegrityError):
        async with database.write() as conn:
            await conn.execute(text("INSERT INTO t (id, v) VALUES (1, 'first')"))
            await conn.execute(text("INSERT INTO t (id, v) VALUES (1, 'again')"))
    async with database.write() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
        await conn.execute(text("INSERT INTO t (id, v) VALUES (1, 'second')"))
    async with database.read() as conn:
        assert (await conn.execute(text("SELECT v FROM t"))).scalar_one() == "second"
