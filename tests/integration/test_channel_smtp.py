"""E-mail through a real SMTP server (aiosmtpd) started here: plain, STARTTLS and implicit TLS
with a self-signed certificate the client verifies, AUTH, Message-ID from the delivery id, error
mapping, and a byte scan showing classified plaintext never reaches the server."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from tests.peers.scan import leaks
from tests.peers.smtp_server import SmtpPeer
from tests.peers.tls import make_cert
from wis_server.channels.errors import (
    ChannelUnavailable,
    InvalidAddress,
    TransientError,
)
from wis_server.channels.ports import Message
from wis_server.channels.render import render
from wis_server.channels.settings import Secret, SmtpSettings
from wis_server.channels.smtp import SmtpChannel
from wis_server.classification.channel_policy import ChannelKind, MessageContent, apply
from wis_server.domain.levels import Classification

TITLE = "Läckage kärnkraftverk Forsmark"
BODY = "Reaktor 3 har nödstoppats; evakuering av zon B förbereds av Östhammars kommun."
AUTHOR = "Gunilla Hemlig-Handläggare"
SPACE = "Forsmark incident 2026"
SECRETS = [TITLE, BODY, AUTHOR, SPACE, "Forsmark", "Reaktor", "evakuering", "Gunilla"]
LINK = "https://wis.example/spaces/7d1b2e3f"


def settings(port: int, tls: str = "none", *, ca: Path | None = None,
             creds: tuple[str, str] | None = None) -> SmtpSettings:
    return SmtpSettings("127.0.0.1", port, tls, creds[0] if creds else None,
                        Secret(creds[1]) if creds else None, "wis@kommun.example", ca,
                        timeout_s=20)


def message(level: Classification, delivery_id: str = "d-42", to: str = "tib@lst.example"
            ) -> Message:
    content = MessageContent(level=level, body=BODY, title=TITLE, author=AUTHOR,
                             space_title=SPACE, link=LINK, code="K7Q2")
    outgoing = apply(ChannelKind.EMAIL, content)
    channel_caps = SmtpChannel(settings(1)).capabilities
    return Message(delivery_id, to, render(outgoing, channel_caps))


def decoded(raw: bytes) -> str:
    mail = email.message_from_bytes(raw, policy=policy.default)
    parts = [str(mail["Subject"])]
    for part in mail.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


async def test_plain_delivery_public_full_text_and_message_id() -> None:
    async with SmtpPeer() as peer:
        receipt = await SmtpChannel(settings(peer.port)).send(message(Classification.PUBLIC))
    assert receipt.channel is ChannelKind.EMAIL and receipt.delivery_id == "d-42"
    assert receipt.provider_id == "<wis.d-42@kommun.example>"
    [got] = peer.recorder.messages
    assert got.mail_from == "wis@kommun.example" and got.rcpt_tos == ["tib@lst.example"]
    mail = email.message_from_bytes(got.content, policy=policy.default)
    assert mail["Message-ID"] == "<wis.d-42@kommun.example>"
    assert mail["Auto-Submitted"] == "auto-generated"
    text = decoded(got.content)
    # Positive control for the scanner: public content is there, in full.
    assert leaks(text, SECRETS) == SECRETS
    assert "Svara OK K7Q2 för att kvittera" in text and LINK in text


@pytest.mark.parametrize("level", [Classification.SEKRETESS, Classification.HEMLIG])
@pytest.mark.parametrize("tls", ["starttls", "tls"])
async def test_classified_over_tls_with_auth_carries_only_the_pointer(
        tmp_path: Path, tls: str, level: Classification) -> None:
    cert = make_cert(tmp_path)
    creds = ("wis-relay", "relay-pw-Hunter2")
    async with SmtpPeer(tls=tls, context=cert.server_context(), credentials=creds) as peer:
        channel = SmtpChannel(settings(peer.port, tls, ca=cert.cert_file, creds=creds))
        await channel.send(message(level))
    assert peer.recorder.auth_attempts == [("PLAIN", True)] or \
        peer.recorder.auth_attempts == [("LOGIN", True)]
    [got] = peer.recorder.messages
    assert leaks(peer.recorder.all_bytes(), SECRETS) == []
    text = decoded(got.content)
    assert leaks(text, SECRETS) == []
    label = level.value.upper()
    assert f"Ny information i WIS ({label}) – logga in för att läsa" in text
    assert str(email.message_from_bytes(got.content, policy=policy.default)["Subject"]) == \
        f"Ny information i WIS ({label})"
    assert LINK in text and "K7Q2" in text


async def test_resend_carries_the_same_message_id() -> None:
    async with SmtpPeer() as peer:
        channel = SmtpChannel(settings(peer.port))
        await channel.send(message(Classification.PUBLIC, "retry-7"))
        await channel.send(message(Classification.PUBLIC, "retry-7"))
    ids = {email.message_from_bytes(m.content, policy=policy.default)["Message-ID"]
           for m in peer.recorder.messages}
    assert ids == {"<wis.retry-7@kommun.example>"} and len(peer.recorder.messages) == 2


async def test_wrong_password_is_channel_unavailable(tmp_path: Path) -> None:
    cert = make_cert(tmp_path)
    async with SmtpPeer(tls="starttls", context=cert.server_context(),
                        credentials=("wis", "right")) as peer:
        channel = SmtpChannel(settings(peer.port, "starttls", ca=cert.cert_file,
                                       creds=("wis", "wrong")))
        with pytest.raises(ChannelUnavailable) as info:
            await channel.send(message(Classification.PUBLIC))
    assert info.value.code == "smtp_auth_refused" and "wrong" not in str(info.value)
    assert peer.recorder.messages == []


async def test_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    served, other = make_cert(tmp_path / "a"), make_cert(tmp_path / "b")
    async with SmtpPeer(tls="tls", context=served.server_context()) as peer:
        channel = SmtpChannel(settings(peer.port, "tls", ca=other.cert_file))
        with pytest.raises(ChannelUnavailable):
            await channel.send(message(Classification.PUBLIC))
    assert peer.recorder.messages == []


async def test_plain_server_cannot_be_used_when_starttls_is_required(tmp_path: Path) -> None:
    cert = make_cert(tmp_path)
    async with SmtpPeer() as peer:  # offers no STARTTLS
        channel = SmtpChannel(settings(peer.port, "starttls", ca=cert.cert_file))
        with pytest.raises(ChannelUnavailable):
            await channel.send(message(Classification.PUBLIC))
    assert peer.recorder.messages == []


async def test_recipient_errors_map_to_permanent_and_transient() -> None:
    async with SmtpPeer() as peer:
        channel = SmtpChannel(settings(peer.port))
        with pytest.raises(InvalidAddress):
            await channel.send(message(Classification.PUBLIC, to="refused@lst.example"))
        with pytest.raises(TransientError) as info:
            await channel.send(message(Classification.PUBLIC, to="later@lst.example"))
        assert info.value.retryable
        with pytest.raises(InvalidAddress):
            await channel.send(message(Classification.PUBLIC, to="no-at-sign"))
        with pytest.raises(InvalidAddress):
            await channel.send(message(Classification.PUBLIC, to="a@b.example\r\nBcc: x@y.z"))
    assert peer.recorder.messages == []


async def test_unreachable_server_is_transient() -> None:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connection refused
        with pytest.raises(ChannelUnavailable) as info:
            await SmtpChannel(settings(port)).send(message(Classification.PUBLIC))
    assert info.value.retryable
