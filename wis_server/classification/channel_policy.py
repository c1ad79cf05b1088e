"""Channel policy by level: what an outgoing message may say on each channel. Pure.

    item (level, title, body, author, space title)  +  channel
        │  level ≤ channel's ceiling?  ── yes ──▶ full text
        │                              └─ no  ──▶ content-free pointer
        ▼                                         ("Ny information i WIS (SEKRETESS) –
    Outgoing (what render may put on the wire)     logga in för att läsa")

The policy takes an ALREADY-DECIDED recipient: the caller (the notice/call-out service) has
asked `classification.decide(recipient, READ, space, item)` and only calls `apply` for a
recipient who may read the item. A recipient who may not read it gets nothing at all — not even
a pointer — because "nobody is even told that an item they may not read exists". This module
decides only how much of a readable item a channel may carry.

Ceilings (the highest level whose content a channel may carry):
  e-mail, SMS, Web Push: public   (leave our control: carriers, mail relays, push services)
  Rakel:                 sekretess (an encrypted national network; never `hemlig` content)
  phone (speech):        public   (a voice must never speak classified content)
A pointer never contains the body, the item's title, the author, or the space's title unless
that title is itself public (`space_title_level` is public).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..domain.levels import Classification


class ChannelKind(str, Enum):
    """The ways a message can leave the server. Wire/setting values are exactly these."""

    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    RAKEL = "rakel"
    PHONE = "phone"


# The highest level whose CONTENT each channel may carry. Anything above gets a pointer.
CHANNEL_CEILING: dict[ChannelKind, Classification] = {
    ChannelKind.EMAIL: Classification.PUBLIC,
    ChannelKind.SMS: Classification.PUBLIC,
    ChannelKind.PUSH: Classification.PUBLIC,
    ChannelKind.RAKEL: Classification.SEKRETESS,
    ChannelKind.PHONE: Classification.PUBLIC,
}

LEVEL_LABEL = {
    Classification.PUBLIC: "ÖPPEN",
    Classification.SEKRETESS: "SEKRETESS",
    Classification.HEMLIG: "HEMLIG",
}

_POINTER = {
    "sv": "Ny information i WIS ({level}) – logga in för att läsa",
    "en": "New information in WIS ({level}) – sign in to read it",
}
_POINTER_IN_SPACE = {
    "sv": "Ny information i WIS ({level}) i {space} – logga in för att läsa",
    "en": "New information in WIS ({level}) in {space} – sign in to read it",
}


@dataclass(frozen=True, slots=True)
class MessageContent:
    """What the service wants to tell one (already decided) recipient.

    `link` is where the recipient reads it in WIS (a URL with opaque ids only); `code` is a
    call-out's acknowledgement code. Neither is content, so both survive the policy.
    """

    level: Classification
    body: str
    title: str | None = None
    author: str | None = None
    space_title: str | None = None
    space_title_level: Classification = Classification.SEKRETESS  # unknown = not public
    link: str | None = None
    code: str | None = None
    exercise: bool = False
    language: str = "sv"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What a channel may carry for one message; `pointer` says the content was withheld."""

    channel: ChannelKind
    level: Classification
    pointer: bool
    body: str
    title: str | None
    author: str | None
    space_title: str | None
    link: str | None
    code: str | None
    exercise: bool
    language: str


def ceiling_of(channel: ChannelKind, ceiling: Classification | None = None) -> Classification:
    """The channel's ceiling, lowered (never raised) by an adapter's own, e.g. a Rakel gateway
    not approved for `sekretess` (WIS_RAKEL_SEKRETESS=false) carries only `public`."""
    base = CHANNEL_CEILING[channel]
    return base if ceiling is None else min(base, ceiling)


def may_carry(channel: ChannelKind, level: Classification,
              ceiling: Classification | None = None) -> bool:
    """Whether `channel` may carry the content of an item at `level` (else: pointer only)."""
    return level <= ceiling_of(channel, ceiling)


def talkgroup_may_carry(level: Classification, *, sekretess_approved: bool) -> bool:
    """Whether a notice at `level` may go out to a Rakel talkgroup at all. Everybody who
    has the group selected hears it, so no per-recipient decision protects it: `public`
    yes; `sekretess` only where an admin approved the gateway for it
    (WIS_RAKEL_SEKRETESS=true); `hemlig` never, approved or not."""
    if level is Classification.PUBLIC:
        return True
    if level is Classification.SEKRETESS:
        return sekretess_approved and may_carry(ChannelKind.RAKEL, level)
    return False


def carried_level(outgoing: Outgoing) -> Classification:
    """The level of what `outgoing` actually says: a content-free pointer says nothing
    classified, so it is public; otherwise the item's level."""
    return Classification.PUBLIC if outgoing.pointer else outgoing.level


def pointer_text(level: Classification, space_title: str | None, language: str = "sv") -> str:
    lang = language if language in _POINTER else "sv"
    if space_title:
        return _POINTER_IN_SPACE[lang].format(level=LEVEL_LABEL[level], space=space_title)
    return _POINTER[lang].format(level=LEVEL_LABEL[level])


def apply(channel: ChannelKind, content: MessageContent, *,
          ceiling: Classification | None = None) -> Outgoing:
    """The message `channel` may carry for `content` (full text, or a content-free pointer).
    `ceiling` is the adapter's `capabilities.max_level` when it is below the channel's."""
    if may_carry(channel, content.level, ceiling):
        return Outgoing(channel, content.level, False, content.body, content.title,
                        content.author, content.space_title, content.link, content.code,
                        content.exercise, content.language)
    public_space = (content.space_title
                    if content.space_title and content.space_title_level is Classification.PUBLIC
                    else None)
    return Outgoing(
        channel=channel,
        level=content.level,
        pointer=True,
        body=pointer_text(content.level, public_space, content.language),
        title=None,
        author=None,
        space_title=public_space,
        link=content.link,
        code=content.code,
        exercise=content.exercise,
        language=content.language,
    )
