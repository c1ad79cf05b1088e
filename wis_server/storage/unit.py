"""The unit of work: one transaction and the repositories bound to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import cached_property

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..classification.crypto import ContentCipher, derive_key
from ..domain.errors import ConstraintViolated
from ..domain.levels import Classification
from ..domain.model import Entry, Space
from ..domain.records import IdempotentResult
from .audit import AuditRepository, ChainHeads
from .callouts import CalloutRepository
from .conferences import ConferenceRepository
from .database import Database
from .directory import ActorRepository, RefreshTokenRepository, UserRepository
from .entries import EntryRepository
from .entry_append import MakeEntry, MakeRecord, append_entry
from .idempotency import IdempotencyRepository
from .notifications import NotificationRepository
from .outbox import OutboxRepository
from .reads import ReadRepository
from .reports import ReportRepository
from .sealing import DataKeyRepository, Sealer
from .space_claim import space_and_claim
from .spaces import SpaceRepository


class Tx:
    """Repositories sharing one connection and transaction, each built on first use: a
    transaction pays only for the repositories it touches (most touch two or three)."""

    def __init__(self, conn: AsyncConnection, sealer: Sealer, audit_key: bytes,
                 digest_key: bytes, audit_head: ChainHeads | None = None, *,
                 writable: bool = True) -> None:
        self.conn = conn
        self.writable = writable
        """Whether this transaction may also write: a write transaction, or any on
        PostgreSQL (where reads and writes share one engine); never a SQLite read."""
        self._sealer = sealer
        self._audit_key = audit_key
        self._digest_key = digest_key
        self._audit_head = audit_head

    @cached_property
    def actors(self) -> ActorRepository:
        return ActorRepository(self.conn)

    @cached_property
    def users(self) -> UserRepository:
        return UserRepository(self.conn)

    @cached_property
    def tokens(self) -> RefreshTokenRepository:
        return RefreshTokenRepository(self.conn)

    @cached_property
    def spaces(self) -> SpaceRepository:
        return SpaceRepository(self.conn, self._sealer)

    @cached_property
    def entries(self) -> EntryRepository:
        return EntryRepository(self.conn, self._sealer)

    @cached_property
    def reports(self) -> ReportRepository:
        return ReportRepository(self.conn, self._sealer)

    @cached_property
    def callouts(self) -> CalloutRepository:
        return CalloutRepository(self.conn, self._sealer)

    @cached_property
    def conferences(self) -> ConferenceRepository:
        return ConferenceRepository(self.conn, self._sealer)

    @cached_property
    def audit(self) -> AuditRepository:
        return AuditRepository(self.conn, self._audit_key, self._audit_head)

    @cached_property
    def idempotency(self) -> IdempotencyRepository:
        return IdempotencyRepository(self.conn, self._digest_key)

    @cached_property
    def outbox(self) -> OutboxRepository:
        return OutboxRepository(self.conn, self._sealer)

    @cached_property
    def data_keys(self) -> DataKeyRepository:
        return DataKeyRepository(self.conn)

    @cached_property
    def notifications(self) -> NotificationRepository:
        return NotificationRepository(self.conn, self._sealer, self._digest_key)

    @cached_property
    def reads(self) -> ReadRepository:
        return ReadRepository(self.conn)

    async def append_entry(self, *, space_id: str, entry_id: str, level: Classification,
                           make_entry: MakeEntry, make_record: MakeRecord, now: datetime
                           ) -> Entry:
        """The space's next seq, the entry with it and the write's audit record (see
        storage/entry_append.py: two statements on PostgreSQL)."""
        return await append_entry(self.conn, self.spaces, self.entries, self.audit,
                                  space_id=space_id, entry_id=entry_id, level=level,
                                  make_entry=make_entry, make_record=make_record, now=now)

    async def space_and_claim(self, space_id: str, user_id: str, key: str,
                              result: IdempotentResult, now: datetime
                              ) -> tuple[Space | None, IdempotentResult | None]:
        """`spaces.get(space_id, content=False)` and `idempotency.claim(...)` (see
        storage/space_claim.py: one statement on PostgreSQL)."""
        return await space_and_claim(self.conn, self.spaces, self.idempotency, space_id,
                                     user_id, key, result, now)


class _Opened:
    """A transaction a request opened before its use case ran (to load the principal in
    it), waiting for that use case's first `Store.write()`/`read()` in the same task to
    take it over; whoever holds `cm` ends the transaction."""

    __slots__ = ("cm", "conn", "taken", "task", "write")

    def __init__(self, cm: AbstractAsyncContextManager[AsyncConnection], conn: AsyncConnection,
                 write: bool) -> None:
        self.cm = cm
        self.conn = conn
        self.write = write
        self.task = asyncio.current_task()
        self.taken = False

    def take(self) -> bool:
        """Whether the caller (the request's own task, first to ask) now holds it."""
        if self.taken or asyncio.current_task() is not self.task:
            return False
        self.taken = True
        return True


_opened: ContextVar[_Opened | None] = ContextVar("wis_request_transaction", default=None)


class Store:
    """What services hold: `async with store.write() as tx:` / `store.read()`."""

    def __init__(self, database: Database, cipher: ContentCipher, audit_key: bytes, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.database = database
        self.sealer = Sealer(cipher) if clock is None else Sealer(cipher, clock)
        self.audit_key = audit_key
        self.digest_key = derive_key(audit_key, "idempotency")
        self.audit_head = ChainHeads()  # shared by this store's transactions (a hint)

    def _tx(self, conn: AsyncConnection, *, write: bool = True) -> Tx:
        return Tx(conn, self.sealer, self.audit_key, self.digest_key, self.audit_head,
                  writable=write or not self.database.is_sqlite)

    @asynccontextmanager
    async def request(self, *, write: bool) -> AsyncIterator[Tx]:
        """One transaction for a whole request: yields it for what the request does first
        (loading its principal), and the first `write()`/`read()` of the use case the request
        then runs continues in it instead of opening a second one — one connection, one
        BEGIN/COMMIT. A use case that needs to write after a read-only start gets a fresh
        write transaction (the opened one ends first). Whatever no use case took over ends
        here, committed if the block succeeded."""
        cm = self.database.write() if write else self.database.read()
        conn = await cm.__aenter__()
        opened = _Opened(cm, conn, write)
        token = _opened.set(opened)
        try:
            yield self._tx(conn, write=write)
        except BaseException as error:
            if not opened.taken:
                opened.taken = True
                if not await cm.__aexit__(type(error), error, error.__traceback__):
                    raise
            else:
                raise
        else:
            if not opened.taken:
                opened.taken = True
                await cm.__aexit__(None, None, None)
        finally:
            _opened.reset(token)

    @asynccontextmanager
    async def _continue(self, opened: _Opened) -> AsyncIterator[Tx]:
        """Run the caller's block in the request's transaction and end it as `write()` /
        `read()` would have ended their own."""
        try:
            yield self._tx(opened.conn, write=opened.write)
        except BaseException as error:
            if not await opened.cm.__aexit__(type(error), error, error.__traceback__):
                raise
        else:
            await opened.cm.__aexit__(None, None, None)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        try:
            opened = _opened.get()
            if opened is not None and opened.take():
                if opened.write:
                    async with self._continue(opened) as tx:
                        yield tx
                    return
                await opened.cm.__aexit__(None, None, None)  # a read-only start ends first
            async with self.database.write() as conn:
                yield self._tx(conn)
        except IntegrityError as error:  # sqlalchemy's stays in storage
            raise ConstraintViolated(error.__class__.__name__) from error

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        try:
            opened = _opened.get()
            if opened is not None and opened.take():  # a read runs in either kind
                async with self._continue(opened) as tx:
                    yield tx
                return
            async with self.database.read() as conn:
                yield self._tx(conn, write=False)
        except IntegrityError as error:
            raise ConstraintViolated(error.__class__.__name__) from error
