"""The checks every write of an item makes — log entries and situation-report sections alike:
the one audience rule (classification.audience), the one decision function, explained as a
precise problem (the writer can see the space, so no secret leaks), and read right only for
actors whose ceiling lets anyone there read the item."""

from __future__ import annotations

from collections.abc import Sequence

from ..classification.audience import resolve_audience
from ..classification.policy import Action, Reason, decide
from ..domain.codes import Code
from ..domain.errors import Forbidden, ValidationFailed
from ..domain.levels import Classification
from ..domain.model import Audience, ItemLabel, Principal, Space
from .ports import Transaction


def audience_for_write(principal: Principal, space: Space, action: Action, level: Classification,
                   requested: Sequence[str] | None) -> Audience:
    """The audience an item written by `principal` is stored with — or the problem that
    refuses the write (level, audience, space status, role)."""
    resolved = resolve_audience(level, requested, principal.actor_id, space.participant_ids)
    decision = decide(principal, action, space,
                      ItemLabel(level, resolved.audience, principal.actor_id))
    if decision:
        return resolved.audience
    reason = decision.reason
    if reason is Reason.LEVEL_ABOVE_SPACE_CEILING:
        raise ValidationFailed("classification above the space's ceiling",
                               code=Code.CLASSIFICATION_ABOVE_CEILING, field="classification")
    if reason is Reason.LEVEL_ABOVE_CLEARANCE:
        raise ValidationFailed("classification above your clearance",
                               code=Code.CLASSIFICATION_ABOVE_CLEARANCE, field="classification")
    if reason in (Reason.AUDIENCE_EXCLUDES_AUTHOR, Reason.AUDIENCE_OUTSIDE_PARTICIPANTS):
        outside = sorted(resolved.outside)
        raise ValidationFailed(
            "audience must name participating actors by id (see the space's participants); "
            f"not participating: {', '.join(outside)}" if outside else
            "audience must include your own actor", code=Code.INVALID_AUDIENCE,
            field="audience")
    if reason is Reason.SPACE_CLOSED:
        raise Forbidden("the space is closed", code=Code.SPACE_CLOSED)
    if reason is Reason.NOT_OWNING_ACTOR:
        raise Forbidden("only the owning actor's editors publish the joint report",
                        code=Code.NOT_SPACE_OWNER)
    raise Forbidden("your role in this space does not allow this", code=Code.SPACE_ROLE_TOO_LOW)


async def check_audience_cleared(tx: Transaction,
                                 items: Sequence[tuple[Classification, Audience]], *,
                                 field: str = "audience",
                                 principal: Principal | None = None) -> None:
    """Refuse read right for an actor whose clearance ceiling is below the item's level:
    nobody there could ever read it, yet it would look shared with them. The writing
    `principal`'s own actor's ceiling came with the principal (loaded for this request),
    so an audience of that actor alone — a sekretess entry's default — needs no lookup."""
    ceilings: dict[str, Classification] = {}
    if principal is not None:
        ceilings[principal.actor_id] = principal.actor_ceiling
    named = sorted({a for level, audience in items if level is not Classification.PUBLIC
                    for a in audience or () if a not in ceilings})
    if named:
        ceilings.update(await tx.actors.ceilings(named))
    for level, audience in items:
        below = sorted(a for a in audience or () if a in ceilings and ceilings[a] < level)
        if below:
            raise ValidationFailed(
                f"these actors' clearance ceiling is below {level.value}, so nobody there "
                f"could read it: {', '.join(below)}", code=Code.AUDIENCE_BELOW_LEVEL,
                field=field)
