"""Run a create use case at most once per (user, Idempotency-Key)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..domain.codes import Code
from ..domain.errors import Conflict, ConstraintViolated
from ..domain.records import IdempotentResult
from .ports import Transaction

T = TypeVar("T")


def fingerprint(operation: str, payload: Any) -> str:
    raw = json.dumps([operation, payload], sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()


async def previous_result(tx: Transaction, user_id: str, key: str | None, print_: str
                          ) -> str | None:
    """The id created by an earlier attempt with this key, or None if this is the first."""
    if key is None:
        return None
    found = await tx.idempotency.find(user_id, key)
    if found is None:
        return None
    if not tx.idempotency.matches(found, print_):
        raise Conflict("this Idempotency-Key was used for a different request",
                       code=Code.IDEMPOTENCY_KEY_REUSED)
    return found.resource_id


async def claim(tx: Transaction, user_id: str, key: str | None, print_: str, resource_type: str,
                resource_id: str, now: Any) -> str | None:
    """`previous_result` and `remember` in one statement, for a use case that knows its
    new resource's id up front: None if this is the first attempt (the key now names
    `resource_id`, kept only if the transaction commits), else the earlier attempt's id."""
    if key is None:
        return None
    return earlier_id(tx, await tx.idempotency.claim(
        user_id, key, IdempotentResult(print_, resource_type, resource_id), now), print_)


def earlier_id(tx: Transaction, found: IdempotentResult | None, print_: str) -> str | None:
    """What a claim found, checked: None if the claim was the first, else the earlier
    attempt's id (Conflict if that attempt was a different request)."""
    if found is None:
        return None
    if not tx.idempotency.matches(found, print_):
        raise Conflict("this Idempotency-Key was used for a different request",
                       code=Code.IDEMPOTENCY_KEY_REUSED)
    return found.resource_id


async def remember(tx: Transaction, user_id: str, key: str | None, print_: str, resource_type: str,
                   resource_id: str, now: Any) -> None:
    if key is not None:
        await tx.idempotency.remember(
            user_id, key, IdempotentResult(print_, resource_type, resource_id), now)


async def retrying_on_race(attempt: Callable[[], Awaitable[T]]) -> T:
    """Two concurrent first attempts with one key: the loser's insert fails; try once more,
    and it finds the winner's result."""
    try:
        return await attempt()
    except ConstraintViolated:
        return await attempt()
