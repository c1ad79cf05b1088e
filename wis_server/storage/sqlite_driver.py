"""A thinner aiosqlite connection: one worker-thread hop per statement, or none.

SQLAlchemy's aiosqlite adapter makes four hops to the connection's thread for every SELECT
(create cursor, execute, fetchall, close) and three for every other statement; each hop is a
queue hand-off, a thread wake-up and a GIL switch, and on SQLite they run while the single
writer lock is held. This connection keeps aiosqlite's thread and queue (and everything
SQLAlchemy's dialect expects of it) but its cursor runs execute + fetch + close as one call on
that thread and hands back the finished result. Nothing about durability changes: the same
sqlite3 connection, WAL, synchronous=FULL and BEGIN IMMEDIATE (database.py).

The writer's connection goes further (`inline=True`): its statements run on the event loop's
own thread, and only BEGIN IMMEDIATE (which may wait for another process's write lock) and
COMMIT/ROLLBACK (the fsync) go to the worker thread, so a write transaction makes two hops
instead of one per statement. Inside BEGIN IMMEDIATE the writer holds SQLite's lock, so its
statements never wait: they are point reads and writes of microseconds, cheaper than the
hop (a hand-off, a thread wake-up and two GIL switches, which on a busy machine cost more
than the statement: measured 12.1 -> 6.3-9.3 ms CPU per POST entry, in-process, load 6-7).
A statement that may be long (a batch delete, key re-wrapping) runs under `offloaded()` and
keeps to the thread, so the loop is never held for it.

Hand-written because no maintained driver does this: aiosqlite is the driver SQLAlchemy
supports for SQLite under asyncio, and this subclass only shortens its cursor path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import aiosqlite

_OFFLOADED: ContextVar[bool] = ContextVar("wis_sqlite_offloaded", default=False)


@contextmanager
def offloaded() -> Iterator[None]:
    """Statements in this block run on the worker thread even on the writer's connection
    (for ones that may take long: the event loop must not wait for them)."""
    token = _OFFLOADED.set(True)
    try:
        yield
    finally:
        _OFFLOADED.reset(token)


def _waits(sql: str) -> bool:
    """A statement that may wait for another process or the disk: BEGIN (IMMEDIATE waits
    for the write lock, up to busy_timeout), COMMIT/END and ROLLBACK (fsync)."""
    head = sql.lstrip()[:8].upper()
    return head.startswith(("BEGIN", "COMMIT", "END", "ROLLBACK"))


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
        connection = self._connection
        conn = connection._conn  # raises ValueError("no active connection") if closed
        if connection.inline and not _OFFLOADED.get() and not _waits(sql):
            self.description, self.rowcount, self.lastrowid, self._rows = \
                _run(conn, sql, parameters, many)
        else:
            self.description, self.rowcount, self.lastrowid, self._rows = \
                await connection._execute(
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
    inline = False  # statements on the loop's thread (the writer's connection; see above)
    # Operations handed to the connection's thread, and those it has finished: each counter
    # is written by one thread only (the event loop's, the worker's), so neither loses a count.
    _queued = 0
    _finished = 0

    def cursor(self) -> OneHopCursor:  # type: ignore[override]
        return OneHopCursor(self)

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self._queued += 1

        def counted() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                self._finished += 1

        return await super()._execute(counted)  # type: ignore[no-untyped-call]

    async def rollback(self) -> None:
        """The pool resets every connection it takes back with a rollback, also after a
        COMMIT, when there is nothing to roll back (sqlite3 then does nothing): that case is
        answered here instead of with a hop to the thread. Only when the thread is idle —
        an operation still queued or running there (a BEGIN whose caller was cancelled) may
        yet open a transaction, so then the rollback queues behind it as before."""
        conn = self._conn  # ValueError("no active connection") if closed, as before
        if self._finished == self._queued and not conn.in_transaction:
            return
        await super().rollback()


def creator(path: str, *, inline: bool = False) -> Callable[[], Any]:
    """An `async_creator` for SQLAlchemy: the same sqlite3 connection SQLAlchemy's aiosqlite
    dialect would open (check_same_thread=False, as it passes), behind a one-hop cursor;
    `inline` for the single writer's connections."""

    async def connect() -> OneHopConnection:
        connection = OneHopConnection(
            lambda: sqlite3.connect(path, check_same_thread=False), iter_chunk_size=64)
        connection.inline = inline
        connection._thread.daemon = True  # as SQLAlchemy's dialect does
        await connection
        return connection

    return connect
