"""The cross-process signal codec (pure): every signal survives a round trip in the wire format
other processes already speak, ids the format cannot carry are refused when encoding, and
garbage never decodes to a signal (a malformed NOTIFY is ignored, never half-applied)."""

from __future__ import annotations

import random
import string

import pytest

from wis_server.realtime.signals import (
    CATCH_UP_ALL,
    ActorChanged,
    MembershipChanged,
    Signal,
    SpaceAccessChanged,
    SpaceAdvanced,
    UserChanged,
    decode,
    encode,
)

SIGNALS: list[tuple[Signal, str]] = [
    (SpaceAdvanced("S1", 0), "s|S1|0"),
    (SpaceAdvanced("0b9e-uuid", 12345678901234), "s|0b9e-uuid|12345678901234"),
    (UserChanged("u-1"), "u|u-1"),
    (ActorChanged("a-1"), "a|a-1"),
    (SpaceAccessChanged("S1"), "p|S1"),
    (MembershipChanged("S1", ("a", "b"), ("c",)), "m|S1|a,b|c"),
    (MembershipChanged("S1", (), ("c",)), "m|S1||c"),
    (MembershipChanged("S1", ("a",), ()), "m|S1|a|"),
    (MembershipChanged("S1"), "m|S1||"),
    (CATCH_UP_ALL, "*"),
]


@pytest.mark.parametrize(("signal", "text"), SIGNALS)
def test_round_trip_in_the_existing_wire_format(signal: Signal, text: str) -> None:
    assert encode(signal) == text
    assert decode(text) == signal


@pytest.mark.parametrize("signal", [
    SpaceAdvanced("", 1), SpaceAdvanced("a|b", 1), SpaceAdvanced("S", -1), UserChanged(""),
    ActorChanged("x|y"), SpaceAccessChanged("a,b"), MembershipChanged("S", ("a|b",)),
    MembershipChanged("S", (), ("",)), MembershipChanged("S,T"),
])
def test_ids_the_format_cannot_carry_are_refused(signal: Signal) -> None:
    with pytest.raises(ValueError):
        encode(signal)


@pytest.mark.parametrize("text", [
    "", "|", "*|", "**", "s", "s|", "s|S", "s|S|", "s||1", "s|S|x", "s|S|-1", "s|S|+1",
    "s|S|1_0", "s|S| 1", "s|S|١", "s|S|1|2", "s|a,b|1", "u", "u|", "u|a|b", "u|a,b", "a|",
    "p|", "p|a|", "m", "m|", "m|S", "m|S|a", "m|S|a|b|c", "m||a|b", "m|S|a,,b|", "m|S|,|",
    "x|S|1", "S|S|1", "ü|x", "\x00", "s|S|1\n",
])
def test_garbage_decodes_to_nothing(text: str) -> None:
    assert decode(text) is None


def test_random_garbage_never_raises_and_what_decodes_round_trips() -> None:
    rng = random.Random(9)
    alphabet = "sduapm*|,0123456789-" + string.ascii_letters[:6]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        signal = decode(text)
        if signal is not None:
            assert encode(signal) == text  # one text per signal: nothing is half-read
