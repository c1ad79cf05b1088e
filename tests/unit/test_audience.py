"""The one audience rule (classification/audience.py), as a table: what an author asks for →
what is stored. The deliberate choice it pins: an explicit list naming every participant of
today is kept as a list, so an actor who joins later does not read the item; only "no list"
(null) means everyone in the space, whoever joins."""

from __future__ import annotations

import pytest

from wis_server.classification.audience import ResolvedAudience, default_audience, resolve_audience
from wis_server.classification.policy import Action, decide
from wis_server.domain.levels import Classification, Role, SpaceStatus, SpaceType
from wis_server.domain.model import ItemLabel, Participant, Principal, Space

P, S, H = Classification.PUBLIC, Classification.SEKRETESS, Classification.HEMLIG
A, B, C = "actor-a", "actor-b", "actor-c"  # A authors; A and B participate; C does not (yet)
TODAY = frozenset({A, B})

CASES = [
    # level, requested, stored audience, named actors outside the space
    (P, None, None, set()),                  # public default: every participant, also later
    (S, None, {A}, set()),                   # classified default: the author's actor only
    (H, None, {A}, set()),
    (P, [B], {A, B}, set()),                 # the author's actor is always added
    (P, [A, B], {A, B}, set()),              # all of today's participants: kept as a list
    (P, [B, A, B], {A, B}, set()),           # repeats collapse
    (P, [], {A}, set()),                     # an empty list means "only us"
    (S, [A, B], {A, B}, set()),
    (H, [B], {A, B}, set()),
    (P, [B, C], {A, B, C}, {C}),             # C does not participate: reported, not dropped
    (S, [C], {A, C}, {C}),
]


@pytest.mark.parametrize(("level", "requested", "stored", "outside"), CASES)
def test_resolution_table(level: Classification, requested: list[str] | None,
                          stored: set[str] | None, outside: set[str]) -> None:
    got = resolve_audience(level, requested, A, TODAY)
    assert got == ResolvedAudience(None if stored is None else frozenset(stored),
                                   frozenset(outside))


def test_defaults_follow_the_level() -> None:
    assert default_audience(P, A) is None
    assert default_audience(S, A) == default_audience(H, A) == frozenset({A})


def _reader(actor: str) -> Principal:
    return Principal(f"user-{actor}", actor, "x", Role.READER, H, H, True)


def _space(participants: frozenset[str]) -> Space:
    return Space("space-1", "t", "d", SpaceType.DISRUPTION, H, SpaceStatus.OPEN, A, "u",
                 tuple(Participant(p) for p in sorted(participants)))


def test_a_later_joiner_reads_only_what_was_addressed_to_everyone() -> None:
    """Resolved today with A and B; read after C joined."""
    everyone = resolve_audience(P, None, A, TODAY).audience
    named_all = resolve_audience(P, [A, B], A, TODAY).audience
    later = _space(TODAY | {C})
    for actor in (A, B):  # today's participants read both
        for audience in (everyone, named_all):
            assert decide(_reader(actor), Action.READ, later, ItemLabel(P, audience, A))
    assert decide(_reader(C), Action.READ, later, ItemLabel(P, everyone, A))
    assert not decide(_reader(C), Action.READ, later, ItemLabel(P, named_all, A))


def test_participants_never_widen_or_narrow_a_list() -> None:
    for participants in (frozenset({A}), TODAY, TODAY | {C}, frozenset({A, B, C, "actor-d"})):
        assert resolve_audience(P, [A, B], A, participants).audience == TODAY
        assert resolve_audience(P, None, A, participants).audience is None
