"""Small ports the services depend on; the composition root plugs in implementations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..domain.model import Space
    from ..domain.outbox import OutboxDraft
    from ..storage.unit import Tx

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class EventPublisher(Protocol):
    """Told after commit that a space has new events up to `seq` (a wake-up, not the data)."""

    def space_changed(self, space_id: str, seq: int) -> None: ...

    def access_changed(self, *, user_id: str | None = None, actor_id: str | None = None,
                       space_id: str | None = None) -> None: ...

    def membership_changed(self, space_id: str, added: Sequence[str],
                           removed: Sequence[str]) -> None:
        """Actors joined / left a space (users are told live: membership.added/removed)."""
        ...


class NullPublisher:
    """For the CLI and tests that run no realtime hub."""

    def space_changed(self, space_id: str, seq: int) -> None:
        return None

    def access_changed(self, *, user_id: str | None = None, actor_id: str | None = None,
                       space_id: str | None = None) -> None:
        return None

    def membership_changed(self, space_id: str, added: Sequence[str],
                           removed: Sequence[str]) -> None:
        return None



class Outbox(Protocol):
    """Writes an outbox message and its deliveries in the caller's transaction (the
    dispatcher sends them later). `space` lets it refuse exercise recipients outside."""

    async def enqueue(self, tx: Tx, draft: OutboxDraft, now: datetime,
                      space: Space | None = None) -> str: ...
