"""Housekeeping: keeps tables from growing without bound (idempotency keys older than a day,
refresh tokens that expired or were revoked more than a day ago) and anchors the audit
chain's shards to shard 0 (storage/audit_chain.py) each round."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from .ports import Clock, UnitOfWork

IDEMPOTENCY_KEEP = timedelta(hours=24)
TOKENS_KEEP = timedelta(hours=24)

log = structlog.get_logger("wis.maintenance")


async def prune(store: UnitOfWork, clock: Clock) -> tuple[int, int]:
    now = clock()
    async with store.write() as tx:
        keys = await tx.idempotency.expire(now - IDEMPOTENCY_KEEP)
        tokens = await tx.tokens.prune(now - TOKENS_KEEP)
    return keys, tokens


async def anchor_audit(store: UnitOfWork, clock: Clock) -> int | None:
    """One audit anchor, in its own short transaction (None: nothing moved, or one shard)."""
    async with store.write() as tx:
        return await tx.audit.anchor(clock())


async def run_periodically(store: UnitOfWork, clock: Clock, every_s: float = 3600.0) -> None:
    """Prune now, then every `every_s` seconds anchor and prune, until cancelled (the runtime
    supervises it); failures are logged and retried at the next round (housekeeping must
    never take the server down)."""
    while True:
        try:
            keys, tokens = await prune(store, clock)
            if keys or tokens:
                log.info("pruned", idempotency_keys=keys, refresh_tokens=tokens)
        except Exception:  # logged, retried next round
            log.exception("prune failed")
        await asyncio.sleep(every_s)
        # After the sleep, not at start-up: an anchor names what was written since the last
        # one, and a process (re)starting has written nothing yet.
        try:
            await anchor_audit(store, clock)
        except Exception:  # logged, retried next round
            log.exception("audit anchor failed")
