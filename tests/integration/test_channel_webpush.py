"""Web Push end to end through a real push-service peer (`web-push-testing` on Node), which
verifies our VAPID JWT against the subscription's key and decrypts the aes128gcm payload:
the decrypted payload, the headers we send (TTL, Urgency, Topic, VAPID claims), 410 after the
subscription expires, a wrong key refused, and no classified plaintext in what the phone gets."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.peers.push_service import PushService
from tests.peers.scan import leaks
from wis_server.channels.errors import InvalidAddress, PermanentError, SubscriptionGone
from wis_server.channels.ports import Message, PushSubscription
from wis_server.channels.render import render
from wis_server.channels.settings import PushSettings
from wis_server.channels.webpush import WebPushChannel, topic_header, vapid_claims
from wis_server.classification.channel_policy import ChannelKind, MessageContent, apply
from wis_server.classification.keys import generate_keyring
from wis_server.domain.levels import Classification

TITLE = "Skottlossning Rinkeby centrum"
BODY = "Polisen har spärrat av Rinkeby torg; två skadade förs till Karolinska."
AUTHOR = "Insatschef Berit Polis"
SPACE = "Rinkeby 2026-12"
SECRETS = [TITLE, BODY, AUTHOR, SPACE, "Rinkeby", "Karolinska", "Berit", "spärrat"]
LINK = "https://wis.example/spaces/5e0a"


@pytest.fixture(scope="module")
def push_service() -> Iterator[PushService]:
    service = PushService().start()
    try:
        yield service
    finally:
        service.stop()


class Recorded:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)


def channel(recorded: Recorded | None = None, vapid: bytes | None = None) -> WebPushChannel:
    client = httpx.AsyncClient(timeout=20, event_hooks={"request": [recorded]} if recorded
                               else None)
    pem = vapid or generate_keyring().vapid_private_pem
    assert pem is not None
    return WebPushChannel(PushSettings("mailto:wis@kommun.example"), pem, client=client,
                          allow_http_endpoints=True)


def message(level: Classification, subscription: PushSubscription, **kw: object) -> Message:
    content = MessageContent(level=level, body=BODY, title=TITLE, author=AUTHOR,
                             space_title=SPACE, link=LINK, code="K2P9")
    rendered = render(apply(ChannelKind.PUSH, content),
                      channel().capabilities)
    return Message(str(kw.get("delivery_id", "d-push-1")), subscription, rendered,
                   topic=kw.get("topic", "space-5e0a"),  # type: ignore[arg-type]
                   ttl_s=3600, urgency="high")


def subscription(service: PushService, push: WebPushChannel) -> tuple[PushSubscription, str]:
    data = service.subscribe(push.application_server_key)
    return PushSubscription(data["endpoint"], data["keys"]["p256dh"],
                            data["keys"]["auth"]), data["clientHash"]


def jwt_claims(authorization: str) -> dict[str, object]:
    token = authorization.split("t=", 1)[1].split(",", 1)[0]
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


async def test_public_notice_is_decrypted_by_the_push_service(push_service: PushService) -> None:
    recorded = Recorded()
    push = channel(recorded)
    sub, client_hash = subscription(push_service, push)
    sent = message(Classification.PUBLIC, sub)
    receipt = await push.send(sent)
    await push.aclose()
    assert receipt.channel is ChannelKind.PUSH and receipt.delivery_id == "d-push-1"
    [decrypted] = push_service.notifications(client_hash)
    assert json.loads(decrypted) == {"title": TITLE, "body": sent.rendered.text, "url": LINK,
                                     "tag": "space-5e0a"}
    assert sent.rendered.text.startswith(BODY) and "K2P9" in sent.rendered.text
    [request] = recorded.requests
    assert request.headers["TTL"] == "3600" and request.headers["Urgency"] == "high"
    assert request.headers["Content-Encoding"] == "aes128gcm"
    assert request.headers["Topic"] == topic_header("space-5e0a")
    assert len(request.headers["Topic"]) <= 32
    assert leaks(request.content, SECRETS) == []  # the push service sees only ciphertext
    claims = jwt_claims(request.headers["Authorization"])
    assert claims["aud"] == push_service.url and claims["sub"] == "mailto:wis@kommun.example"
    exp = datetime.fromtimestamp(int(claims["exp"]), UTC)  # type: ignore[call-overload]
    assert timedelta(0) < exp - datetime.now(UTC) <= timedelta(hours=24)
    assert request.headers["Authorization"].endswith("k=" + push.application_server_key)


@pytest.mark.parametrize("level", [Classification.SEKRETESS, Classification.HEMLIG])
async def test_classified_notice_reaches_the_phone_as_a_pointer_only(
        push_service: PushService, level: Classification) -> None:
    push = channel()
    sub, client_hash = subscription(push_service, push)
    await push.send(message(level, sub))
    await push.aclose()
    [decrypted] = push_service.notifications(client_hash)
    assert leaks(decrypted, SECRETS) == []
    doc = json.loads(decrypted)
    assert doc["title"] == "WIS" and doc["url"] == LINK
    assert doc["body"].startswith(f"Ny information i WIS ({level.value.upper()}) – logga in")


async def test_expired_subscription_is_gone(push_service: PushService) -> None:
    push = channel()
    sub, client_hash = subscription(push_service, push)
    await push.send(message(Classification.PUBLIC, sub))
    push_service.expire(client_hash)
    with pytest.raises(SubscriptionGone) as info:
        await push.send(message(Classification.PUBLIC, sub, delivery_id="d-2"))
    await push.aclose()
    assert info.value.code == "subscription_gone" and not info.value.retryable
    assert len(push_service.notifications(client_hash)) == 1


async def test_jwt_signed_with_another_key_is_refused(push_service: PushService) -> None:
    subscribed = channel()
    sub, client_hash = subscription(push_service, subscribed)
    other = channel()  # a different VAPID key than the one the browser subscribed with
    with pytest.raises(PermanentError):
        await other.send(message(Classification.PUBLIC, sub))
    await other.aclose()
    await subscribed.aclose()
    assert push_service.notifications(client_hash) == []


async def test_resend_keeps_the_topic_of_its_delivery(push_service: PushService) -> None:
    recorded = Recorded()
    push = channel(recorded)
    sub, _ = subscription(push_service, push)
    for _ in range(2):
        await push.send(message(Classification.PUBLIC, sub, topic=None, delivery_id="d-77"))
    await push.aclose()
    topics = {r.headers["Topic"] for r in recorded.requests}
    assert topics == {topic_header("d-77")}


async def test_bad_subscriptions_are_refused_before_any_request() -> None:
    recorded = Recorded()
    push = channel(recorded)
    good = PushSubscription("https://push.example/x", "B" + "A" * 86, "A" * 22)
    for bad in (good.__class__("ftp://push.example/x", good.p256dh, good.auth),
                good.__class__(good.endpoint, "AAAA", good.auth),
                good.__class__(good.endpoint, good.p256dh, "AAAA")):
        with pytest.raises(InvalidAddress):
            await push.send(message(Classification.PUBLIC, bad))
    https_only = WebPushChannel(PushSettings("mailto:a@b.example"),
                                generate_keyring().vapid_private_pem or b"")
    with pytest.raises(InvalidAddress):
        await https_only.send(message(Classification.PUBLIC,
                                      good.__class__("http://localhost:1/x", good.p256dh,
                                                     good.auth)))
    await https_only.aclose()
    await push.aclose()
    assert recorded.requests == []


def test_vapid_claims_with_an_injected_clock() -> None:
    now = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    claims = vapid_claims("https://fcm.googleapis.com/fcm/send/abc", "mailto:a@b.example", now)
    assert claims == {"aud": "https://fcm.googleapis.com", "sub": "mailto:a@b.example",
                      "exp": int((now + timedelta(hours=12)).timestamp())}
