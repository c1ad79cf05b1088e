"""Unread counts (issue 10.8): per space, the log items (entries and notices) the user may
read that arrived after they last viewed the space, not their own. Kept on the server so a
reload keeps them without the browser storing anything; decided per item with the one
decision function, so a count never says that an item the user may not read exists. Only a
seq per (user, space) is stored; counts stop at UNREAD_CAP ("99+")."""

from __future__ import annotations

from dataclasses import dataclass

from ..classification.policy import Action, decide
from ..domain.model import Principal, Space
from .ports import Clock, Transaction, UnitOfWork
from .spaces import visible_space

UNREAD_CAP = 99


@dataclass(frozen=True, slots=True)
class UnreadCount:
    space_id: str
    unread: int  # at most UNREAD_CAP
    more: bool  # more than UNREAD_CAP
    seen_seq: int


class Unread:
    def __init__(self, store: UnitOfWork, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def counts(self, principal: Principal) -> list[UnreadCount]:
        if not principal.active:
            return []
        async with self.store.read() as tx:
            spaces = [s for s in await tx.spaces.for_actor(principal.actor_id)
                      if decide(principal, Action.READ, s)]
            seen = await tx.reads.seen(principal.user_id, [s.id for s in spaces])
            return [await _count(tx, principal, s, seen.get(s.id, 0)) for s in spaces]

    async def mark_seen(self, principal: Principal, space_id: str, seq: int) -> UnreadCount:
        """The user has seen the space up to `seq` (at most its head; never moves back)."""
        async with self.store.write() as tx:
            space = await visible_space(tx, principal, space_id)
            await tx.reads.mark(principal.user_id, space.id, min(seq, space.last_seq),
                                self.clock())
            seen = (await tx.reads.seen(principal.user_id, [space.id])).get(space.id, 0)
            return await _count(tx, principal, space, seen)


async def _count(tx: Transaction, principal: Principal, space: Space, seen: int) -> UnreadCount:
    if space.last_seq <= seen:
        return UnreadCount(space.id, 0, False, seen)
    labels = await tx.reads.labels_after(
        space.id, seen, not_by=principal.user_id, clearance=principal.effective_clearance,
        actor_id=principal.actor_id, limit=UNREAD_CAP + 1)
    readable = sum(1 for label in labels if decide(principal, Action.READ, space, label))
    return UnreadCount(space.id, min(readable, UNREAD_CAP), readable > UNREAD_CAP, seen)
