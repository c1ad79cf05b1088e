"""Per-channel rendering: GSM-7 vs UCS-2 segment arithmetic, cutting to the limit without
breaking the acknowledgement code, the link or a word, and the ÖVNING prefix everywhere."""

from __future__ import annotations

import pytest

from wis_server.channels.errors import MessageTooLong
from wis_server.channels.memory import DEFAULT_CAPABILITIES
from wis_server.channels.ports import Capabilities
from wis_server.channels.render import (
    fit,
    gsm7_transliterate,
    is_gsm7,
    render,
    render_sms,
    sms_normalise,
    sms_parts_for,
    sms_shape,
)
from wis_server.classification.channel_policy import ChannelKind, MessageContent, apply
from wis_server.domain.levels import Classification

P, S = Classification.PUBLIC, Classification.SEKRETESS
LINK = "https://wis.example/s/0f3c9a7e-2b1d-4c8e-9a55-7d1b2e3f4a5b"


@pytest.mark.parametrize(("text", "encoding", "units", "parts"), [
    ("", "gsm7", 0, 1),
    ("a" * 160, "gsm7", 160, 1),
    ("a" * 161, "gsm7", 161, 2),
    ("a" * 306, "gsm7", 306, 2),
    ("a" * 307, "gsm7", 307, 3),
    ("Åäö ÉÜ ñ §¿ @£$", "gsm7", 15, 1),
    ("€" * 80, "gsm7", 160, 1),          # extension characters cost two septets
    ("€" * 81, "gsm7", 162, 2),
    ("a" * 152 + "€" + "a" * 10, "gsm7", 164, 2),  # the escape pair is not split
    ("a" * 70 + "ł", "ucs2", 71, 2),     # one non-GSM character: UCS-2 for all of it
    ("ł" * 70, "ucs2", 70, 1),
    ("ł" * 134, "ucs2", 134, 2),
    ("ł" * 135, "ucs2", 135, 3),
    ("😀" * 35, "ucs2", 70, 1),          # astral characters are two UTF-16 units
    ("ł" * 66 + "😀" + "ł", "ucs2", 69, 1),
    ("ł" * 66 + "😀" + "ł" * 5, "ucs2", 73, 2),
])
def test_sms_shape(text: str, encoding: str, units: int, parts: int) -> None:
    shape = sms_shape(text)
    assert (shape.encoding, shape.units, shape.parts) == (encoding, units, parts)


def test_surrogate_pair_is_not_split_across_parts() -> None:
    # 66 units then a 2-unit emoji: it cannot fit in part one's 67th unit, so it moves.
    assert sms_shape("ł" * 66 + "😀" + "ł" * 65).parts == 2
    assert sms_shape("ł" * 66 + "😀" + "ł" * 66).parts == 3  # 134 units, yet three parts


def test_typography_is_normalised_so_swedish_stays_gsm7() -> None:
    text = sms_normalise("Ny information i WIS (SEKRETESS) – logga in för att läsa … ”OK”")
    assert is_gsm7(text)
    assert text == 'Ny information i WIS (SEKRETESS) - logga in för att läsa ... "OK"'


