"""Which actors may read a new item (läsrätt): the ONE rule, for entries and report sections.

    (level, requested, author's actor, participants) ──► stored audience
        requested None  ─► the level's default: public → None (every participant, also
                           those who join later); sekretess/hemlig → {author's actor}
        requested list  ─► the list as given, plus the author's actor — kept exactly, even
                           when it names every participant today (issue 7.18c)

The deliberate choice: a public item addressed to all of today's participants does NOT reach
actors who join later. An author who names actors has chosen who reads; only "no list" (null)
means "everyone in the space, whoever that will be". So `participants` never widens a list;
it is taken only to say which named actors do not participate (the write check refuses them).
Pure: no I/O. Whether the author may write at that level is `policy.decide`'s question.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..domain.levels import Classification
from ..domain.model import Audience


def default_audience(level: Classification, author_actor_id: str) -> Audience:
    """`public` items default to every participant; classified ones to the author's actor."""
    if level is Classification.PUBLIC:
        return None
    return frozenset({author_actor_id})


@dataclass(frozen=True, slots=True)
class ResolvedAudience:
    audience: Audience
    """What is stored: None = every participant, now and later; else exactly these actors."""
    outside: frozenset[str]
    """Named actors that do not participate in the space (a write naming any is refused)."""


def resolve_audience(level: Classification, requested: Iterable[str] | None,
                     author_actor_id: str, participants: frozenset[str]) -> ResolvedAudience:
    """The audience an item is stored with, from what its author asked for."""
    if requested is None:
        return ResolvedAudience(default_audience(level, author_actor_id), frozenset())
    chosen = frozenset(requested) | {author_actor_id}
    return ResolvedAudience(chosen, chosen - participants)
