"""Phone conferences booked from a space: a dial-in line (one of WIS_PHONE_NUMBERS) and a
PIN, held until ended; who joined, when, and for how long. Pure.

Two conferences run in parallel (capability 2:6) when two lines are configured: a line is
held by at most one active booking at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class ConferenceStatus(str, Enum):
    ACTIVE = "active"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Participant:
    """One call in the conference. `caller` is the number the call came from (or went to);
    `actor_id` the actor whose contact point that number is, when it is one."""

    id: str
    call_id: str
    caller: str
    actor_id: str | None
    joined_at: datetime
    left_at: datetime | None = None

    @property
    def duration_s(self) -> int | None:
        if self.left_at is None:
            return None
        return max(0, int((self.left_at - self.joined_at).total_seconds()))


@dataclass(frozen=True, slots=True)
class Booking:
    id: str
    space_id: str
    owner_actor_id: str
    number: str
    pin: str
    booked_by: str
    booked_at: datetime
    status: ConferenceStatus = ConferenceStatus.ACTIVE
    ended_at: datetime | None = None
    booked_by_name: str = ""
    participants: tuple[Participant, ...] = ()

    @property
    def room(self) -> str:
        """The provider's conference name (rooms are scoped per account)."""
        return f"wis-{self.id}"

    @property
    def active(self) -> bool:
        return self.status is ConferenceStatus.ACTIVE

    def participant(self, call_id: str) -> Participant | None:
        """The open participation of this call (the newest, if it joined twice)."""
        for p in sorted(self.participants, key=lambda p: p.joined_at, reverse=True):
            if p.call_id == call_id:
                return p
        return None


class LineTaken(Exception):
    """Another active booking took the line at the same moment (pick another line)."""


def free_line(numbers: Sequence[str], held: Iterable[str]) -> str | None:
    """The first configured line no active booking holds."""
    taken = set(held)
    return next((n for n in numbers if n not in taken), None)
