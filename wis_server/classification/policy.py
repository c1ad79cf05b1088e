"""The ONE access-decision function. Pure: no I/O, no clock, no globals.

A user may read an item only if: the account is active; their actor participates in the
space; their effective clearance (own clearance capped by the actor's ceiling) is at least the
item's level; their actor is in the item's audience; and their space role allows it.
Anything not explicitly allowed is denied, with a reason for the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

from ..domain.levels import Classification, Role, SpaceRole, SpaceStatus
from ..domain.model import ItemLabel, Principal, Space


class Action(str, Enum):
    READ = "read"                      # read a space, or an item in it
    WRITE = "write"                    # post an entry / an own situation report
    PUBLISH_JOINT = "publish_joint"    # publish the space's joint situation report
    ADMINISTER_SPACE = "administer_space"  # change a space, its participants, close it
    CREATE_SPACE = "create_space"
    MANAGE_USERS = "manage_users"      # of the actor named by `target_actor_id`
    MANAGE_ACTORS = "manage_actors"
    READ_AUDIT = "read_audit"          # of the actor named by `target_actor_id` (None = all)
    CALL_OUT = "call_out"              # summon actors to a conference (aktivering) from a space


class Reason(StrEnum):
    """Why a decision came out as it did: callers branch on the member, the audit log and
    messages carry its value (the wording is part of the contract, so it lives here once)."""

    ALLOWED = "allowed"
    ACCOUNT_DISABLED = "account disabled"
    NOT_SYSTEM_ADMIN = "not system admin"
    NOT_ACTOR_ADMIN = "not administrator of that actor"
    ROLE_MAY_NOT_CREATE_SPACES = "role may not create spaces"
    NO_SPACE = "no space"
    NOT_PARTICIPANT = "actor does not participate in space"
    NOT_OWNING_ACTOR = "not the owning actor"
    SPACE_CLOSED = "space closed"
    SPACE_ROLE_BELOW_SPOKESPERSON = "space role below spokesperson"
    SPACE_ROLE_BELOW_EDITOR = "space role below editor"
    LEVEL_ABOVE_SPACE_CEILING = "level above space ceiling"
    LEVEL_ABOVE_CLEARANCE = "level above clearance"
    AUTHOR_ACTOR_MISMATCH = "author actor mismatch"
    AUDIENCE_EXCLUDES_AUTHOR = "audience excludes author's actor"
    AUDIENCE_OUTSIDE_PARTICIPANTS = "audience outside participants"
    CLEARANCE_BELOW_ITEM_LEVEL = "clearance below item level"
    NOT_IN_AUDIENCE = "actor not in audience"
    UNKNOWN_ACTION = "unknown action"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: Reason

    def __bool__(self) -> bool:
        return self.allowed


def _deny(reason: Reason) -> Decision:
    return Decision(False, reason)


_ALLOW = Decision(True, Reason.ALLOWED)
_BELOW = {SpaceRole.SPOKESPERSON: Reason.SPACE_ROLE_BELOW_SPOKESPERSON,
          SpaceRole.EDITOR: Reason.SPACE_ROLE_BELOW_EDITOR}

_BASE_SPACE_ROLE = {
    Role.READER: SpaceRole.READER,
    Role.SPOKESPERSON: SpaceRole.SPOKESPERSON,
    Role.EDITOR: SpaceRole.EDITOR,
    # Administrators administer people, not incidents: inside a space they read.
    Role.ACTOR_ADMIN: SpaceRole.READER,
    Role.SYSTEM_ADMIN: SpaceRole.READER,
}


def space_role(principal: Principal, space: Space) -> SpaceRole | None:
    """The principal's role in `space`, or None if their actor does not participate."""
    participant = space.participant(principal.actor_id)
    if participant is None:
        return None
    role = _BASE_SPACE_ROLE[principal.role]
    if participant.role_cap is not None and participant.role_cap.rank < role.rank:
        role = participant.role_cap
    return role


