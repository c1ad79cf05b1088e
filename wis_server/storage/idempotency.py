"""Idempotency keys: a retried POST finds the resource its first attempt created.

Only the resource's id is kept (never the response body, which may be classified); the
retry re-reads the resource through the normal, access-checked path. The request's
fingerprint is kept only as an HMAC under a key derived from the keyring (never in the
database): an unkeyed hash of a request would let anyone holding the database file confirm a
guessed classified body.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.records import IdempotentResult
from .direct import Direct
from .sqlite_driver import offloaded
from .tables import idempotency_keys

_CLAIM = {dialect.dialect.name: Direct(dialect.insert(idempotency_keys).on_conflict_do_nothing()
          .returning(idempotency_keys.c.user_id)) for dialect in (postgresql, sqlite)}
"""Built once per dialect (see storage/sealing.py: per-call construction costs more than the
statement); the values come as a parameter dict."""
_FIND = Direct(select(idempotency_keys).where(idempotency_keys.c.user_id == bindparam("b_user_id"),
                                              idempotency_keys.c.key == bindparam("b_key")))


class IdempotencyRepository:
    def __init__(self, conn: AsyncConnection, key: bytes) -> None:
        self.conn = conn
        self._key = key

    def tag(self, fingerprint: str) -> str:
        """What is stored for (and compared with) a request's fingerprint."""
        return hmac.new(self._key, fingerprint.encode(), hashlib.sha256).hexdigest()

    def matches(self, found: IdempotentResult, fingerprint: str) -> bool:
        return hmac.compare_digest(found.fingerprint, self.tag(fingerprint))

    async def find(self, user_id: str, key: str) -> IdempotentResult | None:
        row = (await _FIND.execute(self.conn, {"b_user_id": user_id, "b_key": key})).first()
        if row is None:
            return None
        return IdempotentResult(row.fingerprint, row.resource_type, row.resource_id)

    async def remember(self, user_id: str, key: str, result: IdempotentResult, now: datetime
                       ) -> None:
        await self.conn.execute(idempotency_keys.insert().values(
            user_id=user_id, key=key, fingerprint=self.tag(result.fingerprint),
            resource_type=result.resource_type, resource_id=result.resource_id, created_at=now))

    async def claim(self, user_id: str, key: str, result: IdempotentResult, now: datetime
                    ) -> IdempotentResult | None:
        """Remember `result` under the key unless the key is already taken, in one statement
        (a first attempt, the usual case, needs no read); returns what an earlier attempt
        stored, or None when this claim is the first. A concurrent first attempt on
        PostgreSQL waits for the other's commit and then finds its row."""
        inserted = (await _CLAIM[self.conn.dialect.name].execute(
            self.conn, self.claim_values(user_id, key, result, now))).first()
        if inserted is not None:
            return None
        return await self.find(user_id, key)

    def claim_values(self, user_id: str, key: str, result: IdempotentResult, now: datetime
                     ) -> dict[str, object]:
        """The row a claim inserts, by column name (for composing: storage/space_claim.py)."""
        return {"user_id": user_id, "key": key, "fingerprint": self.tag(result.fingerprint),
                "resource_type": result.resource_type, "resource_id": result.resource_id,
                "created_at": now}

    async def expire(self, before: datetime) -> int:
        with offloaded():  # may delete many rows: not on the event loop's thread
            result = await self.conn.execute(
                delete(idempotency_keys).where(idempotency_keys.c.created_at < before))
        return result.rowcount
