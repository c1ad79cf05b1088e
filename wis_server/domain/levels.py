"""Classification levels, roles and the other closed vocabularies of the domain."""

from __future__ import annotations

from enum import Enum


class Classification(str, Enum):
    """How sensitive an item is. Wire values are exactly these strings."""

    PUBLIC = "public"
    SEKRETESS = "sekretess"
    HEMLIG = "hemlig"

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Classification):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Classification):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Classification):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Classification):
            return NotImplemented
        return self.rank < other.rank

    @classmethod
    def lowest(cls, *levels: Classification) -> Classification:
        return min(levels, key=lambda level: level.rank)

    @classmethod
    def highest(cls, *levels: Classification) -> Classification:
        return max(levels, key=lambda level: level.rank)


_LEVEL_RANK = {Classification.PUBLIC: 0, Classification.SEKRETESS: 1, Classification.HEMLIG: 2}


class Role(str, Enum):
    """A user's role. The first three are space roles; the last two administer."""

    READER = "reader"
    SPOKESPERSON = "spokesperson"
    EDITOR = "editor"
    ACTOR_ADMIN = "actor_admin"
    SYSTEM_ADMIN = "system_admin"


class SpaceRole(str, Enum):
    """What a user may do inside one space (derived from Role and the participant override)."""

    READER = "reader"
    SPOKESPERSON = "spokesperson"
    EDITOR = "editor"

    @property
    def rank(self) -> int:
        return _SPACE_ROLE_RANK[self]


_SPACE_ROLE_RANK = {SpaceRole.READER: 0, SpaceRole.SPOKESPERSON: 1, SpaceRole.EDITOR: 2}


class SpaceType(str, Enum):
    DISRUPTION = "disruption"
    EXERCISE = "exercise"
    COLLABORATION = "collaboration"
    INTERNAL = "internal"


class SpaceStatus(str, Enum):
    OPEN = "open"
    CLOSED = "closed"


class EntryKind(str, Enum):
    NOTE = "note"
    DECISION = "decision"
    MEASURE = "measure"
    NEED = "need"
    INCOMING = "incoming"
    NOTICE = "notice"  # an informationsunderrättelse: posted through the notices endpoint


class ContactKind(str, Enum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    RAKEL_ISSI = "rakel_issi"  # a Rakel terminal (individual SSI)
    RAKEL_GSSI = "rakel_gssi"  # a Rakel talkgroup (group SSI)


class ReportSectionKey(str, Enum):
    """The sections of a lägesbild, in the order the collaboration model lists them."""

    EVENT = "event"
    CURRENT_SITUATION = "current_situation"
    CONSEQUENCES = "consequences"
    MEASURES_TAKEN = "measures_taken"
    PLANNED_MEASURES = "planned_measures"
    NEEDS = "needs"
    COMMUNICATION = "communication"
    FORECAST = "forecast"
    NEXT_REPORT = "next_report"