def decide(
    principal: Principal,
    action: Action,
    space: Space | None = None,
    item: ItemLabel | None = None,
    *,
    target_actor_id: str | None = None,
) -> Decision:
    """Decide whether `principal` may perform `action` (on `space` / `item`). Deny by default."""
    if not principal.active:
        return _deny(Reason.ACCOUNT_DISABLED)

    if action is Action.MANAGE_ACTORS:
        if principal.role is Role.SYSTEM_ADMIN:
            return _ALLOW
        return _deny(Reason.NOT_SYSTEM_ADMIN)
    if action in (Action.MANAGE_USERS, Action.READ_AUDIT):
        # An actor's administrators manage its people and read its audit trail; system
        # administrators those of every actor.
        if principal.role is Role.SYSTEM_ADMIN:
            return _ALLOW
        if principal.role is Role.ACTOR_ADMIN and target_actor_id == principal.actor_id:
            return _ALLOW
        return _deny(Reason.NOT_ACTOR_ADMIN)
    if action is Action.CREATE_SPACE:
        if principal.role is Role.EDITOR:
            return _ALLOW
        return _deny(Reason.ROLE_MAY_NOT_CREATE_SPACES)

    if space is None:
        return _deny(Reason.NO_SPACE)
    role = space_role(principal, space)
    if role is None:
        return _deny(Reason.NOT_PARTICIPANT)

    if action is Action.READ:
        if item is None:
            return _ALLOW
        return _may_read_item(principal, item)

    if action is Action.ADMINISTER_SPACE:
        # The owning actor leads its space; other actors' editors take part but cannot
        # rename, close or re-cast it (nor lock the owner out).
        if principal.actor_id != space.owner_actor_id:
            return _deny(Reason.NOT_OWNING_ACTOR)
        return _ALLOW if role is SpaceRole.EDITOR else _deny(Reason.SPACE_ROLE_BELOW_EDITOR)

    if action in (Action.WRITE, Action.PUBLISH_JOINT, Action.CALL_OUT):
        if space.status is not SpaceStatus.OPEN:
            return _deny(Reason.SPACE_CLOSED)
        # Calling actors out (and escalating, adding to a call-out) is an editor's act.
        needed = SpaceRole.EDITOR if action in (Action.PUBLISH_JOINT, Action.CALL_OUT) \
            else SpaceRole.SPOKESPERSON
        if role.rank < needed.rank:
            return _deny(_BELOW[needed])
        if action is Action.PUBLISH_JOINT and principal.actor_id != space.owner_actor_id:
            return _deny(Reason.NOT_OWNING_ACTOR)  # the coordinator compiles the joint report
        if item is None:
            return _ALLOW
        if item.classification > space.classification:
            return _deny(Reason.LEVEL_ABOVE_SPACE_CEILING)
        if item.classification > principal.effective_clearance:
            return _deny(Reason.LEVEL_ABOVE_CLEARANCE)
        if item.author_actor_id != principal.actor_id:
            return _deny(Reason.AUTHOR_ACTOR_MISMATCH)
        if item.audience is not None:
            if principal.actor_id not in item.audience:
                return _deny(Reason.AUDIENCE_EXCLUDES_AUTHOR)
            if not item.audience <= space.participant_ids:
                return _deny(Reason.AUDIENCE_OUTSIDE_PARTICIPANTS)
        return _ALLOW

    return _deny(Reason.UNKNOWN_ACTION)


def _may_read_item(principal: Principal, item: ItemLabel) -> Decision:
    if item.classification > principal.effective_clearance:
        return _deny(Reason.CLEARANCE_BELOW_ITEM_LEVEL)
    if item.audience is not None and principal.actor_id not in item.audience:
        return _deny(Reason.NOT_IN_AUDIENCE)
    return _ALLOW


def visible_levels(principal: Principal, space: Space) -> tuple[Classification, ...]:
    """The levels the principal may write in `space` (for forms: clearance and ceiling)."""
    top = Classification.lowest(principal.effective_clearance, space.classification)
    return tuple(level for level in Classification if level <= top)
