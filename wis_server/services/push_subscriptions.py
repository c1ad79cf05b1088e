"""A user's own Web Push subscriptions (issue 10.6): register a browser, list, unregister, and
forget one the push service says is gone (404/410 — the dispatcher calls `forget_gone`).

The endpoint is a capability URL that our server will later POST to, so it is checked here as
an SSRF risk: https only, port 443, a host name or a public address — never loopback,
private, link-local or reserved — unless `allow_loopback` (WIS_PUSH_ALLOW_LOOPBACK, for a
local test push service) lets 127.0.0.1/::1/localhost through (then also over http, on any
port). A host NAME is not resolved here (it would be stale by send time); the push services
browsers use are public names."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from ..domain.audit import AuditRecord
from ..domain.codes import Code
from ..domain.errors import Conflict, NotFound, ValidationFailed
from ..domain.model import Principal
from ..domain.records import PushSubscription
from .ports import Clock, Transaction, UnitOfWork

MAX_PER_USER = 10
MAX_ENDPOINT = 1000
P256DH_BYTES = 65  # an uncompressed P-256 point (RFC 8291 §3.1)
AUTH_BYTES = 16    # the authentication secret (RFC 8291 §3.2)
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class PushStore(Protocol):
    """The narrow storage port: what this service needs of storage.notifications."""

    async def add_push(self, user_id: str, endpoint: str, keys: dict[str, str],
                       now: datetime) -> str: ...
    async def remove_push(self, user_id: str, endpoint: str) -> bool: ...
    async def drop_push(self, sub_id: str) -> None: ...
    async def push_subscription(self, sub_id: str) -> PushSubscription | None: ...
    async def push_list(self, user_id: str) -> list[PushSubscription]: ...
    async def push_owner(self, endpoint: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    """What the owner sees of a subscription: never its keys, never the full endpoint (a
    capability URL), only the push service's origin."""

    id: str
    service: str
    created_at: datetime


def _b64url_bytes(value: str, field: str) -> bytes:
    if not value or any(ch not in _B64URL for ch in value.rstrip("=")):
        raise ValidationFailed(f"{field} must be base64url", code=Code.INVALID_PUSH_KEY,
                               field=field)
    try:
        return base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise ValidationFailed(f"{field} must be base64url", code=Code.INVALID_PUSH_KEY,
                               field=field) from None


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(endpoint: str, *, allow_loopback: bool) -> str:
    """The endpoint as given, if it may be stored; ValidationFailed(invalid_push_endpoint)."""
    def refuse(why: str) -> ValidationFailed:
        return ValidationFailed(why, code=Code.INVALID_PUSH_ENDPOINT, field="endpoint")

    if len(endpoint) > MAX_ENDPOINT or any(ord(ch) < 33 or ord(ch) == 127 for ch in endpoint):
        raise refuse("endpoint must be a URL of at most 1000 printable characters")
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise refuse("endpoint is not a valid URL") from None
    host = (parts.hostname or "").lower().rstrip(".")
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        raise refuse("endpoint must be a plain https URL with a host")
    if _is_loopback(host):
        if not allow_loopback:
            raise refuse("endpoint must name a public push service")
        if parts.scheme not in ("https", "http"):
            raise refuse("endpoint must be an https URL")
        return endpoint
    if parts.scheme != "https":
        raise refuse("endpoint must be an https URL")
    if port not in (None, 443):
        raise refuse("endpoint must use the https port (443)")
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if "." not in host or host.endswith((".local", ".internal", ".lan", ".home.arpa")):
            raise refuse("endpoint must name a public push service") from None
        return endpoint
    if not address.is_global or address.is_multicast:
        raise refuse("endpoint must name a public push service")
    return endpoint


def check_keys(p256dh: str, auth: str) -> dict[str, str]:
    point = _b64url_bytes(p256dh, "keys.p256dh")
    if len(point) != P256DH_BYTES or point[0] != 0x04:
        raise ValidationFailed("keys.p256dh must be a 65-byte uncompressed P-256 public key",
                               code=Code.INVALID_PUSH_KEY, field="keys.p256dh")
    if len(_b64url_bytes(auth, "keys.auth")) != AUTH_BYTES:
        raise ValidationFailed("keys.auth must be a 16-byte secret", code=Code.INVALID_PUSH_KEY,
                               field="keys.auth")
    return {"p256dh": p256dh, "auth": auth}


