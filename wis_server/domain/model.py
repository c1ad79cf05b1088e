"""The domain's values: actors, users, spaces, entries, situation reports, principals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .levels import (
    Classification,
    ContactKind,
    EntryKind,
    ReportSectionKey,
    Role,
    SpaceRole,
    SpaceStatus,
    SpaceType,
)

CONTACT_PRIORITIES = range(1, 100)


@dataclass(frozen=True, slots=True)
class ContactPoint:
    """One way to reach an actor's 24/7 contact function; lower priority is tried first.
    The priority lies in CONTACT_PRIORITIES (checked for every caller by the input rules)."""

    kind: ContactKind
    value: str
    priority: int = 1
    label: str = ""


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    name: str
    short_name: str
    clearance_ceiling: Classification
    contact_points: tuple[ContactPoint, ...] = ()
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class User:
    id: str
    actor_id: str
    username: str
    display_name: str
    role: Role
    clearance: Classification
    active: bool = True
    created_at: datetime | None = None
    failed_sign_ins: int = 0  # wrong passwords since the last sign-in (seen by admins)
    last_failed_sign_in_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the authenticated user as the access decision sees them.

    `actor_ceiling` is the actor's current clearance ceiling; the effective clearance is the
    lower of the two, so lowering an actor's ceiling takes effect without touching its users.
    """

    user_id: str
    actor_id: str
    username: str
    role: Role
    clearance: Classification
    actor_ceiling: Classification
    active: bool = True
    display_name: str = ""
    session_epoch: int = 0  # access tokens of an older epoch are ended (sign-out, reset, ...)

    @property
    def effective_clearance(self) -> Classification:
        return Classification.lowest(self.clearance, self.actor_ceiling)


@dataclass(frozen=True, slots=True)
class Participant:
    """An actor taking part in a space; `role_cap` optionally limits its users' space role."""

    actor_id: str
    role_cap: SpaceRole | None = None


@dataclass(frozen=True, slots=True)
class Space:
    id: str
    title: str
    description: str
    type: SpaceType
    classification: Classification
    status: SpaceStatus
    owner_actor_id: str
    created_by: str
    participants: tuple[Participant, ...]
    last_seq: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_exercise(self) -> bool:
        return self.type is SpaceType.EXERCISE

    def participant(self, actor_id: str) -> Participant | None:
        for participant in self.participants:
            if participant.actor_id == actor_id:
                return participant
        return None

    @property
    def participant_ids(self) -> frozenset[str]:
        return frozenset(p.actor_id for p in self.participants)


Audience = frozenset[str] | None
"""The actors allowed to read an item (läsrätt); None means every participant, now and later."""


@dataclass(frozen=True, slots=True)
class ItemLabel:
    """What the access decision needs to know about an item, never its content."""

    classification: Classification
    audience: Audience
    author_actor_id: str


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    space_id: str
    seq: int
    kind: EntryKind
    classification: Classification
    body: str
    audience: Audience
    author_id: str
    author_actor_id: str
    author_name: str = ""
    created_at: datetime | None = None
    exercise: bool = False
    """Its space is an exercise (ÖVNING): set by the services, which hold the space, so the
    API marks it without reading the space again (storage leaves it False)."""

    @property
    def label(self) -> ItemLabel:
        return ItemLabel(self.classification, self.audience, self.author_actor_id)


@dataclass(frozen=True, slots=True)
class ReportSection:
    key: ReportSectionKey
    classification: Classification
    body: str
    audience: Audience = None

    def label(self, author_actor_id: str) -> ItemLabel:
        return ItemLabel(self.classification, self.audience, author_actor_id)


@dataclass(frozen=True, slots=True)
class SituationReport:
    """One version of a lägesbild: an actor's own (`actor_id`) or the joint one (`joint`)."""

    id: str
    space_id: str
    joint: bool
    actor_id: str
    version: int
    sections: tuple[ReportSection, ...]
    author_id: str
    seq: int
    author_name: str = ""
    created_at: datetime | None = None
    exercise: bool = False
    """Its space is an exercise (ÖVNING); set by the services, as for Entry."""


JOINT = "joint"
"""The report scope name of a space's joint situation report (samlad lägesbild)."""
