"""A user's own notification preferences (issue 10.1)."""

from __future__ import annotations

from dataclasses import replace
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..domain.audit import AuditRecord
from ..domain.codes import Code
from ..domain.errors import ValidationFailed
from ..domain.levels import ContactKind
from ..domain.model import ContactPoint, Principal
from ..domain.notifications import (
    DEFAULT_TIMEZONE,
    Channel,
    NotificationPreferences,
    NotifyEvent,
    QuietHours,
    SpacesMode,
)
from .input_rules import normalise_contact_point
from .ports import Clock, UnitOfWork


def _hhmm(value: str, field: str) -> time:
    try:
        if len(value) == 5 and value[2] == ":":
            return time.fromisoformat(value)
    except ValueError:
        pass
    raise ValidationFailed(f"{field} must be a time HH:MM", code=Code.INVALID_TIME, field=field)


def _address(kind: ContactKind, value: str | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return normalise_contact_point(ContactPoint(kind, value)).value
    except ValidationFailed as error:
        raise ValidationFailed(error.message, code=error.code, field=field) from None


class NotificationSettings:
    def __init__(self, store: UnitOfWork, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def get(self, principal: Principal) -> NotificationPreferences:
        async with self.store.read() as tx:
            return await tx.notifications.preferences(principal.user_id)

    async def push_count(self, principal: Principal) -> int:
        async with self.store.read() as tx:
            return len(await tx.notifications.push_of_user(principal.user_id))

    async def put(self, principal: Principal, doc: dict[str, Any]) -> NotificationPreferences:
        """Replace the preferences with `doc` (already shape-checked by the API); fields not
        given take their defaults."""
        channels = tuple(Channel(c) for c in doc.get("channels", [c.value for c in Channel]))
        if len(set(channels)) != len(channels):
            raise ValidationFailed("a channel is named twice", code=Code.DUPLICATE_CHANNEL,
                                   field="channels")
        spaces = doc.get("spaces", {"mode": "all"})
        mode = SpacesMode(spaces.get("mode", "all"))
        space_ids = frozenset(spaces.get("space_ids", []))
        if mode is SpacesMode.ALL and space_ids:
            raise ValidationFailed("space_ids are given only with mode 'chosen'",
                                   code=Code.SPACE_IDS_WITHOUT_CHOSEN, field="spaces.space_ids")
        events = frozenset(NotifyEvent(e) for e in doc.get(
            "events", [NotifyEvent.NOTICE.value, NotifyEvent.SPACE_ADDED.value]))
        quiet = None
        raw_quiet = doc.get("quiet_hours")
        if raw_quiet is not None:
            zone = raw_quiet.get("timezone", DEFAULT_TIMEZONE)
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValidationFailed("unknown time zone (an IANA name such as "
                                       "Europe/Stockholm)", code=Code.UNKNOWN_TIMEZONE,
                                       field="quiet_hours.timezone") from None
            start = _hhmm(raw_quiet["from"], "quiet_hours.from")
            end = _hhmm(raw_quiet["to"], "quiet_hours.to")
            if start == end:
                raise ValidationFailed("quiet hours must not start when they end",
                                       code=Code.EMPTY_QUIET_HOURS, field="quiet_hours")
            quiet = QuietHours(start, end, zone)
        prefs = NotificationPreferences(
            channels=channels, spaces=mode, space_ids=space_ids, events=events,
            quiet_hours=quiet, email=_address(ContactKind.EMAIL, doc.get("email"), "email"),
            phone=_address(ContactKind.SMS, doc.get("phone"), "phone"))
        now = self.clock()
        async with self.store.write() as tx:
            if space_ids:
                mine = {s.id for s in await tx.spaces.for_actor(principal.actor_id)}
                unknown = sorted(space_ids - mine)
                if unknown:  # only ever about the caller's own spaces: nothing leaks
                    raise ValidationFailed("not spaces your actor participates in: "
                                           + ", ".join(unknown), code=Code.NOT_YOUR_SPACE,
                                           field="spaces.space_ids")
            await tx.notifications.save_preferences(principal.user_id, prefs, now)
            await tx.audit.append(AuditRecord(
                "notifications.update", user_id=principal.user_id,
                actor_id=principal.actor_id, target_type="user",
                target_id=principal.user_id,
                detail={"channels": [c.value for c in channels], "mode": mode.value,
                        "events": sorted(e.value for e in events)}), now)
        return replace(prefs)
