"""Web Push subscriptions through the API (issue 10.6) on SQLite and PostgreSQL: the VAPID key,
register / list / unregister with problem+json for every bad input (SSRF-shaped endpoints,
wrong key lengths), the per-user limit, audit, sealing at rest — and end to end with the real
push-service peer (web-push-testing): a subscription it created, registered through OUR API, is
sent to through channels.webpush and decrypted by the peer; after the peer expires it, the 410
leads to `forget_gone` deleting it."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import FAST_PASSWORDS, World, make_settings
from tests.peers.push_service import PushService
from wis_server.api.app import create_app
from wis_server.channels.errors import SubscriptionGone
from wis_server.channels.ports import Message, PushSubscription
from wis_server.channels.registry import build_channels
from wis_server.channels.render import render
from wis_server.channels.settings import ChannelSettings, channel_settings
from wis_server.classification.channel_policy import ChannelKind, MessageContent, apply
from wis_server.classification.keys import Keyring
from wis_server.config import load_settings
from wis_server.domain.levels import Classification, Role
from wis_server.storage.tables import audit_log, push_subscriptions

PUSH_ENV = {"WIS_CHANNELS": "push", "WIS_VAPID_SUBJECT": "mailto:wis@kommun.example",
            "WIS_PUSH_ALLOW_LOOPBACK": "true"}
P256DH = base64.urlsafe_b64encode(b"\x04" + bytes(range(1, 65))).rstrip(b"=").decode()
AUTH = base64.urlsafe_b64encode(bytes(range(100, 116))).rstrip(b"=").decode()
URL = "/api/v1/me/push-subscriptions"


def body(endpoint: str, p256dh: str = P256DH, auth: str = AUTH, **extra: Any) -> dict[str, Any]:
    return {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}, **extra}


async def _world(app: Any, client: httpx.AsyncClient) -> World:
    w = World(client, app)
    await w.add_actor("A", Classification.SEKRETESS)
    await w.add_person("anna", "A", Role.EDITOR, Classification.SEKRETESS)
    await w.add_person("bosse", "A", Role.READER, Classification.PUBLIC)
    return w


async def _app_world(tmp_path: Path, database_url: str, keyring: Keyring,
                     env: dict[str, str]) -> AsyncIterator[World]:
    app = create_app(make_settings(tmp_path, database_url, **env), keyring,
                     passwords=FAST_PASSWORDS)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield await _world(app, client)


@pytest.fixture
async def pw(tmp_path: Path, database_url: str, keyring: Keyring) -> AsyncIterator[World]:
    """A server with Web Push on and loopback endpoints allowed (the local test peer)."""
    async for w in _app_world(tmp_path, database_url, keyring, PUSH_ENV):
        yield w


@pytest.fixture
async def strict(tmp_path: Path, database_url: str, keyring: Keyring) -> AsyncIterator[World]:
    """Web Push on, loopback NOT allowed (the production default)."""
    env = {k: v for k, v in PUSH_ENV.items() if k != "WIS_PUSH_ALLOW_LOOPBACK"}
    async for w in _app_world(tmp_path, database_url, keyring, env):
        yield w


@pytest.fixture(scope="module")
def push_service() -> Iterator[PushService]:
    service = PushService().start()
    try:
        yield service
    finally:
        service.stop()


async def test_vapid_key_is_the_keyrings(pw: World, keyring: Keyring) -> None:
    answer = await pw.client.get(f"{URL}/vapid-key", headers=pw["anna"].auth)
    assert answer.status_code == 200
    key = answer.json()["public_key"]
    assert key == keyring.vapid_public_key
    point = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(point) == 65 and point[0] == 4
    assert (await pw.client.get(f"{URL}/vapid-key")).status_code == 401


async def test_push_off_refuses_with_push_disabled(world: World) -> None:
    for answer in (await world.client.get(f"{URL}/vapid-key", headers=world["a_editor"].auth),
                   await world.client.post(URL, json=body("https://push.example.com/x"),
                                           headers=world["a_editor"].auth)):
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "push_disabled"


@pytest.mark.parametrize("endpoint", [
    "http://push.example.com/send/1",          # not https
    "https://10.1.2.3/send/1",                 # private
    "https://192.168.0.10/send/1",
    "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
    "https://[fe80::1]/send/1",
    "https://[fc00::1]/send/1",                # unique local
    "https://0.0.0.0/send/1",
    "https://127.0.0.1/send/1",                # loopback, not allowed on this server
    "https://[::1]/send/1",
    "https://localhost/send/1",
    "https://push.localhost/send/1",
    "https://printer.local/send/1",
    "https://intranet/send/1",                 # a single-label name
    "https://push.example.com:8443/send/1",    # not the https port
    "https://user:pw@push.example.com/send/1",
    "ftp://push.example.com/send/1",
    "https://push.example.com/a b",
    "https:///nohost",
])
async def test_endpoint_that_is_not_a_public_push_service_is_refused(
        strict: World, endpoint: str) -> None:
    answer = await strict.client.post(URL, json=body(endpoint), headers=strict["anna"].auth)
    assert answer.status_code == 422, endpoint
    problem = answer.json()
    assert problem["code"] == "invalid_push_endpoint" and problem["field"] == "endpoint"
    assert (await strict.client.get(URL, headers=strict["anna"].auth)).json()["items"] == []


async def test_loopback_is_allowed_only_when_the_setting_says_so(pw: World) -> None:
    answer = await pw.client.post(URL, json=body("http://127.0.0.1:9/push/1"),
                                  headers=pw["anna"].auth)
    assert answer.status_code == 201
    # still no private network addresses: the setting is about this machine only
    answer = await pw.client.post(URL, json=body("https://10.0.0.1/push/1"),
                                  headers=pw["anna"].auth)
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_push_endpoint"


@pytest.mark.parametrize(("p256dh", "auth", "field"), [
    (P256DH[:-4], AUTH, "keys.p256dh"),                       # too short
    (P256DH + "AAAA", AUTH, "keys.p256dh"),                   # too long
    ("C" + P256DH[1:], AUTH, "keys.p256dh"),                  # not an uncompressed point
    ("+" + P256DH[1:], AUTH, "keys.p256dh"),                  # not base64url
    (P256DH, AUTH[:-2], "keys.auth"),
    (P256DH, AUTH + "AAAA", "keys.auth"),
    (P256DH, "***", "keys.auth"),
])
async def test_keys_of_the_wrong_shape_are_refused(pw: World, p256dh: str, auth: str,
                                                   field: str) -> None:
    answer = await pw.client.post(URL, json=body("https://push.example.com/s/1", p256dh, auth),
                                  headers=pw["anna"].auth)
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_push_key" and answer.json()["field"] == field


async def test_malformed_bodies_are_problems(pw: World) -> None:
    auth = pw["anna"].auth
    for doc, code in [({"endpoint": "https://push.example.com/1"}, "missing_field"),
                      ({**body("https://push.example.com/1"), "x": 1}, "unknown_field"),
                      (body("https://push.example.com/1", expirationTime="soon"), "wrong_type"),
                      ({"endpoint": 5, "keys": {"p256dh": P256DH, "auth": AUTH}},
                       "wrong_type")]:
        answer = await pw.client.post(URL, json=doc, headers=auth)
        assert answer.status_code == 422 and answer.json()["code"] == code, doc


async def test_subscribe_list_unsubscribe_and_audit(pw: World) -> None:
    anna, bo = pw["anna"], pw["bosse"]
    endpoint = "https://fcm.googleapis.com/fcm/send/abc:DEF-123"
    created = await pw.client.post(URL, json=body(endpoint, expirationTime=None),
                                   headers=anna.auth)
    assert created.status_code == 201
    sub_id = created.json()["id"]
    again = await pw.client.post(URL, json=body(endpoint), headers=anna.auth)  # same browser
    assert again.status_code == 201
    listing = await pw.client.get(URL, headers=anna.auth)
    [item] = listing.json()["items"]
    assert item["service"] == "https://fcm.googleapis.com" and item["id"] == again.json()["id"]
    for secret in (P256DH, AUTH, "abc:DEF-123"):  # no keys, no capability URL
        assert secret not in listing.text
    assert (await pw.client.get(URL, headers=bo.auth)).json()["items"] == []
    # somebody else cannot remove it (and learns nothing: the same 404 as for no such thing)
    other = await pw.client.request("DELETE", URL, json={"endpoint": endpoint}, headers=bo.auth)
    assert other.status_code == 404 and other.json()["code"] == "push_subscription_not_found"
    gone = await pw.client.request("DELETE", URL, json={"endpoint": endpoint},
                                   headers=anna.auth)
    assert gone.status_code == 204
    twice = await pw.client.request("DELETE", URL, json={"endpoint": endpoint},
                                    headers=anna.auth)
    assert twice.status_code == 404
    assert (await pw.client.get(URL, headers=anna.auth)).json()["items"] == []
    async with pw.app.state.runtime.store.read() as tx:
        rows = (await tx.conn.execute(select(audit_log.c.action, audit_log.c.target_id,
                                             audit_log.c.user_id).where(
            audit_log.c.action.like("push.%")).order_by(audit_log.c.seq))).all()
    assert [(r.action, r.user_id) for r in rows] == [
        ("push.subscribe", anna.user_id), ("push.subscribe", anna.user_id),
        ("push.unsubscribe", anna.user_id)]
    assert rows[0].target_id == sub_id


async def test_endpoint_and_keys_are_sealed_at_rest(pw: World) -> None:
    endpoint = "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABSECRETTOKEN"
    assert (await pw.client.post(URL, json=body(endpoint), headers=pw["anna"].auth)
            ).status_code == 201
    async with pw.app.state.runtime.store.read() as tx:
        [row] = (await tx.conn.execute(select(push_subscriptions))).all()
    raw = repr(tuple(row)).encode() + bytes(row.subscription_ct)
    for secret in (b"SECRETTOKEN", b"mozilla", P256DH.encode(), AUTH.encode()):
        assert secret not in raw

    assert row.endpoint_digest != hashlib.sha256(endpoint.encode()).hexdigest()  # keyed


async def test_at_most_ten_per_user(pw: World) -> None:
    auth = pw["anna"].auth
    for n in range(10):
        answer = await pw.client.post(URL, json=body(f"https://push.example.com/s/{n}"),
                                      headers=auth)
        assert answer.status_code == 201
    over = await pw.client.post(URL, json=body("https://push.example.com/s/10"), headers=auth)
    assert over.status_code == 409 and over.json()["code"] == "too_many_push_subscriptions"
    # re-registering one she has is not a new one
    assert (await pw.client.post(URL, json=body("https://push.example.com/s/3"), headers=auth)
            ).status_code == 201
    assert len((await pw.client.get(URL, headers=auth)).json()["items"]) == 10
    # another user is not limited by her count
    assert (await pw.client.post(URL, json=body("https://push.example.com/b/1"),
                                 headers=pw["bosse"].auth)).status_code == 201


async def test_real_peer_subscription_via_our_api_is_delivered_then_forgotten_on_410(
        pw: World, keyring: Keyring, tmp_path: Path, database_url: str,
        push_service: PushService) -> None:
    anna = pw["anna"]
    key = (await pw.client.get(f"{URL}/vapid-key", headers=anna.auth)).json()["public_key"]
    data = push_service.subscribe(key)  # what the browser's push service would hand out
    created = await pw.client.post(URL, json={"endpoint": data["endpoint"],
                                              "keys": data["keys"], "expirationTime": None},
                                   headers=anna.auth)
    assert created.status_code == 201, created.text
    sub_id = created.json()["id"]
    async with pw.app.state.runtime.store.read() as tx:
        stored = await tx.notifications.push_subscription(sub_id)
    assert stored is not None and stored.endpoint == data["endpoint"]
    env = {**PUSH_ENV}
    registry = build_channels(_channels(env),
                              vapid_private_pem=keyring.vapid_private_pem)
    push = registry.channels[ChannelKind.PUSH]
    to = PushSubscription(stored.endpoint, stored.keys["p256dh"], stored.keys["auth"])
    content = MessageContent(level=Classification.PUBLIC, body="Vattnet är tillbaka i Rinkeby.",
                             title="Vattenläcka", link="https://wis.example/#/spaces/s1")
    rendered = render(apply(ChannelKind.PUSH, content), push.capabilities)
    try:
        await push.send(Message("d-1", to, rendered, topic="space-s1"))
        [decrypted] = push_service.notifications(data["clientHash"])
        doc = json.loads(decrypted)
        assert doc["title"] == "Vattenläcka" and doc["tag"] == "space-s1"
        assert doc["body"].startswith("Vattnet är tillbaka")
        assert doc["url"] == "https://wis.example/#/spaces/s1"
        push_service.expire(data["clientHash"])
        with pytest.raises(SubscriptionGone):
            await push.send(Message("d-2", to, rendered, topic="space-s1"))
    finally:
        await registry.aclose()
    # what the dispatcher does on SubscriptionGone
    assert await pw.app.state.services.push.forget_gone(sub_id) is True
    assert await pw.app.state.services.push.forget_gone(sub_id) is False  # idempotent
    assert (await pw.client.get(URL, headers=anna.auth)).json()["items"] == []
    async with pw.app.state.runtime.store.read() as tx:
        assert await tx.notifications.push_subscription(sub_id) is None
        actions = (await tx.conn.execute(select(audit_log.c.action).where(
            audit_log.c.target_id == sub_id).order_by(audit_log.c.seq))).scalars().all()
    assert actions == ["push.subscribe", "push.gone"]


def _channels(env: dict[str, str]) -> ChannelSettings:
    """Channel settings as the runtime gets them: through the config sections (which read
    WIS_PUBLIC_URL and WIS_SMS_WEBHOOK_SECRET once)."""
    return channel_settings(load_settings(env))
