"""Per-user membership notices: users of actors that left a space are told at once; users of
actors that joined are told after deciding on the space as it is now (per user, on every
connection, followed or not: `membership.added` / `membership.removed`)."""

from __future__ import annotations

from collections.abc import Sequence

from ..classification.policy import Action, decide
from ..domain.events import EventKind
from .connection import control
from .ports import EventSource
from .registry import Registry
from .tasks import TaskSet


class MembershipNotices:
    def __init__(self, source: EventSource, registry: Registry, tasks: TaskSet) -> None:
        self.source = source
        self.registry = registry
        self.tasks = tasks

    def changed(self, space_id: str, added: Sequence[str], removed: Sequence[str]) -> None:
        if removed:
            for conn in self.registry.of_actors(set(removed)):
                conn.push(control(EventKind.MEMBERSHIP_REMOVED.value, space_id=space_id))
        if added and self.registry.of_actors(set(added)):
            self.tasks.spawn(self._tell_added(space_id, set(added)))

    async def _tell_added(self, space_id: str, added: set[str]) -> None:
        space = await self.source.space(space_id)
        if space is None:
            return
        for conn in self.registry.of_actors(added):
            if decide(conn.principal, Action.READ, space):
                conn.push(control(EventKind.MEMBERSHIP_ADDED.value, space_id=space_id))
