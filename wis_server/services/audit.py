"""Reading and verifying the audit trail."""

from __future__ import annotations

from ..classification.policy import Action, decide
from ..domain.errors import Forbidden
from ..domain.levels import Role
from ..domain.model import Principal
from ..storage.audit import StoredAudit, VerifyResult, verify_chain
from ..storage.unit import Store


class AuditTrail:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def page(self, principal: Principal, *, actor_id: str | None, after: int, limit: int
                   ) -> list[StoredAudit]:
        """System admins read all (or one actor's); actor admins only their own actor's."""
        if actor_id is None and principal.role is not Role.SYSTEM_ADMIN:
            actor_id = principal.actor_id
        if not decide(principal, Action.READ_AUDIT, target_actor_id=actor_id):
            raise Forbidden("only administrators read the audit trail (actor admins: their "
                            "own actor's)", code="not_audit_reader")
        async with self.store.read() as tx:
            return await tx.audit.page(actor_id=actor_id, after=after,
                                       limit=max(1, min(limit, 1000)))

    async def verify(self) -> VerifyResult:
        async with self.store.read() as tx:
            return await verify_chain(tx.audit.scan(), self.store.audit_key)
