"""The channel policy by level, table-driven: which channel may carry which level's content,
and that a pointer carries no title, body, author or non-public space title."""

from __future__ import annotations

import pytest

from wis_server.classification.channel_policy import (
    CHANNEL_CEILING,
    ChannelKind,
    MessageContent,
    apply,
    may_carry,
    pointer_text,
)
from wis_server.domain.levels import Classification

P, S, H = Classification.PUBLIC, Classification.SEKRETESS, Classification.HEMLIG
E, SMS, PUSH, RAKEL, PHONE = (ChannelKind.EMAIL, ChannelKind.SMS, ChannelKind.PUSH,
                              ChannelKind.RAKEL, ChannelKind.PHONE)

# (channel, level) -> full text?
TABLE = {
    (E, P): True, (E, S): False, (E, H): False,
    (SMS, P): True, (SMS, S): False, (SMS, H): False,
    (PUSH, P): True, (PUSH, S): False, (PUSH, H): False,
    (RAKEL, P): True, (RAKEL, S): True, (RAKEL, H): False,
    (PHONE, P): True, (PHONE, S): False, (PHONE, H): False,
}

BODY = "Vattenverket i Norrtälje har förorenats, kokningsrekommendation"
TITLE = "Förorening vattenverk"
AUTHOR = "Anna Andersson, Norrtälje kommun"
SPACE = "Översvämning Kista 2026"


def content(level: Classification, **kw: object) -> MessageContent:
    base: dict[str, object] = dict(level=level, body=BODY, title=TITLE, author=AUTHOR,
                                   space_title=SPACE, link="https://wis.example/s/abc",
                                   code="4821")
    base.update(kw)
    return MessageContent(**base)  # type: ignore[arg-type]


def test_the_table_covers_every_channel_and_level() -> None:
    assert set(TABLE) == {(c, lvl) for c in ChannelKind for lvl in Classification}


@pytest.mark.parametrize(("channel", "level"), sorted(TABLE, key=str))
def test_policy_table(channel: ChannelKind, level: Classification) -> None:
    full = TABLE[(channel, level)]
    assert may_carry(channel, level) is full
    out = apply(channel, content(level))
    assert out.channel is channel and out.level is level
    assert out.pointer is (not full)
    assert out.link == "https://wis.example/s/abc" and out.code == "4821"
    if full:
        assert (out.body, out.title, out.author, out.space_title) == (BODY, TITLE, AUTHOR, SPACE)
    else:
        assert out.title is None and out.author is None and out.space_title is None
        text = repr(out)
        for secret in (BODY, TITLE, AUTHOR, SPACE, "Norrtälje", "Kista"):
            assert secret not in text
        assert out.body == f"Ny information i WIS ({level.value.upper()}) – logga in för att läsa"


def test_rakel_never_carries_hemlig_and_phone_never_classified() -> None:
    assert CHANNEL_CEILING[RAKEL] is S
    assert CHANNEL_CEILING[PHONE] is P
    assert apply(RAKEL, content(H)).pointer and apply(PHONE, content(S)).pointer


@pytest.mark.parametrize("level", [S, H])
def test_pointer_names_the_space_only_if_its_title_is_public(level: Classification) -> None:
    out = apply(SMS, content(level, space_title_level=P))
    assert out.space_title == SPACE
    assert out.body == f"Ny information i WIS ({level.value.upper()}) i {SPACE} – logga in för att läsa"
    assert BODY not in repr(out) and TITLE not in repr(out) and AUTHOR not in repr(out)
    secret_space = apply(SMS, content(level, space_title_level=S))
    assert secret_space.space_title is None and SPACE not in repr(secret_space)


def test_unknown_space_title_level_is_treated_as_not_public() -> None:
    out = apply(E, MessageContent(level=S, body=BODY, space_title=SPACE))
    assert out.space_title is None and SPACE not in out.body


def test_exercise_flag_and_language_survive() -> None:
    out = apply(PUSH, content(H, exercise=True, language="en"))
    assert out.exercise and out.language == "en"
    assert out.body == "New information in WIS (HEMLIG) – sign in to read it"
    assert pointer_text(S, None, "xx") == "Ny information i WIS (SEKRETESS) – logga in för att läsa"


def test_a_talkgroup_carries_public_sekretess_only_when_approved_and_never_hemlig() -> None:
    from wis_server.classification.channel_policy import talkgroup_may_carry

    for approved in (False, True):
        assert talkgroup_may_carry(Classification.PUBLIC, sekretess_approved=approved)
        assert not talkgroup_may_carry(Classification.HEMLIG, sekretess_approved=approved)
    assert not talkgroup_may_carry(Classification.SEKRETESS, sekretess_approved=False)
    assert talkgroup_may_carry(Classification.SEKRETESS, sekretess_approved=True)
