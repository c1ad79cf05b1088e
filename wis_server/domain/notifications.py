"""Notification preferences and the delivery ledger's vocabulary (issue 10). Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo


class Channel(str, Enum):
    """A way to reach a person; wire values are these strings."""

    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    RAKEL = "rakel"  # SDS through the Rakel gateway (call-outs to rakel_issi/rakel_gssi)
    PHONE = "phone"  # a voice call (call-outs to phone contact points; DTMF acknowledges)


class NotifyEvent(str, Enum):
    """What a user may ask to be told about."""

    ENTRY = "entry"                        # a new log entry in one of my spaces
    SITUATION_REPORT = "situation_report"  # a new lägesbild version
    SPACE_ADDED = "space_added"            # my actor was added to a space
    NOTICE = "notice"                      # an informationsunderrättelse


class DeliveryStatus(str, Enum):
    """A delivery row's state. `standby` waits for the recipient's channel before it to fail;
    `refused` was never sent (recipient not allowed: outside an exercise, or may not read)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    STANDBY = "standby"
    REFUSED = "refused"

    @property
    def final(self) -> bool:
        return self in (DeliveryStatus.FAILED, DeliveryStatus.EXPIRED, DeliveryStatus.REFUSED)


class SpacesMode(str, Enum):
    ALL = "all"        # every space my actor participates in
    CHOSEN = "chosen"  # only `space_ids`


DEFAULT_TIMEZONE = "Europe/Stockholm"


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window (the user's local time) in which non-urgent messages are HELD, not
    dropped: they go out when the window ends (a notice is still worth reading at 06:30).
    Urgent ones are not held: anything from an activated (disruption) space, and call-outs,
    which go to actors' 24/7 contact points and never pass through preferences."""

    start: time
    end: time
    timezone: str = DEFAULT_TIMEZONE

    def release_at(self, now: datetime) -> datetime:
        """`now` if outside the window, else the moment the window ends (UTC-aware)."""
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        start, end = self.start, self.end
        clock = local.time().replace(tzinfo=None)
        if start == end:
            return now
        inside = start <= clock < end if start < end else (clock >= start or clock < end)
        if not inside:
            return now
        day = local.date()
        if start > end and clock >= start:  # the window crosses midnight: it ends tomorrow
            day = day + timedelta(days=1)
        released = datetime.combine(day, end, tzinfo=zone)
        return max(now, released.astimezone(now.tzinfo))


@dataclass(frozen=True, slots=True)
class NotificationPreferences:
    """One user's choices. `channels` is an order: the first is tried first, the next when it
    fails. Defaults: every channel the user has an address for, every space, notices and
    being added to a space (new entries would be too many for most), no quiet hours."""

    channels: tuple[Channel, ...] = (Channel.PUSH, Channel.EMAIL, Channel.SMS)
    spaces: SpacesMode = SpacesMode.ALL
    space_ids: frozenset[str] = frozenset()
    events: frozenset[NotifyEvent] = field(
        default_factory=lambda: frozenset({NotifyEvent.NOTICE, NotifyEvent.SPACE_ADDED}))
    quiet_hours: QuietHours | None = None
    email: str | None = None
    phone: str | None = None  # E.164

    def wants(self, event: NotifyEvent, space_id: str) -> bool:
        """Whether to tell of `event` in `space_id`. Being added to a space is about a space
        the user cannot have chosen yet, so it ignores the chosen-spaces filter."""
        if event not in self.events:
            return False
        if event is NotifyEvent.SPACE_ADDED:
            return True
        return self.spaces is SpacesMode.ALL or space_id in self.space_ids

    def not_before(self, now: datetime, *, activated: bool) -> datetime:
        """When a message may go out: an activated (disruption) space overrides quiet hours."""
        if activated or self.quiet_hours is None:
            return now
        return self.quiet_hours.release_at(now)


DEFAULT_PREFERENCES = NotificationPreferences()