def _origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


class PushSubscriptions:
    def __init__(self, store: UnitOfWork, clock: Clock, *, vapid_public_key: str | None,
                 enabled: bool, allow_loopback: bool = False,
                 max_per_user: int = MAX_PER_USER) -> None:
        self.store = store
        self.clock = clock
        self._vapid_public_key = vapid_public_key
        self.enabled = enabled  # WIS_CHANNELS includes push (or is memory)
        self.allow_loopback = allow_loopback
        self.max_per_user = max_per_user

    def vapid_public_key(self) -> str:
        """The applicationServerKey the browser subscribes with (base64url)."""
        if not self.enabled or self._vapid_public_key is None:
            raise NotFound("Web Push is not enabled on this server", code=Code.PUSH_DISABLED)
        return self._vapid_public_key

    async def subscribe(self, principal: Principal, endpoint: str, p256dh: str,
                        auth: str) -> str:
        """UnitOfWork (or re-own) the browser's subscription; the same endpoint is one row."""
        self.vapid_public_key()  # push must be on
        check_endpoint(endpoint, allow_loopback=self.allow_loopback)
        keys = check_keys(p256dh, auth)
        now = self.clock()
        async with self.store.write() as tx:
            port: PushStore = tx.notifications
            previous = await port.push_owner(endpoint)
            if previous != principal.user_id and \
                    len(await port.push_list(principal.user_id)) >= self.max_per_user:
                raise Conflict(f"at most {self.max_per_user} push subscriptions per user; "
                               "remove one first", code=Code.TOO_MANY_PUSH_SUBSCRIPTIONS)
            sub_id = await port.add_push(principal.user_id, endpoint, keys, now)
            await tx.audit.append(AuditRecord(
                "push.subscribe", user_id=principal.user_id, actor_id=principal.actor_id,
                target_type="push_subscription", target_id=sub_id,
                detail={"service": _origin(endpoint),
                        "replaced": "own" if previous == principal.user_id
                        else "other_user" if previous else "none"}), now)
        return sub_id

    async def unsubscribe(self, principal: Principal, endpoint: str) -> None:
        now = self.clock()
        async with self.store.write() as tx:
            port: PushStore = tx.notifications
            if not await port.remove_push(principal.user_id, endpoint):
                raise NotFound("no such push subscription", code=Code.PUSH_SUBSCRIPTION_NOT_FOUND)
            await tx.audit.append(AuditRecord(
                "push.unsubscribe", user_id=principal.user_id, actor_id=principal.actor_id,
                target_type="push_subscription",
                detail={"service": _origin(endpoint)}), now)

    async def mine(self, principal: Principal) -> list[SubscriptionInfo]:
        async with self.store.read() as tx:
            port: PushStore = tx.notifications
            return [SubscriptionInfo(s.id, _origin(s.endpoint), s.created_at)
                    for s in await port.push_list(principal.user_id)]

    async def forget_gone(self, subscription_id: str) -> bool:
        """The push service answered 404/410 for this subscription: delete it (idempotent;
        False if it was already gone). The outbox dispatcher does the same in its own
        transaction through `forget_gone_in`."""
        async with self.store.write() as tx:
            return await forget_gone_in(tx, subscription_id, self.clock())


async def forget_gone_in(tx: Transaction, subscription_id: str, now: datetime) -> bool:
    """Delete a subscription the push service reports gone, on the audit trail."""
    port: PushStore = tx.notifications
    sub = await port.push_subscription(subscription_id)
    if sub is None:
        return False
    await port.drop_push(subscription_id)
    await tx.audit.append(AuditRecord(
        "push.gone", user_id=sub.user_id, target_type="push_subscription",
        target_id=subscription_id, detail={"service": _origin(sub.endpoint)}), now)
    return True
