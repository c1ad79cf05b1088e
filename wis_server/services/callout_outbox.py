"""The Outbox port (services.ports) over the outbox service: a call-out's messages are rows of
the same transaction as the call-out's own change, so a crash loses none and a rollback sends
none; in an exercise space a recipient outside the exercise is refused there and audited."""

from __future__ import annotations

from datetime import datetime

from ..domain.model import Space
from ..domain.outbox import OutboxDraft
from . import outbox
from .ports import Transaction


class StoreOutbox:
    async def enqueue(self, tx: Transaction, draft: OutboxDraft, now: datetime,
                      space: Space | None = None) -> str:
        return await outbox.enqueue(tx, draft, now, space)
