"""SMS through a local gateway that follows 46elks' published API: the exact form we POST,
Basic auth, E.164 numbers, receipts, delivery reports and replies back through our webhook
parsers, error mapping, cutting within the part limit, and a byte scan for classified text."""

from __future__ import annotations

import socket
from urllib.parse import parse_qsl

import httpx
import pytest

from tests.peers.scan import leaks
from tests.peers.sms_gateway import SmsGateway, WebhookReceiver
from wis_server.channels.errors import (
    ChannelUnavailable,
    InvalidAddress,
    PermanentError,
    TransientError,
)
from wis_server.channels.ports import Message
from wis_server.channels.render import render, sms_shape
from wis_server.channels.settings import Secret, SmsSettings
from wis_server.channels.sms import SmsChannel, inbound_webhook_url
from wis_server.channels.sms_webhooks import (
    ReplyKind,
    ReportStatus,
    parse_delivery_report,
    parse_inbound,
    parse_reply,
    secret_matches,
)
from wis_server.classification.channel_policy import ChannelKind, MessageContent, apply
from wis_server.domain.levels import Classification

SECRET = "hook-secret-0123456789"
TITLE = "Hot mot vattenverk Lovö"
BODY = "Säpo bedömer hotet mot Lovö vattenverk som förhöjt; bevakning förstärks natten."
AUTHOR = "Kalle Beredskapssamordnare"
SPACE = "Lovö hot 2026"
SECRETS = [TITLE, BODY, AUTHOR, SPACE, "Lovö", "vattenverk", "Säpo", "bevakning", "Kalle"]
LINK = "https://wis.example/s/9c1d"


def channel(gateway: SmsGateway, public_url: str = "https://wis.example", *,
            password: str | None = None, client: httpx.AsyncClient | None = None) -> SmsChannel:
    settings = SmsSettings(gateway.url, gateway.user, Secret(password or gateway.password),
                           "WIS", Secret(SECRET), max_parts=3, timeout_s=20)
    return SmsChannel(settings, public_url, client=client)


def message(sms: SmsChannel, level: Classification = Classification.PUBLIC, *,
            body: str = BODY, to: str = "070-123 45 67", delivery_id: str = "d-1") -> Message:
    content = MessageContent(level=level, body=body, title=TITLE, author=AUTHOR,
                             space_title=SPACE, link=LINK, code="7Q4K")
    return Message(delivery_id, to, render(apply(ChannelKind.SMS, content), sms.capabilities))


async def test_send_posts_the_46elks_form_and_returns_the_provider_id() -> None:
    async with SmsGateway() as gateway:
        sms = channel(gateway)
        receipt = await sms.send(message(sms))
        await sms.aclose()
    [sent] = gateway.sent
    form = dict(parse_qsl(sent.raw.decode()))
    assert set(form) == {"from", "to", "message", "whendelivered", "dontlog"}
    assert form["from"] == "WIS" and form["to"] == "+46701234567"
    assert form["whendelivered"] == \
        f"https://wis.example/api/v1/channels/sms/delivery/{SECRET}?delivery=d-1"
    assert form["dontlog"] == "message"
    assert receipt.provider_id == sent.id and receipt.status == "sent"
    assert receipt.parts == sent.parts == sms_shape(form["message"]).parts
    assert form["message"].startswith(f"{TITLE}: {BODY}")  # public: full text
    assert form["message"].endswith(f"Svara OK 7Q4K för att kvittera\n{LINK}")


@pytest.mark.parametrize("level", [Classification.SEKRETESS, Classification.HEMLIG])
async def test_classified_leaves_as_a_pointer_only(level: Classification) -> None:
    async with SmsGateway() as gateway:
        sms = channel(gateway)
        await sms.send(message(sms, level))
        await sms.aclose()
    assert leaks(b"".join(gateway.requests), SECRETS) == []
    [sent] = gateway.sent
    assert sent.message == (f"Ny information i WIS ({level.value.upper()}) - logga in för att "
                            f"läsa\nSvara OK 7Q4K för att kvittera\n{LINK}")
    assert sent.parts == 1  # the pointer stays one 7-bit part


