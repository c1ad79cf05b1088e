"""One classified notice in an exercise space, sent to the same reader over all three real
channels through the policy and the renderer: every byte each peer received (and what the
phone decrypted) is free of the item's plaintext, and every message starts with ÖVNING."""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from email import policy

import httpx
import pytest

from tests.peers.push_service import PushService
from tests.peers.scan import leaks
from tests.peers.sms_gateway import SmsGateway
from tests.peers.smtp_server import SmtpPeer
from wis_server.channels.ports import Channel, Message, PushSubscription
from wis_server.channels.render import render
from wis_server.channels.settings import PushSettings, Secret, SmsSettings, SmtpSettings
from wis_server.channels.sms import SmsChannel
from wis_server.channels.smtp import SmtpChannel
from wis_server.channels.webpush import WebPushChannel
from wis_server.classification.channel_policy import ChannelKind, MessageContent, apply
from wis_server.classification.keys import generate_keyring
from wis_server.domain.levels import Classification

TITLE = "Sabotage mot elnätet i Värmdö"
BODY = "Ställverket vid Gustavsberg är manipulerat; FRA och Säpo underrättade 02:40."
AUTHOR = "Säkerhetschef Olle Ström"
SPACE = "ÖVNING Värmdö elnät"
SECRETS = [TITLE, BODY, AUTHOR, SPACE, "Värmdö", "Gustavsberg", "Ställverket", "FRA",
           "Säpo", "Olle", "Ström", "manipulerat"]


@pytest.fixture(scope="module")
def push_service() -> Iterator[PushService]:
    service = PushService().start()
    try:
        yield service
    finally:
        service.stop()


@pytest.mark.parametrize("level", [Classification.SEKRETESS, Classification.HEMLIG])
async def test_classified_exercise_notice_on_every_channel(push_service: PushService,
                                                          level: Classification) -> None:
    content = MessageContent(level=level, body=BODY, title=TITLE, author=AUTHOR,
                             space_title=SPACE, space_title_level=level,
                             link="https://wis.example/spaces/41f0", code="Z8M3",
                             exercise=True)
    sent_push: list[bytes] = []

    async def record(request: httpx.Request) -> None:
        sent_push.append(request.content + str(request.headers).encode())

    vapid = generate_keyring().vapid_private_pem
    assert vapid is not None
    async with SmtpPeer() as smtp_peer, SmsGateway() as gateway, \
            httpx.AsyncClient(timeout=20, event_hooks={"request": [record]}) as client:
        smtp = SmtpChannel(SmtpSettings("127.0.0.1", smtp_peer.port, "none", None, None,
                                        "wis@kommun.example", timeout_s=20))
        sms = SmsChannel(SmsSettings(gateway.url, gateway.user, Secret(gateway.password), "WIS",
                                     Secret("scan-secret-0123456789")), "https://wis.example",
                         client=client)
        push = WebPushChannel(PushSettings("mailto:wis@kommun.example"), vapid, client=client,
                              allow_http_endpoints=True)
        data = push_service.subscribe(push.application_server_key)
        addresses: dict[ChannelKind, str | PushSubscription] = {
            ChannelKind.EMAIL: "tib@lst.example",
            ChannelKind.SMS: "+46701234567",
            ChannelKind.PUSH: PushSubscription(data["endpoint"], data["keys"]["p256dh"],
                                               data["keys"]["auth"]),
        }
        channels: list[Channel] = [smtp, sms, push]
        for channel in channels:
            rendered = render(apply(channel.kind, content), channel.capabilities)
            await channel.send(Message(f"scan-{channel.kind.value}", addresses[channel.kind],
                                       rendered))
    [decrypted] = push_service.notifications(data["clientHash"])
    [mail] = smtp_peer.recorder.messages
    [text] = [s.message for s in gateway.sent]

    assert leaks(smtp_peer.recorder.all_bytes(), SECRETS) == []
    assert leaks(b"".join(gateway.requests), SECRETS) == []
    assert leaks(b"".join(sent_push), SECRETS) == []
    assert leaks(decrypted, SECRETS) == []

    parsed = email.message_from_bytes(mail.content, policy=policy.default)
    body = parsed.get_body(("plain",))
    assert body is not None
    assert leaks(str(parsed["Subject"]) + body.get_content(), SECRETS) == []
    assert str(parsed["Subject"]).startswith("ÖVNING: Ny information i WIS")
    assert body.get_content().startswith("ÖVNING\r\n")
    assert text.startswith("ÖVNING: Ny information i WIS")
    assert json.loads(decrypted)["title"] == "ÖVNING: WIS"
    for what in (body.get_content(), text, json.loads(decrypted)["body"]):
        assert "Z8M3" in what  # the acknowledgement code is not content: it survives
