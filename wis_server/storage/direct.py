"""The statements every request runs, on PostgreSQL run on asyncpg directly.

Through SQLAlchemy's asyncio bridge a statement costs ~120 µs of our CPU on PostgreSQL; the
same statement on the asyncpg connection underneath costs ~55 µs (measured on this project's
2-core machine, one `SELECT $1 + 1` each way, client-side CPU). The difference is the bridge:
a greenlet switch each way, the execution context, parameter and result processing done per
call. A POST entry runs five such statements and a log read three or four, so the bridge was
a fifth of a write's CPU.

`Direct` wraps a statement built once at module level (as every hot statement here already
is): the first run on a dialect compiles it (keeping SQLAlchemy's own SQL, parameter order
and type processors), later runs on PostgreSQL send that SQL with the processed parameters
to the asyncpg connection of the same checked-out connection, inside the transaction
SQLAlchemy began — so atomicity, the pool, isolation and the connection's codecs are
SQLAlchemy's as before (the transaction is begun as SQLAlchemy's adapter begins it, before
the connection's first statement). What SQLAlchemy does around a statement is kept where it matters:
a failure is raised as the same `sqlalchemy.exc.DBAPIError` subclass (an IntegrityError is
still an IntegrityError) and a dropped connection is invalidated and marked so
(`database.is_dropped_connection` and the one retry keep working). On SQLite, and for a
connection not yet in a transaction, the statement goes through SQLAlchemy unchanged.

Hand-written because SQLAlchemy has no lighter path for asyncpg (its `exec_driver_sql` takes
the same bridge); it uses the asyncpg adapter's exception translation and its transaction
start, which are not public API (pinned: sqlalchemy < 2.2, covered by tests/integration/
test_direct_statements.py on PostgreSQL).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection

from .database import is_broken_protocol


class DirectResult:
    """The few `Result` methods the hot paths use, over rows already fetched."""

    __slots__ = ("_rows",)

    def __init__(self, rows: Sequence[Any]) -> None:
        self._rows = rows

    def all(self) -> Sequence[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise exc.NoResultFound("expected one row") if not self._rows \
                else exc.MultipleResultsFound("expected one row")
        return self._rows[0]

    def scalar_one(self) -> Any:
        return self.one()[0]

    def __iter__(self) -> Any:
        return iter(self._rows)


_CONSTANT = object()


def _plan(compiled: Any, keys: Sequence[str]) -> tuple[tuple[Any, Any], ...] | None:
    """Where each positional parameter comes from, worked out once: `(key, None)` for a
    value the caller passes, `(_CONSTANT, value)` for a bound literal (the `1` of
    `last_seq + 1`) — what `construct_params` finds by walking every bind of the statement
    on each call. None where that shortcut would not give construct_params' answer (an
    escaped or missing name, a callable or required value not passed): those keep calling it."""
    if compiled.escaped_bind_names:
        return None
    # Values a text clause carried in, which construct_params puts under the caller's.
    collected = compiled._collected_params if getattr(compiled, "_collect_params", False) \
        else {}
    given = set(keys)
    plan: list[tuple[Any, Any]] = []
    for name in compiled.positiontup or ():
        bind = compiled.binds.get(name)
        if bind is None:
            return None
        if bind.key in given:
            plan.append((bind.key, None))
        elif name in given:
            plan.append((name, None))
        elif bind.key in collected or name in collected:
            plan.append((_CONSTANT, collected.get(bind.key, collected.get(name))))
        elif bind.callable is None and not bind.required:
            plan.append((_CONSTANT, bind.value))
        else:
            return None
    return tuple(plan)


class _Compiled:
    __slots__ = ("binds", "construct", "names", "plan", "results", "row", "sql")

    def __init__(self, statement: Any, dialect: Any, keys: Sequence[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("a statement with expanding parameters cannot run directly")
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        processors = compiled._bind_processors  # SQLAlchemy's own, per parameter name
        self.binds: tuple[Callable[[Any], Any] | None, ...] = tuple(
            processors.get(name) for name in self.names)
        columns = compiled._result_columns  # (key, name, objects, type) per selected column
        processed = ((index, column[3]._cached_result_processor(dialect, None))
                     for index, column in enumerate(columns))
        self.results: tuple[tuple[int, Callable[[Any], Any]], ...] = tuple(
            (index, process) for index, process in processed if process is not None)
        self.row: Any = namedtuple("Row", [column[0] for column in columns],
                                   rename=True) if columns else None
        self.construct = compiled.construct_params
        self.plan = _plan(compiled, keys)

    def arguments(self, parameters: Mapping[str, Any]) -> list[Any]:
        """The positional, bind-processed values for asyncpg."""
        plan = self.plan
        if plan is None:
            constructed = self.construct(parameters)
            values: Any = (constructed[n] for n in self.names)
        else:
            values = (constant if key is _CONSTANT else parameters[key]
                      for key, constant in plan)
        return [value if process is None else process(value)
                for value, process in zip(values, self.binds, strict=True)]


class Direct:
    """A statement built once; `execute` runs it on asyncpg directly on PostgreSQL."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, ...], _Compiled] = {}

    async def execute(self, conn: AsyncConnection, parameters: Mapping[str, Any]) -> Any:
        """The statement's rows (as a `DirectResult`, or SQLAlchemy's `Result` where it ran
        through SQLAlchemy): both answer `all`, `first`, `one` and `scalar_one`."""
        if conn.dialect.name != "postgresql":
            return await conn.execute(self.statement, dict(parameters))
        raw = await conn.get_raw_connection()
        adapted = raw.dbapi_connection
        driver = raw.driver_connection
        if driver is None or adapted is None:
            return await conn.execute(self.statement, dict(parameters))
        if not driver.is_in_transaction():
            # SQLAlchemy's adapter begins the transaction before a connection's first
            # statement: do the same (only inside a transaction SQLAlchemy began, which it
            # also ends; anything else goes through SQLAlchemy).
            if not conn.in_transaction() or adapted._transaction is not None:
                return await conn.execute(self.statement, dict(parameters))
            try:
                await adapted._start_transaction()
            except Exception as error:
                await _raise_translated(conn, adapted, "BEGIN", (), error)
            if not driver.is_in_transaction():  # an autocommit connection
                return await conn.execute(self.statement, dict(parameters))
        keys = tuple(parameters)
        compiled = self._compiled.get(keys)
        if compiled is None:
            compiled = self._compiled[keys] = _Compiled(self.statement, conn.dialect, keys)
        arguments = compiled.arguments(parameters)
        try:
            records = await fetch(driver, compiled.sql, arguments)
        except Exception as error:
            await _raise_translated(conn, adapted, compiled.sql, arguments, error)
        if compiled.row is None:
            return DirectResult(())
        make, results = compiled.row._make, compiled.results
        if not results:
            return DirectResult([make(r) for r in records])
        rows = []
        for record in records:  # only the columns whose type processes results
            values = list(record)
            for index, process in results:
                values[index] = process(values[index])
            rows.append(make(values))
        return DirectResult(rows)


