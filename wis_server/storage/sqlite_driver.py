"""A thinner aiosqlite connection: one worker-thread hop per statement.

SQLAlchemy's aiosqlite adapter makes four hops to the connection's thread for every SELECT
(create cursor, execute, fetchall, close) and three for every other statement; each hop is a
queue hand-off, a thread wake-up and a GIL switch, and on SQLite they run while the single
writer lock is held. This connection keeps aiosqlite's thread and queue (and everything
SQLAlchemy's dialect expects of it) but its cursor runs execute + fetch + close as one call on
that thread and hands back the finished result. Nothing about durability changes: the same
sqlite3 connection, WAL, synchronous=FULL and BEGIN IMMEDIATE (database.py).

Hand-written because no maintained driver does this: aiosqlite is the driver SQLAlchemy
supports for SQLite under asyncio, and this subclass only shortens its cursor path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import aiosqlite


def _run(conn: sqlite3.Connection, sql: str, parameters: Any, many: bool
         ) -> tuple[Any, int, int | None, list[Any]]:
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        elif parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneHopCursor:
    """What SQLAlchemy's adapter uses of an aiosqlite cursor, with the rows fetched eagerly
    in the same hop as the statement (SQLAlchemy buffers them all anyway)."""

    def __init__(self, connection: OneHopConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1
        self._rows: list[Any] = []

    async def __aenter__(self) -> OneHopCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    async def _do(self, sql: str, parameters: Any, many: bool) -> OneHopCursor:
        conn = self._connection._conn  # raises ValueError("no active connection") if closed
        self.description, self.rowcount, self.lastrowid, self._rows = \
            await self._connection._execute(  # type: ignore[no-untyped-call]
                _run, conn, sql, parameters, many)
        return self

    async def execute(self, sql: str, parameters: Any = None) -> OneHopCursor:
        return await self._do(sql, parameters, False)

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> OneHopCursor:
        return await self._do(sql, parameters, True)

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def close(self) -> None:
        self._rows = []


class OneHopConnection(aiosqlite.Connection):
    def cursor(self) -> OneHopCursor:  # type: ignore[override]
        return OneHopCursor(self)


def creator(path: str) -> Callable[[], Any]:
    """An `async_creator` for SQLAlchemy: the same sqlite3 connection SQLAlchemy's aiosqlite
    dialect would open (check_same_thread=False, as it passes), behind a one-hop cursor."""

    async def connect() -> OneHopConnection:
        connection = OneHopConnection(
            lambda: sqlite3.connect(path, check_same_thread=False), iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy's dialect does
        await connection
        return connection

    return connect
