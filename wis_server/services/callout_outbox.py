"""The Outbox port (services.ports) over the outbox tables: the call-out's messages are rows
of the same transaction as the call-out's own change, so a crash loses none and a rollback
sends none."""

from __future__ import annotations

from datetime import datetime

from ..domain.model import Space
from ..domain.outbox import OutboxDraft
from ..storage.unit import Tx
from .outbox import enqueue


class StoreOutbox:
    async def enqueue(self, tx: Tx, draft: OutboxDraft, now: datetime,
                      space: Space | None = None) -> str:
        if space is not None and space.is_exercise and not draft.exercise:
            raise ValueError("an exercise space's message must be marked as an exercise")
        # One way into the outbox: a recipient outside an exercise is refused and audited.
        return await enqueue(tx, draft, now, space)