async def fetch(driver: Any, sql: str, arguments: Sequence[Any]) -> Any:
    """One statement on the asyncpg connection (a seam: the benchmark counts statements
    here as it counts SQLAlchemy's)."""
    return await driver.fetch(sql, *arguments)


async def _raise_translated(conn: AsyncConnection, adapted: Any, sql: str,
                            arguments: Sequence[Any], error: Exception) -> None:
    """Raise `error` as SQLAlchemy would have: its DBAPI error, wrapped in the matching
    `sqlalchemy.exc` class; a dropped connection invalidated and marked so."""
    dbapi_error: BaseException = error
    try:
        adapted._handle_exception(error)  # raises the adapter's DBAPI-style error
    except Exception as translated:
        dbapi_error = translated
    dbapi = conn.dialect.loaded_dbapi
    dropped = isinstance(dbapi_error, dbapi.Error) and (
        conn.dialect.is_disconnect(dbapi_error, adapted, None)
        or is_broken_protocol(dbapi_error))
    if dropped:
        await conn.invalidate(dbapi_error)
    if not isinstance(dbapi_error, dbapi.Error):
        raise error
    raise exc.DBAPIError.instance(sql, list(arguments), dbapi_error, dbapi.Error,
                                  connection_invalidated=dropped,
                                  hide_parameters=conn.sync_engine.hide_parameters,
                                  dialect=conn.dialect) from error
