"""Saved call-out lists (aktiveringslistor): which actors an actor calls out for a kind of
event. Read by the actor's users; kept by its editors."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from ..domain.audit import AuditRecord
from ..domain.codes import Code
from ..domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..domain.levels import Role
from ..domain.model import Principal
from ..domain.records import CalloutList
from .ports import Clock, Transaction, UnitOfWork

__all__ = ["CalloutList", "CalloutLists"]


class CalloutLists:
    def __init__(self, store: UnitOfWork, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def all(self, principal: Principal) -> list[CalloutList]:
        async with self.store.read() as tx:
            return await tx.callouts.lists(principal.actor_id)

    async def get(self, principal: Principal, list_id: str) -> CalloutList:
        async with self.store.read() as tx:
            return await self._own(tx, principal, list_id)

    async def create(self, principal: Principal, name: str, actor_ids: Sequence[str]
                     ) -> CalloutList:
        _may_keep(principal)
        now = self.clock()
        async with self.store.write() as tx:
            await self._check(tx, principal, name, actor_ids, None)
            item = CalloutList(str(uuid.uuid4()), principal.actor_id, name.strip(),
                               tuple(dict.fromkeys(actor_ids)), now, now)
            await tx.callouts.put_list(item, new=True)
            await self._audit(tx, principal, "callout_list.create", item)
        return item

    async def replace(self, principal: Principal, list_id: str, name: str,
                      actor_ids: Sequence[str]) -> CalloutList:
        _may_keep(principal)
        now = self.clock()
        async with self.store.write() as tx:
            old = await self._own(tx, principal, list_id)
            await self._check(tx, principal, name, actor_ids, old.id)
            item = CalloutList(old.id, old.owner_actor_id, name.strip(),
                               tuple(dict.fromkeys(actor_ids)), old.created_at, now)
            await tx.callouts.put_list(item, new=False)
            await self._audit(tx, principal, "callout_list.update", item)
        return item

    async def delete(self, principal: Principal, list_id: str) -> None:
        _may_keep(principal)
        async with self.store.write() as tx:
            item = await self._own(tx, principal, list_id)
            await tx.callouts.delete_list(item.id)
            await self._audit(tx, principal, "callout_list.delete", item)

    async def _own(self, tx: Transaction, principal: Principal, list_id: str) -> CalloutList:
        item = await tx.callouts.get_list(list_id)
        if item is None or item.owner_actor_id != principal.actor_id:
            raise NotFound("no such call-out list")
        return item

    async def _check(self, tx: Transaction, principal: Principal, name: str,
                     actor_ids: Sequence[str], own_id: str | None) -> None:
        known = await tx.actors.existing_ids(list(actor_ids))
        unknown = sorted(set(actor_ids) - known)
        if unknown:
            raise ValidationFailed(f"no such actors: {', '.join(unknown)}",
                                   code=Code.UNKNOWN_ACTOR, field="actor_ids")
        same = await tx.callouts.list_named(principal.actor_id, name.strip())
        if same is not None and same.id != own_id:
            raise Conflict("your actor already has a call-out list with that name",
                           code=Code.LIST_NAME_TAKEN)

    async def _audit(self, tx: Transaction, principal: Principal, action: str,
                     item: CalloutList) -> None:
        await tx.audit.append(AuditRecord(
            action, user_id=principal.user_id, actor_id=principal.actor_id,
            target_type="callout_list", target_id=item.id,
            detail={"actors": list(item.actor_ids)}), self.clock())


def _may_keep(principal: Principal) -> None:
    if not principal.active or principal.role is not Role.EDITOR:
        raise Forbidden("only your actor's editors keep call-out lists",
                        code=Code.ROLE_MAY_NOT_KEEP_LISTS)
