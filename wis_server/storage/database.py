"""Engines and transactions. SQLite: WAL, synchronous=FULL, one writer (BEGIN IMMEDIATE behind
an in-process lock) and concurrent readers. PostgreSQL: asyncpg, one pooled engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from asyncpg.exceptions import InternalClientError
from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from . import sqlite_driver


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite:///` URLs and pick the async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+asyncpg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername in ("sqlite", "sqlite+aiosqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    else:
        raise ValueError(f"unsupported database {parsed.drivername!r}: use sqlite or postgresql")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take over transaction control from the driver so BEGIN IMMEDIATE is possible.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


RECYCLE_S = 1800  # PostgreSQL connections older than this are replaced at checkout


def _refuse_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled asyncpg connection whose server end went away (restart, idle timeout,
    pg_terminate_backend) is already marked closed by asyncpg: the pool replaces it."""
    if dbapi_connection.driver_connection.is_closed():
        raise exc.DisconnectionError("connection closed by the server")


def is_broken_protocol(error: BaseException | None) -> bool:
    """asyncpg refused to start an operation because the connection's protocol is not idle.
    Seen when the server's FATAL message (a terminated backend, a shutdown) has arrived on an
    idle pooled connection but the closed socket not yet: `is_closed()` is still False, so
    neither the checkout nor SQLAlchemy's disconnect test notices. Such a connection can do
    nothing more; it is treated as dropped (invalidated, and the request retried once).
    Only that refusal: asyncpg raises `InternalClientError` (and subclasses such as
    `OutdatedSchemaCacheError`) for other things too, which say nothing of the connection."""
    while error is not None:
        if type(error) is InternalClientError and str(error).startswith(
                "cannot switch to state"):
            return True
        error = error.__cause__
    return False


def _broken_is_disconnect(context: Any) -> None:
    if is_broken_protocol(context.original_exception):
        context.is_disconnect = True


def is_dropped_connection(error: BaseException) -> bool:
    """A database error that means the connection died under the request (nothing the
    request did wrong): the connection is already invalidated; one retry may succeed."""
    return isinstance(error, exc.DBAPIError) and bool(error.connection_invalidated)


class Database:
    """Owns the engines. `write()` yields a connection in a write transaction; `read()` one in
    a read transaction. Built in the app factory / CLI and passed explicitly."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            path = make_url(self.url).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.writer = self._sqlite_engine(immediate=True, echo=echo)
            self.reader = self._sqlite_engine(immediate=False, echo=echo)
        else:
            # No pre-ping (it cost three round trips per checkout): a connection the server
            # closed is noticed by asyncpg itself and replaced at checkout at no cost, old
            # ones are recycled, and a request that still meets a dead one is retried once
            # (api/endpoint.py, `is_dropped_connection`).
            self.writer = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False,
                pool_recycle=RECYCLE_S, echo=echo, hide_parameters=True,
            )
            event.listen(self.writer.sync_engine.pool, "checkout", _refuse_closed)
            event.listen(self.writer.sync_engine, "handle_error", _broken_is_disconnect)
            self.reader = self.writer

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def _sqlite_engine(self, *, immediate: bool, echo: bool) -> AsyncEngine:
        path = make_url(self.url).database or ":memory:"
        engine = create_async_engine(self.url, echo=echo, hide_parameters=True,
                                     async_creator=sqlite_driver.creator(path, inline=immediate))
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        def _begin(conn: Any) -> None:
            conn.exec_driver_sql(begin)

        event.listen(engine.sync_engine, "begin", _begin)
        return engine

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        if self._write_lock is not None:
            async with self._write_lock, self.writer.begin() as conn:
                yield conn
        else:
            async with self.writer.begin() as conn:
                yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.reader.begin() as conn:
            yield conn

    async def ping(self) -> bool:
        try:
            async with self.reader.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:  # readiness reports, never raises
            return False

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()
