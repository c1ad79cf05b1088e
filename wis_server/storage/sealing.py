"""Data keys in the database (wrapped only) and sealing/opening of content fields."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..classification.crypto import ContentCipher, FieldContext, WrappedKey
from ..domain.levels import Classification
from .sqlite_driver import offloaded
from .tables import data_keys

_INSERT_KEY = data_keys.insert()
"""Built once: a statement built per call costs more Python than running it (SQLAlchemy
coerces every clause and walks the tree for its cache key each time); executed with a
parameter dict, the compiled form is cached by the statement's memoised key."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Sealer:
    """Makes, finds and uses data keys; `clock` stamps new keys (the services' clock, so a
    test or a replay controls every timestamp the server writes)."""

    def __init__(self, cipher: ContentCipher, clock: Callable[[], datetime] = _utc_now
                 ) -> None:
        self.cipher = cipher
        self.clock = clock

    async def new_key(self, conn: AsyncConnection, level: Classification) -> WrappedKey:
        key = self.make_key(level)
        await conn.execute(_INSERT_KEY, self.key_values(key))
        return key

    def make_key(self, level: Classification) -> WrappedKey:
        """A new data key, not yet stored (its row: `key_values`)."""
        return self.cipher.new_data_key(str(uuid.uuid4()), level)

    def key_values(self, key: WrappedKey) -> dict[str, object]:
        return {"id": key.id, "level": key.level.value, "kek_version": key.kek_version,
                "wrapped": key.wrapped, "created_at": self.clock()}

    async def keys(self, conn: AsyncConnection, ids: Iterable[str]) -> dict[str, WrappedKey]:
        wanted = list(set(ids))
        found: dict[str, WrappedKey] = {}
        for start in range(0, len(wanted), 500):
            rows = await conn.execute(
                select(data_keys).where(data_keys.c.id.in_(wanted[start : start + 500]))
            )
            for row in rows:
                found[row.id] = WrappedKey(
                    row.id, Classification(row.level), row.kek_version, row.wrapped
                )
        return found

    def seal(self, key: WrappedKey, context: FieldContext, plaintext: str) -> bytes:
        return self.cipher.seal(key, context, plaintext)

    def open(self, key: WrappedKey, context: FieldContext, ciphertext: bytes) -> str:
        return self.cipher.open(key, context, ciphertext)


async def count_keys_to_rewrap(conn: AsyncConnection, current: dict[Classification, int]) -> int:
    total = 0
    for level, version in current.items():
        result = await conn.execute(
            select(func.count()).select_from(data_keys).where(
                data_keys.c.level == level.value, data_keys.c.kek_version != version
            )
        )
        total += int(result.scalar_one())
    return total


async def rewrap_batch(
    conn: AsyncConnection, cipher: ContentCipher, current: dict[Classification, int],
    batch_size: int = 500,
) -> int:
    """Re-wrap up to `batch_size` data keys that are not under their level's current KEK
    (on the worker thread: a batch must not hold the event loop)."""
    with offloaded():
        return await _rewrap_batch(conn, cipher, current, batch_size)


async def _rewrap_batch(conn: AsyncConnection, cipher: ContentCipher,
                        current: dict[Classification, int], batch_size: int) -> int:
    done = 0
    for level, version in current.items():
        rows = (
            await conn.execute(
                select(data_keys)
                .where(data_keys.c.level == level.value, data_keys.c.kek_version != version)
                .limit(batch_size - done)
            )
        ).all()
        for row in rows:
            old = WrappedKey(row.id, level, row.kek_version, row.wrapped)
            new = cipher.rewrap(old)
            await conn.execute(
                update(data_keys)
                .where(data_keys.c.id == row.id, data_keys.c.kek_version == row.kek_version)
                .values(kek_version=new.kek_version, wrapped=new.wrapped)
            )
            done += 1
        if done >= batch_size:
            break
    return done


class DataKeyRepository:
    """The data keys as key rotation needs them (the connection stays in storage)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def count_to_rewrap(self, current: dict[Classification, int]) -> int:
        return await count_keys_to_rewrap(self.conn, current)

    async def rewrap_batch(self, cipher: ContentCipher, current: dict[Classification, int],
                           batch_size: int = 500) -> int:
        return await rewrap_batch(self.conn, cipher, current, batch_size)
