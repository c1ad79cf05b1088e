"""The unit of work: one transaction and the repositories bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ..classification.crypto import ContentCipher, derive_key
from .audit import AuditRepository
from .callouts import CalloutRepository
from .database import Database
from .directory import ActorRepository, RefreshTokenRepository, UserRepository
from .entries import EntryRepository
from .idempotency import IdempotencyRepository
from .notifications import NotificationRepository
from .outbox import OutboxRepository
from .reports import ReportRepository
from .sealing import Sealer
from .spaces import SpaceRepository


class Tx:
    """Repositories sharing one connection and transaction."""

    def __init__(self, conn: AsyncConnection, sealer: Sealer, audit_key: bytes,
                 digest_key: bytes) -> None:
        self.conn = conn
        self.actors = ActorRepository(conn)
        self.users = UserRepository(conn)
        self.tokens = RefreshTokenRepository(conn)
        self.spaces = SpaceRepository(conn, sealer)
        self.entries = EntryRepository(conn, sealer)
        self.reports = ReportRepository(conn, sealer)
        self.callouts = CalloutRepository(conn, sealer)
        self.audit = AuditRepository(conn, audit_key)
        self.idempotency = IdempotencyRepository(conn, digest_key)
        self.outbox = OutboxRepository(conn, sealer)
        self.notifications = NotificationRepository(conn, sealer, digest_key)


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
        async with self.database.write() as conn:
            yield Tx(conn, self.sealer, self.audit_key, self.digest_key)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        async with self.database.read() as conn:
            yield Tx(conn, self.sealer, self.audit_key, self.digest_key)
