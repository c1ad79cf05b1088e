"""The unit of work: one transaction and the repositories bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from functools import cached_property

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..classification.crypto import ContentCipher, derive_key
from ..domain.errors import ConstraintViolated
from .audit import AuditRepository
from .callouts import CalloutRepository
from .conferences import ConferenceRepository
from .database import Database
from .directory import ActorRepository, RefreshTokenRepository, UserRepository
from .entries import EntryRepository
from .idempotency import IdempotencyRepository
from .notifications import NotificationRepository
from .outbox import OutboxRepository
from .reads import ReadRepository
from .reports import ReportRepository
from .sealing import DataKeyRepository, Sealer
from .spaces import SpaceRepository


class Tx:
    """Repositories sharing one connection and transaction, each built on first use: a
    transaction pays only for the repositories it touches (most touch two or three)."""

    def __init__(self, conn: AsyncConnection, sealer: Sealer, audit_key: bytes,
                 digest_key: bytes) -> None:
        self.conn = conn
        self._sealer = sealer
        self._audit_key = audit_key
        self._digest_key = digest_key

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
        return AuditRepository(self.conn, self._audit_key)

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


class Store:
    """What services hold: `async with store.write() as tx:` / `store.read()`."""

    def __init__(self, database: Database, cipher: ContentCipher, audit_key: bytes, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.database = database
        self.sealer = Sealer(cipher) if clock is None else Sealer(cipher, clock)
        self.audit_key = audit_key
        self.digest_key = derive_key(audit_key, "idempotency")

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        try:
            async with self.database.write() as conn:
                yield Tx(conn, self.sealer, self.audit_key, self.digest_key)
        except IntegrityError as error:  # sqlalchemy's stays in storage
            raise ConstraintViolated(error.__class__.__name__) from error

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        try:
            async with self.database.read() as conn:
                yield Tx(conn, self.sealer, self.audit_key, self.digest_key)
        except IntegrityError as error:
            raise ConstraintViolated(error.__class__.__name__) from error
