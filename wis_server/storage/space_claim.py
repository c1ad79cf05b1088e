"""The space a write goes to and the write's Idempotency-Key claim, in one round trip.

A create use case that knows its new resource's id up front reads the space (its labels, for
the access decision) and then claims the key (storage/idempotency.py). On PostgreSQL the two
are one statement: the claim's `INSERT … ON CONFLICT DO NOTHING` is a data-modifying CTE and
the space's rows carry whether it inserted. The caller decides on the space afterwards, as
before; a refusal raises, and the transaction's rollback takes the claim with it, so the
key is kept only for a write that commits — exactly as with two statements. On SQLite the
two statements run on the event loop's thread without a hop (storage/sqlite_driver.py), so
they stay two.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.model import Space
from ..domain.records import IdempotentResult
from .direct import Direct
from .idempotency import IdempotencyRepository
from .spaces import SpaceRepository, sealed_space, sealed_statement
from .tables import idempotency_keys


def _space_and_claim() -> Direct:
    claim = (insert(idempotency_keys)
             .values({c.name: bindparam(f"i_{c.name}", type_=c.type)
                      for c in idempotency_keys.c})
             .on_conflict_do_nothing().returning(idempotency_keys.c.user_id).cte("c"))
    claimed = select(func.count()).select_from(claim).scalar_subquery().label("claimed")
    return Direct(sealed_statement().add_columns(claimed).add_cte(claim))


# Built once (see storage/sealing.py); PostgreSQL only, sent to asyncpg directly.
_SPACE_AND_CLAIM = _space_and_claim()


async def space_and_claim(conn: AsyncConnection, spaces: SpaceRepository,
                          keys: IdempotencyRepository, space_id: str, user_id: str, key: str,
                          result: IdempotentResult, now: datetime
                          ) -> tuple[Space | None, IdempotentResult | None]:
    """The space's labels (None: no such space) and what an earlier attempt stored under
    the key (None: this claim is the first, and the key now names `result`, kept only if
    the transaction commits). A concurrent first attempt on PostgreSQL waits for the
    other's commit and then finds its row."""
    if conn.dialect.name != "postgresql":
        return (await spaces.get(space_id, content=False),
                await keys.claim(user_id, key, result, now))
    rows = (await _SPACE_AND_CLAIM.execute(conn, {
        "b_space_id": space_id, **{f"i_{name}": value for name, value in
                                   keys.claim_values(user_id, key, result, now).items()}})
            ).all()
    space = sealed_space(rows)
    if space is None:  # no such space: the caller refuses, and the claim rolls back with it
        return None, None
    if rows[0].claimed:
        return space, None
    return space, await keys.find(user_id, key)