def sms(level: Classification = P, **kw: object) -> MessageContent:
    base: dict[str, object] = dict(level=level, body="Samverkanskonferens kl 04:00.",
                                   link=LINK, code="7Q4K")
    base.update(kw)
    return MessageContent(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("max_parts", [1, 2, 3])
@pytest.mark.parametrize("body", [
    "ord " * 400,
    "Översvämning längs Ån, bro stängd. " * 40,
    "Łódź: " + "pożar " * 100,       # forces UCS-2
    "x" * 2000,                       # one long word: hard cut
])
def test_cut_keeps_code_and_link_whole_and_fits(max_parts: int, body: str) -> None:
    out = render_sms(apply(ChannelKind.SMS, sms(body=body)), max_parts)
    assert out.parts <= max_parts and sms_shape(out.text).parts == out.parts
    assert out.text.endswith("Svara OK 7Q4K för att kvittera\n" + LINK)
    head = out.text.split("\nSvara OK")[0]
    assert head.endswith("...")
    kept = head[:-3]
    assert body.startswith(kept) or gsm7_transliterate(body).startswith(kept)
    if " " in body.strip():  # cut at a word boundary
        assert body[len(kept)] in " ," or body[len(kept):].startswith(" ")


def test_short_message_is_not_cut() -> None:
    out = render_sms(apply(ChannelKind.SMS, sms()), 1)
    assert out.text == f"Samverkanskonferens kl 04:00.\nSvara OK 7Q4K för att kvittera\n{LINK}"
    assert out.encoding == "gsm7" and out.parts == 1


def test_tail_that_cannot_fit_is_refused_not_broken() -> None:
    with pytest.raises(MessageTooLong):
        render_sms(apply(ChannelKind.SMS, sms(link="https://wis.example/" + "a" * 200)), 1)
    with pytest.raises(MessageTooLong):
        fit("head", "t" * 20, lambda t: len(t) <= 10)


def test_fit_never_cuts_a_word_when_a_boundary_is_near() -> None:
    text = fit("alpha beta gamma delta", "END", lambda t: len(t) <= 20)
    assert text == "alpha beta...\nEND"


@pytest.mark.parametrize("kind", [ChannelKind.SMS, ChannelKind.EMAIL, ChannelKind.PUSH,
                                  ChannelKind.RAKEL, ChannelKind.PHONE])
def test_exercise_prefix_on_every_channel(kind: ChannelKind) -> None:
    out = render(apply(kind, sms(exercise=True, title="Brand")), DEFAULT_CAPABILITIES[kind])
    if kind in (ChannelKind.EMAIL, ChannelKind.PUSH):
        assert out.subject.startswith("ÖVNING: ")
    if kind is not ChannelKind.PUSH:
        assert out.text.startswith("ÖVNING")
    plain = render(apply(kind, sms(title="Brand")), DEFAULT_CAPABILITIES[kind])
    assert "ÖVNING" not in plain.subject + plain.text


def test_email_layout_public_and_pointer() -> None:
    content = sms(title="Brand i Hjulsta", author="Anna A", space_title="Brand Hjulsta",
                  space_title_level=S)
    full = render(apply(ChannelKind.EMAIL, content), DEFAULT_CAPABILITIES[ChannelKind.EMAIL])
    assert full.subject == "Brand i Hjulsta"
    assert full.text == ("Brand i Hjulsta\n\nSamverkanskonferens kl 04:00.\n\nFrån: Anna A\n"
                         "Händelse: Brand Hjulsta\nSvara OK 7Q4K för att kvittera\n"
                         f"Öppna: {LINK}")
    secret = render(apply(ChannelKind.EMAIL, content.__class__(**{
        **{f: getattr(content, f) for f in content.__dataclass_fields__}, "level": S})),
        DEFAULT_CAPABILITIES[ChannelKind.EMAIL])
    assert secret.subject == "Ny information i WIS (SEKRETESS)"
    for word in ("Brand", "Hjulsta", "Anna", "Samverkans"):
        assert word not in secret.subject + secret.text
    assert LINK in secret.text and "7Q4K" in secret.text


def test_push_layout_and_limit() -> None:
    caps = Capabilities(100, False, P)
    out = render(apply(ChannelKind.PUSH, sms(title="Brand", body="ord " * 100)), caps)
    assert out.subject == "Brand" and out.url == LINK
    assert len(out.text) <= 100 and out.text.endswith("...\nSvara OK 7Q4K för att kvittera")
    pointer = render(apply(ChannelKind.PUSH, sms(S, title="Brand")), caps)
    assert pointer.subject == "WIS" and "Brand" not in pointer.subject + pointer.text


@pytest.mark.parametrize(("max_length", "parts"), [(160, 1), (306, 2), (459, 3), (10, 1)])
def test_sms_parts_from_capability(max_length: int, parts: int) -> None:
    assert sms_parts_for(max_length) == parts


def test_ucs2_body_is_transliterated_when_that_keeps_more() -> None:
    out = render_sms(apply(ChannelKind.SMS, sms(body="Łódź: " + "pożar " * 100)), 1)
    assert out.encoding == "gsm7" and out.text.startswith("Lodz: pozar pozar")
    short = render_sms(apply(ChannelKind.SMS, sms(body="Pożar", link=None, code=None)), 1)
    assert short.text == "Pożar" and short.encoding == "ucs2"  # fits as it is: untouched
