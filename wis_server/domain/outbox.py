"""The outbox's records, shared by the services that fill it, storage that keeps it and the
dispatcher that empties it (DESIGN §7). Pure values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .levels import Classification
from .model import Audience, ItemLabel
from .notifications import Channel


@dataclass(frozen=True, slots=True)
class Address:
    """Where one delivery goes: an explicit address (`to`, e.g. a call-out's contact point),
    the recipient's own address from their preferences at send time (`preference`), or one
    of their Web Push subscriptions (`push_subscription`)."""

    to: str | None = None
    preference: Channel | None = None
    push_subscription: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One channel of a recipient's plan; rank 0 is queued at once, rank n when every
    attempt of rank n-1 has failed."""

    channel: Channel
    address: Address
    rank: int


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person (`user_id`) or a contact point (`ref`) of an actor, with their plan."""

    attempts: tuple[Attempt, ...]
    user_id: str | None = None
    actor_id: str | None = None
    ref: str | None = None
    not_before: datetime | None = None  # quiet hours: rank 0 waits until then


@dataclass(frozen=True, slots=True)
class OutboxDraft:
    """A message to write in the item's transaction. `subject`/`body` are the full text (at
    `classification`); the channel policy decides per channel what of it may go out."""

    kind: str  # notice, callout, test, ...
    classification: Classification
    subject: str
    body: str
    expires_at: datetime
    space_id: str | None = None
    ref_id: str | None = None
    audience: Audience = None
    author_actor_id: str | None = None
    exercise: bool = False
    link: str = ""  # a path of the web client, e.g. /#/spaces/<id>
    created_by: str | None = None
    recipients: tuple[Recipient, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed delivery, as the dispatcher sees it before anything is decrypted."""

    id: str  # the delivery id: the message id on the wire
    message_id: str
    channel: Channel
    rank: int
    attempts: int  # including this one
    kind: str
    classification: Classification
    audience: Audience
    author_actor_id: str | None
    exercise: bool
    expires_at: datetime
    space_id: str | None = None
    recipient_user_id: str | None = None
    recipient_actor_id: str | None = None
    recipient_ref: str | None = None

    @property
    def label(self) -> ItemLabel:
        return ItemLabel(self.classification, self.audience, self.author_actor_id or "")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A job made ready to send: decrypted text and address. `space_title` is given only
    when the title itself is public (the channel policy may then name the space)."""

    job: Job
    to: str
    subject: str
    body: str
    link: str
    space_title: str | None = None
    push_keys: dict[str, str] | None = None  # p256dh/auth of a Web Push subscription


@dataclass(frozen=True, slots=True)
class Refusal:
    """A job that must not be sent: `reason` is a code (never content)."""

    job: Job
    reason: str
    audit: bool = False  # an exercise recipient outside the exercise: on the trail
    fail_over: bool = False  # no address on this channel: failed, so the next is tried


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A row of the delivery ledger as shown to the sender (no address, no content)."""

    id: str
    message_id: str
    recipient_user_id: str | None
    recipient_actor_id: str | None
    recipient_ref: str | None
    channel: Channel
    rank: int
    status: str
    attempts: int
    error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
