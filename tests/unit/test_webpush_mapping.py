"""Web Push answers the test peer cannot give (RFC 8030 §5-§8: 404, 413, 429 with Retry-After,
5xx, 403) mapped to retry-or-not, transport failures, the payload limit, and the VAPID JWT
cached per push service until an hour before it expires (injected clock)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wis_server.channels.errors import (
    ChannelError,
    MessageTooLong,
    PermanentError,
    SubscriptionGone,
    TransientError,
)
from wis_server.channels.ports import Message, PushSubscription, Rendered
from wis_server.channels.settings import PushSettings
from wis_server.channels.webpush import WebPushChannel
from wis_server.classification.keys import generate_keyring


def subscription(endpoint: str = "https://push.example/sub/1") -> PushSubscription:
    key = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    return PushSubscription(endpoint, b64(key), b64(b"0123456789abcdef"))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def channel(handler: object, clock: Clock | None = None) -> WebPushChannel:
    transport = httpx.MockTransport(handler)  # type: ignore[arg-type]
    pem = generate_keyring().vapid_private_pem
    assert pem is not None
    return WebPushChannel(PushSettings("mailto:wis@kommun.example"), pem,
                          client=httpx.AsyncClient(transport=transport), clock=clock)


def message(text: str = "hej", **kw: object) -> Message:
    return Message("d-1", kw.get("to", subscription()), Rendered("WIS", text),  # type: ignore[arg-type]
                   urgency=str(kw.get("urgency", "normal")))


@pytest.mark.parametrize(("status", "headers", "error", "retry_after"), [
    (404, {}, SubscriptionGone, None),
    (410, {}, SubscriptionGone, None),
    (413, {}, MessageTooLong, None),
    (429, {"Retry-After": "30"}, TransientError, 30.0),
    (503, {}, TransientError, None),
    (403, {}, PermanentError, None),
    (400, {}, PermanentError, None),
])
async def test_status_mapping(status: int, headers: dict[str, str], error: type[ChannelError],
                              retry_after: float | None) -> None:
    push = channel(lambda request: httpx.Response(status, headers=headers))
    with pytest.raises(error) as info:
        await push.send(message())
    assert type(info.value) is error or issubclass(type(info.value), error)
    assert info.value.retry_after_s == retry_after
    assert info.value.retryable is (error is TransientError)


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
async def test_transport_failures_are_transient(failure: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    with pytest.raises(TransientError):
        await channel(handler).send(message())


async def test_created_returns_location_as_provider_id() -> None:
    push = channel(lambda r: httpx.Response(201, headers={"Location": "https://push.example/m/9"}))
    receipt = await push.send(message())
    assert receipt.provider_id == "https://push.example/m/9" and receipt.status == "sent"


async def test_payload_limit_and_urgency_checked_before_sending() -> None:
    calls: list[httpx.Request] = []
    push = channel(lambda r: calls.append(r) or httpx.Response(201))  # type: ignore[func-returns-value]
    with pytest.raises(MessageTooLong):
        await push.send(message("x" * 4000))
    with pytest.raises(PermanentError):
        await push.send(message(urgency="urgent"))
    assert calls == []


async def test_jwt_is_cached_per_service_and_renewed_before_expiry() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(201)

    clock = Clock()
    push = channel(handler, clock)
    await push.send(message())
    clock.now += timedelta(hours=10)
    await push.send(message())  # 2 h left: still the same token
    clock.now += timedelta(hours=1, minutes=1)
    await push.send(message())  # under an hour left: a new token
    await push.send(message(to=subscription("https://other.example/s")))  # another audience
    assert seen[0] == seen[1] and seen[2] != seen[1]

    def claims(header: str) -> dict[str, object]:
        body = header.split("t=", 1)[1].split(",", 1)[0].split(".")[1]
        return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))

    assert claims(seen[0])["aud"] == "https://push.example"
    assert claims(seen[3])["aud"] == "https://other.example"
    assert claims(seen[2])["exp"] == int((clock.now + timedelta(hours=12)).timestamp())
