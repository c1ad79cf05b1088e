"""Key rotation: a new KEK version per level, then every data key re-wrapped, online, in
small transactions so the server keeps serving throughout."""

from __future__ import annotations

from collections.abc import Callable

from ..classification.crypto import EnvelopeCipher
from ..domain.audit import AuditRecord
from ..domain.levels import Classification
from .ports import Clock, UnitOfWork

Progress = Callable[[int, int], None]


async def rewrap_all(store: UnitOfWork, cipher: EnvelopeCipher, clock: Clock,
                     progress: Progress | None = None, batch_size: int = 500) -> int:
    """Re-wrap every data key not under its level's current KEK; returns how many."""
    current = {level: cipher.keyring.level(level).current for level in Classification}
    async with store.read() as tx:
        total = await tx.data_keys.count_to_rewrap(current)
    done = 0
    if progress:
        progress(done, total)
    while True:
        async with store.write() as tx:
            n = await tx.data_keys.rewrap_batch(cipher, current, batch_size)
        if n == 0:
            break
        done += n
        if progress:
            progress(min(done, total), total)
    async with store.write() as tx:
        await tx.audit.append(AuditRecord(
            "keys.rewrap", detail={"rewrapped": done,
                                   "versions": {k.value: v for k, v in current.items()}}),
            clock())
    return done
