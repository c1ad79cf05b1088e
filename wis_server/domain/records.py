"""Records that cross layers without being domain rules of their own: what a repository
returns to a service and a service to the API (call-out lists, report versions, push
subscriptions, notification candidates, idempotency results, space events) and the plain
label filter of a log page. Values only; storage maps them to and from rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .levels import Classification, EntryKind, ReportSectionKey
from .model import ItemLabel, Principal
from .notifications import NotificationPreferences


@dataclass(frozen=True, slots=True)
class CalloutList:
    id: str
    owner_actor_id: str
    name: str
    actor_ids: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CodeMatch:
    callout_id: str
    space_id: str
    contact_id: str


@dataclass(frozen=True, slots=True)
class EntryLabelFilter:
    """Narrowing a log page on plain (unencrypted) columns; every field optional."""

    kind: EntryKind | None = None
    level: Classification | None = None
    author_actor_id: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


@dataclass(frozen=True, slots=True)
class PushSubscription:
    id: str
    user_id: str
    endpoint: str
    keys: dict[str, str]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Candidate:
    """A user who might be told about an item: as the access decision sees them, their
    preferences, and how many push subscriptions they have."""

    principal: Principal
    preferences: NotificationPreferences
    push_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReportVersion:
    id: str
    version: int
    author_id: str
    author_name: str
    created_at: datetime
    seq: int


@dataclass(frozen=True, slots=True)
class IdempotentResult:
    fingerprint: str  # as found: the stored tag; to remember: the request's fingerprint
    resource_type: str
    resource_id: str


@dataclass(frozen=True, slots=True)
class SpaceEvent:
    space_id: str
    seq: int
    kind: str
    ref_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredSection:
    """A report section as stored, still sealed: carried forward into a new version without
    being opened or shown to anyone (the publisher may not read it)."""

    id: str
    key: ReportSectionKey
    label: ItemLabel
    data_key_id: str
    body_ct: bytes
