"""The Outbox port (services.ports) over the outbox tables: the call-out's messages are rows
of the same transaction as the call-out's own change, so a crash loses none and a rollback
sends none."""

from __future__ import annotations

from datetime import datetime

from ..domain.model import Space
from ..domain.outbox import OutboxDraft
from ..storage.unit import Tx


class StoreOutbox:
    async def enqueue(self, tx: Tx, draft: OutboxDraft, now: datetime,
                      space: Space | None = None) -> str:
        if space is not None and space.is_exercise and not draft.exercise:
            raise ValueError("an exercise space's message must be marked as an exercise")
        message_id, _queued = await tx.outbox.add(draft, now)
        return message_id
