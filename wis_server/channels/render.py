"""Per-channel rendering: the exact text that goes out, within the channel's limits. Pure.

    Outgoing (after the channel policy) ──▶ head: [ÖVNING: ] title: body [author, space]
                                          tail: acknowledgement code line, link
    fit(head, tail, limit): the tail is never cut; the head is cut at a word boundary and
    marked "...", so a code, a link or a word never arrives broken.

SMS: GSM 03.38 7-bit when every character is in the GSM alphabet (160 septets in one part,
153 per part when concatenated; ^{}\\[~]|€ cost two), otherwise UCS-2 (70 / 67 UTF-16 units).
A few typographic characters (dashes, curly quotes, ellipsis, no-break space) are replaced by
their GSM equivalents first, so a Swedish message stays 7-bit. An escape pair or a surrogate
pair is never split across parts.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from ..classification.channel_policy import ChannelKind, Outgoing
from .errors import MessageTooLong
from .ports import Capabilities, Rendered

EXERCISE_PREFIX = "ÖVNING"

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION

_SMS_REPLACEMENTS = str.maketrans({
    "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2018": "'", "\u2019": "'", "\u201a": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u00a0": " ", "\u2009": " ", "\u202f": " ",
    "\u2026": "...",
})

SMS_SINGLE = {"gsm7": 160, "ucs2": 70}
SMS_MULTI = {"gsm7": 153, "ucs2": 67}

_TEXTS = {
    "sv": {"ack": "Svara OK {code} för att kvittera", "from": "Från: {author}",
           "space": "Händelse: {space}", "open": "Öppna: {link}", "default_title": "WIS"},
    "en": {"ack": "Reply OK {code} to acknowledge", "from": "From: {author}",
           "space": "Incident: {space}", "open": "Open: {link}", "default_title": "WIS"},
}

EMAIL_MAX_LENGTH = 20_000
PUSH_MAX_LENGTH = 400  # a notification shows a few lines; the page has the rest
SUBJECT_MAX = 120
ELLIPSIS = "..."


@dataclass(frozen=True, slots=True)
class SmsShape:
    encoding: str  # "gsm7" | "ucs2"
    units: int  # septets (gsm7) or UTF-16 code units (ucs2)
    parts: int


def _texts(language: str) -> dict[str, str]:
    return _TEXTS.get(language, _TEXTS["sv"])


_TYPOGRAPHY = frozenset(chr(code) for code in _SMS_REPLACEMENTS)


def sms_normalise(text: str) -> str:
    return text if _TYPOGRAPHY.isdisjoint(text) else text.translate(_SMS_REPLACEMENTS)


def gsm7_transliterate(text: str) -> str:
    """`text` in the GSM alphabet: a non-GSM letter becomes its base letter (ł→l, ż→z), any
    other non-GSM character "?". Used only when it keeps more of a message than UCS-2."""
    out = []
    for ch in text:
        if ch in GSM7_BASIC or ch in GSM7_EXTENSION:
            out.append(ch)
            continue
        base = unicodedata.normalize("NFKD", ch)[:1]
        if ch == "ł":
            base = "l"
        elif ch == "Ł":
            base = "L"
        out.append(base if base and (base in GSM7_BASIC) and base.isascii() else "?")
    return "".join(out)


def is_gsm7(text: str) -> bool:
    return set(text) <= GSM7_ALL


def sms_shape(text: str) -> SmsShape:
    """Encoding, size and number of parts of `text` as one (possibly concatenated) SMS."""
    chars = set(text)
    if chars <= GSM7_ALL:
        encoding, extension = "gsm7", chars & GSM7_EXTENSION
        units = len(text) + sum(text.count(ch) for ch in extension)
        pairs = bool(extension)
    else:
        encoding = "ucs2"
        units = len(text.encode("utf-16-be")) // 2
        pairs = units != len(text)
    if units <= SMS_SINGLE[encoding]:
        return SmsShape(encoding, units, 1)
    per_part = SMS_MULTI[encoding]
    if not pairs:
        return SmsShape(encoding, units, -(-units // per_part))
    parts, used = 1, 0
    for ch in text:  # an escape or surrogate pair never straddles two parts
        cost = 2 if (ch in GSM7_EXTENSION if encoding == "gsm7" else ord(ch) > 0xFFFF) else 1
        if used + cost > per_part:
            parts, used = parts + 1, 0
        used += cost
    return SmsShape(encoding, units, parts)


def sms_max_units(max_parts: int, encoding: str = "gsm7") -> int:
    return SMS_SINGLE[encoding] if max_parts == 1 else SMS_MULTI[encoding] * max_parts


def _cut_words(text: str, keep: int) -> str:
    """The first `keep` characters of `text`, backed off to a word boundary if one is near."""
    if keep >= len(text):
        return text
    cut = text[:keep]
    if keep < len(text) and not text[keep].isspace():
        space = max(cut.rfind(" "), cut.rfind("\n"))
        if space >= keep // 2:
            cut = cut[:space]
    return cut.rstrip()


def fit(head: str, tail: str, fits: Callable[[str], bool]) -> str:
    """`head` + `tail`, with only the head cut (at a word boundary, marked "...") until
    `fits(text)` holds. Raises MessageTooLong if even the tail alone does not fit."""
    join = "\n" if head and tail else ""
    whole = head + join + tail
    if fits(whole):
        return whole
    if not fits(tail):
        raise MessageTooLong("the acknowledgement code and link do not fit the channel")
    low, high = 0, len(head)  # the longest head prefix that still fits
    while low < high:
        mid = (low + high + 1) // 2
        candidate = _cut_words(head, mid)
        if fits(candidate + ELLIPSIS + join + tail):
            low = mid
        else:
            high = mid - 1
    cut = _cut_words(head, low)
    if not cut:
        return tail
    return cut + ELLIPSIS + join + tail


def _prefix(outgoing: Outgoing) -> str:
    return f"{EXERCISE_PREFIX}: " if outgoing.exercise else ""


def _tail_lines(outgoing: Outgoing, *, with_ack: bool) -> list[str]:
    texts = _texts(outgoing.language)
    lines = []
    if outgoing.code and with_ack:
        lines.append(texts["ack"].format(code=outgoing.code))
    if outgoing.link:
        lines.append(outgoing.link)
    return lines


def render_sms(outgoing: Outgoing, max_parts: int) -> Rendered:
    head = _prefix(outgoing)
    if outgoing.title:
        head += outgoing.title + ": "
    head += outgoing.body
    head = sms_normalise(head)
    tail = sms_normalise("\n".join(_tail_lines(outgoing, with_ack=True)))
    text = fit(head, tail, lambda t: sms_shape(t).parts <= max_parts)
    if not is_gsm7(head + tail):
        # UCS-2 holds less than half as much: keep whichever version says more.
        gsm = fit(gsm7_transliterate(head), gsm7_transliterate(tail),
                  lambda t: sms_shape(t).parts <= max_parts)
        if len(gsm) > len(text) and not text.endswith(head):
            text = gsm
    shape = sms_shape(text)
    return Rendered(subject="", text=text, url=outgoing.link, parts=shape.parts,
                    encoding=shape.encoding)


def _subject(outgoing: Outgoing) -> str:
    texts = _texts(outgoing.language)
    if outgoing.pointer:
        base = outgoing.body.split(" – ")[0]
    else:
        first_line = outgoing.body.splitlines()[0] if outgoing.body else ""
        base = outgoing.title or first_line or texts["default_title"]
    subject = _prefix(outgoing) + " ".join(base.split())
    if len(subject) > SUBJECT_MAX:
        subject = _cut_words(subject, SUBJECT_MAX - len(ELLIPSIS)) + ELLIPSIS
    return subject


def render_email(outgoing: Outgoing, max_length: int = EMAIL_MAX_LENGTH) -> Rendered:
    texts = _texts(outgoing.language)
    head_lines = [EXERCISE_PREFIX] if outgoing.exercise else []
    if outgoing.title:
        head_lines.append(outgoing.title)
        head_lines.append("")
    head_lines.append(outgoing.body)
    meta = []
    if outgoing.author:
        meta.append(texts["from"].format(author=outgoing.author))
    if outgoing.space_title and not outgoing.pointer:
        meta.append(texts["space"].format(space=outgoing.space_title))
    tail_lines = _tail_lines(outgoing, with_ack=True)
    if outgoing.link:
        tail_lines[-1] = texts["open"].format(link=outgoing.link)
    head = "\n".join(head_lines)
    tail = "\n".join([*meta, *tail_lines])
    text = fit(head, "\n" + tail if tail else "", lambda t: len(t) <= max_length)
    return Rendered(subject=_subject(outgoing), text=text, url=outgoing.link)


def render_push(outgoing: Outgoing, max_length: int = PUSH_MAX_LENGTH) -> Rendered:
    texts = _texts(outgoing.language)
    if outgoing.pointer:
        title = _prefix(outgoing) + texts["default_title"]
    else:
        title = _prefix(outgoing) + (outgoing.title or outgoing.space_title
                                     or texts["default_title"])
    if len(title) > SUBJECT_MAX:
        title = _cut_words(title, SUBJECT_MAX - len(ELLIPSIS)) + ELLIPSIS
    # The link travels as the notification's URL, not in its text.
    tail = texts["ack"].format(code=outgoing.code) if outgoing.code else ""
    text = fit(outgoing.body, tail, lambda t: len(t) <= max_length)
    return Rendered(subject=title, text=text, url=outgoing.link)


def render_plain(outgoing: Outgoing, max_length: int) -> Rendered:
    """Plain text for the channels of the next issue (Rakel SDS, phone speech)."""
    head = _prefix(outgoing) + (f"{outgoing.title}: " if outgoing.title else "") + outgoing.body
    tail = "\n".join(_tail_lines(outgoing, with_ack=True))
    return Rendered(subject="", text=fit(head, tail, lambda t: len(t) <= max_length),
                    url=outgoing.link)


def sms_parts_for(max_length: int) -> int:
    """How many parts an SMS channel whose capability is `max_length` septets may use."""
    return 1 if max_length <= SMS_SINGLE["gsm7"] else max(1, max_length // SMS_MULTI["gsm7"])


def render(outgoing: Outgoing, capabilities: Capabilities) -> Rendered:
    """Render `outgoing` for its channel within that channel's `capabilities`."""
    max_length = capabilities.max_length
    if outgoing.channel is ChannelKind.SMS:
        return render_sms(outgoing, sms_parts_for(max_length))
    if outgoing.channel is ChannelKind.EMAIL:
        return render_email(outgoing, max_length)
    if outgoing.channel is ChannelKind.PUSH:
        return render_push(outgoing, max_length)
    return render_plain(outgoing, max_length)
