"""The one port every channel adapter implements, and the values that cross it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from ..classification.channel_policy import ChannelKind
from ..domain.levels import Classification


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can do. `max_length` is in the channel's own unit (SMS: GSM-7 septets
    over all parts; e-mail and push: characters of the body); `max_level` is the highest
    level whose content it may carry (the channel policy's ceiling)."""

    max_length: int
    confirms_delivery: bool
    max_level: Classification


@dataclass(frozen=True, slots=True)
class PushSubscription:
    """A browser's push subscription: endpoint URL, ua public key (p256dh), auth secret."""

    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message rendered for one channel (see render.py): the exact text that goes out."""

    subject: str  # e-mail subject / push title; "" for SMS
    text: str
    url: str | None = None  # push: the page the notification opens
    parts: int = 1  # SMS segments
    encoding: str = "utf-8"  # SMS: "gsm7" or "ucs2"


@dataclass(frozen=True, slots=True)
class Message:
    """One delivery: a rendered message to one address over one channel.

    `delivery_id` is the outbox's delivery row id; it is stable across retries, so a resend
    after a lost provider answer carries the same id (e-mail Message-ID, SMS delivery-report
    reference, push Topic) and can be de-duplicated. `to` is an e-mail address, a phone number,
    or a PushSubscription. `topic` (push) lets a newer message replace an unread older one.
    """

    delivery_id: str
    to: str | PushSubscription
    rendered: Rendered
    topic: str | None = None
    ttl_s: int = 24 * 3600
    urgency: str = "normal"  # push: very-low | low | normal | high
    # The level of what `rendered` says (channel_policy.carried_level: a pointer is public).
    # An adapter with a ceiling (Rakel) refuses a message above it; None: not stated.
    level: Classification | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """The provider accepted the message. `status` is "sent" (accepted; a delivery report
    may follow, matched by `provider_id` or `delivery_id`) or "delivered"."""

    channel: ChannelKind
    delivery_id: str
    provider_id: str | None
    status: str = "sent"
    parts: int = 1
    at: datetime | None = None


@runtime_checkable
class Channel(Protocol):
    """One way out. `send` returns a Receipt or raises a channels.errors.ChannelError."""

    @property
    def kind(self) -> ChannelKind: ...

    @property
    def capabilities(self) -> Capabilities: ...

    async def send(self, message: Message) -> Receipt: ...

    async def aclose(self) -> None: ...