async def test_scanner_positive_control() -> None:
    async with SmsGateway() as gateway:
        sms = channel(gateway)
        await sms.send(message(sms))
        await sms.aclose()
    # SMS carries title and body (no author or space line: it is short), all found encoded.
    found = leaks(b"".join(gateway.requests), SECRETS)
    assert {TITLE, BODY, "Lovö", "vattenverk", "Säpo", "bevakning"} <= set(found)


async def test_long_message_is_cut_within_three_parts_keeping_code_and_link() -> None:
    async with SmsGateway() as gateway:
        sms = channel(gateway)
        await sms.send(message(sms, body="Översvämning vid Ålandsvägen, väg stängd. " * 30))
        await sms.aclose()
    [sent] = gateway.sent
    assert sent.parts == 3
    assert sent.message.endswith(f"...\nSvara OK 7Q4K för att kvittera\n{LINK}")


async def test_delivery_report_and_reply_round_trip_through_our_parsers() -> None:
    async with WebhookReceiver() as ours, SmsGateway() as gateway:
        sms = channel(gateway, ours.url)
        receipt = await sms.send(message(sms, delivery_id="dlv-77"))
        await sms.aclose()
        answer = await gateway.report(receipt.provider_id or "", "delivered")
        assert answer.status_code == 204
        answer = await gateway.reply(inbound_webhook_url(ours.url, SECRET), "+46701234567",
                                     "+46766860000", "ok  7q4k")
        assert answer.status_code == 204 and answer.content == b""
    (path, query, form), (reply_path, _, reply_form) = ours.posts
    assert path == f"/api/v1/channels/sms/delivery/{SECRET}"
    assert secret_matches(path.rsplit("/", 1)[1], SECRET)
    report = parse_delivery_report(form, query)
    assert report.provider_id == receipt.provider_id and report.delivery_id == "dlv-77"
    assert report.status is ReportStatus.DELIVERED and report.delivered_at is not None
    assert reply_path == f"/api/v1/channels/sms/inbound/{SECRET}"
    inbound = parse_inbound(reply_form)
    assert inbound.sender == "+46701234567"
    assert parse_reply(inbound.text).kind is ReplyKind.ACKNOWLEDGE
    assert parse_reply(inbound.text).code == "7Q4K"


async def test_resend_carries_the_same_delivery_reference() -> None:
    async with SmsGateway() as gateway:
        sms = channel(gateway)
        gateway.fail_next(503)
        with pytest.raises(TransientError):
            await sms.send(message(sms, delivery_id="same-1"))
        await sms.send(message(sms, delivery_id="same-1"))
        await sms.aclose()
    bodies = [dict(parse_qsl(raw.decode())) for raw in gateway.requests]
    assert [b["whendelivered"] for b in bodies] == [bodies[0]["whendelivered"]] * 2
    assert bodies[0]["whendelivered"].endswith("?delivery=same-1")


async def test_error_mapping() -> None:
    async with SmsGateway() as gateway:
        sms = channel(gateway)
        gateway.fail_next(429)
        with pytest.raises(TransientError) as transient:
            await sms.send(message(sms))
        assert transient.value.retryable
        gateway.fail_next(400)
        with pytest.raises(PermanentError) as permanent:
            await sms.send(message(sms))
        assert not permanent.value.retryable and permanent.value.code == "sms_rejected"
        wrong = channel(gateway, password="wrong-password")
        with pytest.raises(ChannelUnavailable) as refused:
            await wrong.send(message(wrong))
        assert refused.value.code == "sms_auth_refused" and "wrong" not in str(refused.value)
        requests_before = len(gateway.requests)
        for bad in ("12", "not a number", "+4670"):
            with pytest.raises(InvalidAddress):
                await sms.send(message(sms, to=bad))
        assert len(gateway.requests) == requests_before  # refused before any request
        await sms.aclose()
        await wrong.aclose()
    assert gateway.sent == []


async def test_unreachable_api_is_channel_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        gateway = SmsGateway()
        gateway.port = sock.getsockname()[1]  # bound, never listening
        sms = channel(gateway)
        with pytest.raises(ChannelUnavailable):
            await sms.send(message(sms))
        await sms.aclose()
