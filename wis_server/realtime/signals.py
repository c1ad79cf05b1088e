"""The wire codec of cross-process signals (the payloads of PostgreSQL NOTIFY): pure, no I/O.

A signal carries ids only, never content; the event table stays the truth, so a lost or
garbled signal delays a delivery, never loses it (the periodic catch-up covers it).

    s|<space>|<seq>                  SpaceAdvanced: the space has events up to seq
    u|<user>                         UserChanged: re-decide the user's connections
    a|<actor>                        ActorChanged: re-decide the actor's users' connections
    p|<space>                        SpaceAccessChanged: reload the space, re-decide followers
    m|<space>|<a1,a2,…>|<r1,…>       MembershipChanged: actors added / removed
    *                                CatchUpAll: compare every followed space's head
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpaceAdvanced:
    space_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class UserChanged:
    user_id: str


@dataclass(frozen=True, slots=True)
class ActorChanged:
    actor_id: str


@dataclass(frozen=True, slots=True)
class SpaceAccessChanged:
    space_id: str


@dataclass(frozen=True, slots=True)
class MembershipChanged:
    space_id: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CatchUpAll:
    """The sender coalesced too many wake-ups: look at every followed space."""


Signal = (SpaceAdvanced | UserChanged | ActorChanged | SpaceAccessChanged | MembershipChanged
          | CatchUpAll)
CATCH_UP_ALL = CatchUpAll()
_SEPARATORS = ("|", ",")


def _id(value: str) -> str:
    if not value or any(sep in value for sep in _SEPARATORS):
        raise ValueError("an id in a signal must be non-empty, without '|' or ','")
    return value


def encode(signal: Signal) -> str:
    """The payload text; ValueError for an id the format cannot carry."""
    match signal:
        case SpaceAdvanced(space_id, seq):
            if seq < 0:
                raise ValueError("a seq is never negative")
            return f"s|{_id(space_id)}|{seq}"
        case UserChanged(user_id):
            return f"u|{_id(user_id)}"
        case ActorChanged(actor_id):
            return f"a|{_id(actor_id)}"
        case SpaceAccessChanged(space_id):
            return f"p|{_id(space_id)}"
        case MembershipChanged(space_id, added, removed):
            return (f"m|{_id(space_id)}|{','.join(map(_id, added))}"
                    f"|{','.join(map(_id, removed))}")
        case CatchUpAll():
            return "*"
    raise TypeError(f"not a signal: {signal!r}")


def _ids(text: str) -> tuple[str, ...] | None:
    if not text:
        return ()
    parts = tuple(text.split(","))
    return None if any(not p for p in parts) else parts


def decode(text: str) -> Signal | None:
    """The signal a payload carries, or None when it is not one (garbage is ignored)."""
    if text == "*":
        return CATCH_UP_ALL
    kind, _, rest = text.partition("|")
    fields = rest.split("|")
    if not fields[0] or "," in fields[0]:
        return None
    if kind == "s" and len(fields) == 2:
        seq = fields[1]
        if not (seq.isascii() and seq.isdigit()):
            return None
        return SpaceAdvanced(fields[0], int(seq))
    if len(fields) == 1:
        if kind == "u":
            return UserChanged(fields[0])
        if kind == "a":
            return ActorChanged(fields[0])
        if kind == "p":
            return SpaceAccessChanged(fields[0])
    if kind == "m" and len(fields) == 3:
        added, removed = _ids(fields[1]), _ids(fields[2])
        if added is None or removed is None:
            return None
        return MembershipChanged(fields[0], added, removed)
    return None
