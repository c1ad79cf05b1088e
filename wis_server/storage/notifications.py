"""Notification preferences and Web Push subscriptions. Addresses and endpoints are personal
data: sealed under a public-level data key bound to the user; the choices stay plain."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from datetime import datetime, time
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..classification.crypto import FieldContext, WrappedKey
from ..domain.levels import Classification, Role
from ..domain.model import Principal
from ..domain.notifications import (
    DEFAULT_PREFERENCES,
    Channel,
    NotificationPreferences,
    NotifyEvent,
    QuietHours,
    SpacesMode,
)
from ..domain.records import Candidate, PushSubscription
from .sealing import Sealer
from .tables import actors, notification_preferences, push_subscriptions, users


def _pref_context(user_id: str, field: str) -> FieldContext:
    return FieldContext("notification_preferences", user_id, field, "", Classification.PUBLIC)


def _push_context(sub_id: str, user_id: str) -> FieldContext:
    return FieldContext("push_subscriptions", sub_id, "subscription", "",
                        Classification.PUBLIC, bound=(user_id,))


def _hhmm(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


class NotificationRepository:
    def __init__(self, conn: AsyncConnection, sealer: Sealer, digest_key: bytes) -> None:
        self.conn = conn
        self.sealer = sealer
        self.digest_key = digest_key

    # -- preferences -------------------------------------------------------------------
    async def preferences(self, user_id: str) -> NotificationPreferences:
        row = (await self.conn.execute(select(notification_preferences).where(
            notification_preferences.c.user_id == user_id))).first()
        if row is None:
            return DEFAULT_PREFERENCES
        keys = await self.sealer.keys(self.conn, [row.data_key_id]) if row.data_key_id else {}
        return self._preferences(row, keys)

    def _preferences(self, row: Any, keys: dict[str, WrappedKey]) -> NotificationPreferences:
        email = phone = None
        key = keys.get(row.data_key_id) if row.data_key_id else None
        if key is not None and row.email_ct is not None:
            email = self.sealer.open(key, _pref_context(row.user_id, "email"), row.email_ct)
        if key is not None and row.phone_ct is not None:
            phone = self.sealer.open(key, _pref_context(row.user_id, "phone"), row.phone_ct)
        start, end = _hhmm(row.quiet_from), _hhmm(row.quiet_to)
        return NotificationPreferences(
            channels=tuple(Channel(c) for c in row.channels),
            spaces=SpacesMode(row.spaces_mode), space_ids=frozenset(row.space_ids),
            events=frozenset(NotifyEvent(e) for e in row.events),
            quiet_hours=QuietHours(start, end, row.timezone) if start and end else None,
            email=email, phone=phone)

    async def save_preferences(self, user_id: str, prefs: NotificationPreferences,
                               now: datetime) -> None:
        row = (await self.conn.execute(select(notification_preferences.c.data_key_id).where(
            notification_preferences.c.user_id == user_id))).first()
        key_id = row.data_key_id if row else None
        key = (await self.sealer.keys(self.conn, [key_id]))[key_id] if key_id else \
            await self.sealer.new_key(self.conn, Classification.PUBLIC)
        quiet = prefs.quiet_hours
        values = {
            "channels": [c.value for c in prefs.channels], "spaces_mode": prefs.spaces.value,
            "space_ids": sorted(prefs.space_ids), "events": sorted(e.value for e in prefs.events),
            "quiet_from": quiet.start.strftime("%H:%M") if quiet else None,
            "quiet_to": quiet.end.strftime("%H:%M") if quiet else None,
            "timezone": quiet.timezone if quiet else "Europe/Stockholm",
            "data_key_id": key.id,
            "email_ct": self.sealer.seal(key, _pref_context(user_id, "email"), prefs.email)
            if prefs.email else None,
            "phone_ct": self.sealer.seal(key, _pref_context(user_id, "phone"), prefs.phone)
            if prefs.phone else None,
            "updated_at": now,
        }
        if row is None:
            await self.conn.execute(notification_preferences.insert().values(
                user_id=user_id, **values))
        else:
            await self.conn.execute(update(notification_preferences).where(
                notification_preferences.c.user_id == user_id).values(**values))

    async def candidates(self, actor_ids: Sequence[str]) -> list[Candidate]:
        """Every active user of these actors, with preferences and push subscriptions, in
        three round trips (the notice's transaction stays short)."""
        if not actor_ids:
            return []
        rows = (await self.conn.execute(
            select(users.c.id, users.c.actor_id, users.c.username, users.c.role,
                   users.c.clearance, users.c.display_name, users.c.session_epoch,
                   actors.c.clearance_ceiling)
            .join(actors, actors.c.id == users.c.actor_id)
            .where(users.c.actor_id.in_(list(actor_ids)), users.c.active.is_(True))
            .order_by(users.c.id))).all()
        ids = [r.id for r in rows]
        prefs: dict[str, Any] = {}
        subs: dict[str, list[str]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for p in await self.conn.execute(select(notification_preferences).where(
                    notification_preferences.c.user_id.in_(chunk))):
                prefs[p.user_id] = p
            for s in await self.conn.execute(
                    select(push_subscriptions.c.id, push_subscriptions.c.user_id)
                    .where(push_subscriptions.c.user_id.in_(chunk))
                    .order_by(push_subscriptions.c.created_at.desc())):
                subs.setdefault(s.user_id, []).append(s.id)
        keys = await self.sealer.keys(
            self.conn, [p.data_key_id for p in prefs.values() if p.data_key_id])
        result = []
        for r in rows:
            principal = Principal(r.id, r.actor_id, r.username, Role(r.role),
                                  Classification(r.clearance),
                                  Classification(r.clearance_ceiling), True, r.display_name,
                                  int(r.session_epoch))
            pref = self._preferences(prefs[r.id], keys) if r.id in prefs \
                else DEFAULT_PREFERENCES
            result.append(Candidate(principal, pref, tuple(subs.get(r.id, ()))))
        return result

    # -- push subscriptions ------------------------------------------------------------
    def _digest(self, endpoint: str) -> str:
        return hmac.new(self.digest_key, b"push-endpoint|" + endpoint.encode(),
                        hashlib.sha256).hexdigest()

    async def add_push(self, user_id: str, endpoint: str, keys: dict[str, str],
                       now: datetime) -> str:
        """Store (or re-own) the browser's subscription; the same endpoint is one row."""
        digest = self._digest(endpoint)
        await self.conn.execute(delete(push_subscriptions).where(
            push_subscriptions.c.endpoint_digest == digest))
        sub_id = str(uuid.uuid4())
        key = await self.sealer.new_key(self.conn, Classification.PUBLIC)
        blob = json.dumps({"endpoint": endpoint, "keys": keys}, separators=(",", ":"))
        await self.conn.execute(push_subscriptions.insert().values(
            id=sub_id, user_id=user_id, endpoint_digest=digest, data_key_id=key.id,
            subscription_ct=self.sealer.seal(key, _push_context(sub_id, user_id), blob),
            created_at=now))
        return sub_id

    async def remove_push(self, user_id: str, endpoint: str) -> bool:
        result = await self.conn.execute(delete(push_subscriptions).where(
            push_subscriptions.c.endpoint_digest == self._digest(endpoint),
            push_subscriptions.c.user_id == user_id))
        return bool(result.rowcount)

    async def drop_push(self, sub_id: str) -> None:
        """The push service said the subscription is gone (404/410)."""
        await self.conn.execute(delete(push_subscriptions).where(
            push_subscriptions.c.id == sub_id))

    async def push_subscription(self, sub_id: str) -> PushSubscription | None:
        row = (await self.conn.execute(select(push_subscriptions).where(
            push_subscriptions.c.id == sub_id))).first()
        if row is None:
            return None
        key = (await self.sealer.keys(self.conn, [row.data_key_id]))[row.data_key_id]
        doc = json.loads(self.sealer.open(key, _push_context(row.id, row.user_id),
                                          row.subscription_ct))
        return PushSubscription(row.id, row.user_id, doc["endpoint"], doc["keys"],
                                row.created_at)

    async def push_of_user(self, user_id: str) -> list[str]:
        rows = await self.conn.execute(select(push_subscriptions.c.id).where(
            push_subscriptions.c.user_id == user_id))
        return [r.id for r in rows]

    async def push_list(self, user_id: str) -> list[PushSubscription]:
        """The user's subscriptions, newest first (at most the per-user limit, so opening
        each is cheap)."""
        rows = (await self.conn.execute(select(push_subscriptions).where(
            push_subscriptions.c.user_id == user_id).order_by(
                push_subscriptions.c.created_at.desc(), push_subscriptions.c.id))).all()
        keys = await self.sealer.keys(self.conn, [r.data_key_id for r in rows])
        result = []
        for row in rows:
            doc = json.loads(self.sealer.open(keys[row.data_key_id],
                                              _push_context(row.id, row.user_id),
                                              row.subscription_ct))
            result.append(PushSubscription(row.id, row.user_id, doc["endpoint"], doc["keys"],
                                           row.created_at))
        return result

    async def push_owner(self, endpoint: str) -> str | None:
        """Which user holds this endpoint, if any (the digest, never the endpoint, is
        compared)."""
        row = (await self.conn.execute(select(push_subscriptions.c.user_id).where(
            push_subscriptions.c.endpoint_digest == self._digest(endpoint)))).first()
        return None if row is None else str(row.user_id)
