"""Web Push (RFC 8030 delivery, RFC 8291 `aes128gcm` encryption, RFC 8292 VAPID) over httpx.

The payload is encrypted with http-ece and signed with py-vapid — no hand-written RFC 8291.
The VAPID key comes from the keyring (never the database). Each message carries:
  TTL (required), Urgency, Content-Encoding: aes128gcm, and a Topic (≤ 32 base64url
  characters, a hash of the message's topic, or of its delivery id when it has none), so a
  newer notice on the same topic replaces an unread older one, and a resend of the same
  delivery replaces its own pending copy instead of showing twice.
404/410 from the push service mean the subscription is gone: SubscriptionGone (delete it).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import http_ece
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from ..classification.channel_policy import ChannelKind
from .errors import (
    InvalidAddress,
    MessageTooLong,
    PermanentError,
    SubscriptionGone,
    TransientError,
)
from .memory import DEFAULT_CAPABILITIES
from .ports import Capabilities, Message, PushSubscription, Receipt, Rendered
from .settings import PushSettings

MAX_PLAINTEXT = 3993  # one 4096-byte aes128gcm record (RFC 8291 §4)
URGENCIES = ("very-low", "low", "normal", "high")
JWT_LIFETIME = timedelta(hours=12)  # RFC 8292: at most 24 h
JWT_RENEW_BEFORE = timedelta(hours=1)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def topic_header(topic: str) -> str:
    """RFC 8030 Topic: at most 32 characters of the base64url alphabet."""
    return b64url(hashlib.sha256(topic.encode()).digest())[:32]


def payload(rendered: Rendered, tag: str | None) -> bytes:
    """What the service worker receives: {"title", "body", "url", "tag"} as UTF-8 JSON."""
    doc = {"title": rendered.subject, "body": rendered.text, "url": rendered.url, "tag": tag}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def audience(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def vapid_claims(endpoint: str, subject: str, now: datetime) -> dict[str, object]:
    return {"aud": audience(endpoint), "sub": subject,
            "exp": int((now + JWT_LIFETIME).timestamp())}


class WebPushChannel:
    def __init__(self, settings: PushSettings, vapid_private_pem: bytes, *,
                 client: httpx.AsyncClient | None = None,
                 clock: Callable[[], datetime] | None = None,
                 allow_http_endpoints: bool = False) -> None:
        self._settings = settings
        self._vapid = Vapid02.from_pem(vapid_private_pem)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=settings.timeout_s)
        self._allow_http = allow_http_endpoints  # tests' local push service only
        self._jwts: dict[str, tuple[datetime, str]] = {}

    @property
    def kind(self) -> ChannelKind:
        return ChannelKind.PUSH

    @property
    def capabilities(self) -> Capabilities:
        return DEFAULT_CAPABILITIES[ChannelKind.PUSH]

    @property
    def application_server_key(self) -> str:
        """The VAPID public key, base64url: what the browser passes to subscribe()."""
        public = self._vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return b64url(public)

    def _authorization(self, endpoint: str) -> str:
        aud, now = audience(endpoint), self._clock()
        cached = self._jwts.get(aud)
        if cached is None or cached[0] - now < JWT_RENEW_BEFORE:
            header = self._vapid.sign(vapid_claims(endpoint, self._settings.subject, now))
            cached = (now + JWT_LIFETIME, str(header["Authorization"]))
            self._jwts[aud] = cached
        return cached[1]

    def _check(self, to: object) -> PushSubscription:
        if not isinstance(to, PushSubscription):
            raise InvalidAddress("not a push subscription", code="invalid_subscription")
        parts = urlsplit(to.endpoint)
        if parts.scheme != "https" and not (self._allow_http and parts.scheme == "http"):
            raise InvalidAddress("push endpoints must be https", code="invalid_subscription")
        try:
            ua_public, auth = unb64url(to.p256dh), unb64url(to.auth)
        except ValueError:
            raise InvalidAddress("malformed subscription keys", code="invalid_subscription"
                                 ) from None
        if len(ua_public) != 65 or ua_public[0] != 4 or len(auth) != 16:
            raise InvalidAddress("malformed subscription keys", code="invalid_subscription")
        return to

    async def send(self, message: Message) -> Receipt:
        subscription = self._check(message.to)
        if message.urgency not in URGENCIES:
            raise PermanentError("unknown urgency", code="invalid_urgency")
        topic = message.topic or message.delivery_id
        plaintext = payload(message.rendered, message.topic)
        if len(plaintext) > MAX_PLAINTEXT:
            raise MessageTooLong("push payload above 3993 bytes")
        body = http_ece.encrypt(
            plaintext, private_key=ec.generate_private_key(ec.SECP256R1()),
            dh=unb64url(subscription.p256dh), auth_secret=unb64url(subscription.auth),
            version="aes128gcm")
        headers = {
            "TTL": str(max(0, message.ttl_s)),
            "Urgency": message.urgency,
            "Topic": topic_header(topic),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Authorization": self._authorization(subscription.endpoint),
        }
        try:
            response = await self._client.post(subscription.endpoint, content=body,
                                               headers=headers)
        except httpx.TimeoutException:
            raise TransientError("push service timed out", code="push_timeout") from None
        except httpx.TransportError:
            raise TransientError("push service unreachable", code="push_unreachable") from None
        status = response.status_code
        if status in (200, 201, 202):
            return Receipt(ChannelKind.PUSH, message.delivery_id,
                           response.headers.get("location"), "sent", 1, self._clock())
        if status in (404, 410):
            raise SubscriptionGone(f"push subscription gone ({status})")
        if status == 413:
            raise MessageTooLong("push service: payload too large")
        if status == 429 or status >= 500:
            retry = response.headers.get("retry-after", "")
            raise TransientError(f"push service {status}", code="push_deferred",
                                 retry_after_s=float(retry) if retry.isdigit() else None)
        raise PermanentError(f"push service rejected the message ({status})",
                             code="push_rejected")

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()
