"""Channel settings from WIS_* variables: secure defaults, validation with clear errors that
never echo a secret, and a password type that never prints."""

from __future__ import annotations

import pytest

from wis_server.channels.errors import TransientError
from wis_server.channels.memory import MemoryChannel
from wis_server.channels.ports import Message, Rendered
from wis_server.channels.settings import ChannelSettings, Secret, channel_settings
from wis_server.classification.channel_policy import ChannelKind
from wis_server.config import ConfigError, load_settings

SMTP = {"WIS_CHANNELS": "email", "WIS_SMTP_URL": "smtp://mail.example:2525?starttls=true",
        "WIS_SMTP_USER": "wis", "WIS_SMTP_PASSWORD": "pw-Hunter2-secret",
        "WIS_MAIL_FROM": "wis@kommun.example"}
SMS = {"WIS_CHANNELS": "sms", "WIS_SMS_API_URL": "https://api.46elks.example/",
       "WIS_SMS_API_USER": "u1", "WIS_SMS_API_PASSWORD": "sms-Hunter2-secret",
       "WIS_SMS_FROM": "WIS", "WIS_SMS_WEBHOOK_SECRET": "abcdefghijklmnop-123",
       "WIS_PUBLIC_URL": "https://wis.example"}


def test_nothing_enabled_by_default() -> None:
    settings = _channels({})
    assert settings.enabled == () and not settings.memory
    assert settings.smtp is None and settings.sms is None and settings.push is None


def test_memory_enables_every_real_channel_as_recorder() -> None:
    settings = _channels({"WIS_CHANNELS": "memory"})
    assert settings.memory
    assert settings.enabled == (ChannelKind.EMAIL, ChannelKind.SMS, ChannelKind.PUSH)


def test_smtp_parsed() -> None:
    smtp = _channels(SMTP).smtp
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.tls, smtp.user) == ("mail.example", 2525, "starttls", "wis")
    assert smtp.password is not None and smtp.password.reveal() == "pw-Hunter2-secret"
    assert "Hunter2" not in repr(smtp) and "Hunter2" not in str(smtp.password)


@pytest.mark.parametrize(("url", "tls", "port"), [
    ("smtp://h", "none", 25), ("smtp://h?starttls=true", "starttls", 587),
    ("smtps://h", "tls", 465), ("smtps://h:1465", "tls", 1465),
])
def test_smtp_tls_modes(url: str, tls: str, port: int) -> None:
    env = {**SMTP, "WIS_SMTP_URL": url, "WIS_SMTP_USER": "", "WIS_SMTP_PASSWORD": ""}
    smtp = _channels(env).smtp
    assert smtp is not None and (smtp.tls, smtp.port) == (tls, port)


@pytest.mark.parametrize(("change", "message"), [
    ({"WIS_SMTP_URL": ""}, "WIS_SMTP_URL is required"),
    ({"WIS_SMTP_URL": "http://h"}, "smtp://host:port"),
    ({"WIS_SMTP_URL": "smtp://u:p@h"}, "must not carry credentials"),
    ({"WIS_SMTP_URL": "smtp://h?x=1"}, r"only \?starttls"),
    ({"WIS_SMTP_URL": "smtps://h?starttls=true"}, r"drop \?starttls"),
    ({"WIS_SMTP_URL": "smtp://h"}, "credentials need TLS"),
    ({"WIS_SMTP_PASSWORD": ""}, "go together"),
    ({"WIS_MAIL_FROM": "nobody"}, "WIS_MAIL_FROM"),
    ({"WIS_CHANNELS": "email,fax"}, "comma list"),
    ({"WIS_CHANNELS": "memory,email"}, "cannot be combined"),
])
def test_smtp_errors(change: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        _channels({**SMTP, **change})
    assert "Hunter2" not in str(info.value)


def test_sms_parsed_and_validated() -> None:
    sms = _channels(SMS).sms
    assert sms is not None and sms.api_url == "https://api.46elks.example"
    assert sms.password.reveal() == "sms-Hunter2-secret" and "Hunter2" not in repr(sms)
    assert _channels({**SMS, "WIS_SMS_FROM": "+46766861004"}).sms is not None
    for change, message in [({"WIS_PUBLIC_URL": ""}, "WIS_PUBLIC_URL is required"),
                            ({"WIS_SMS_WEBHOOK_SECRET": "short"}, "at least 16"),
                            ({"WIS_SMS_WEBHOOK_SECRET": "a/b" * 8}, "at least 16"),
                            ({"WIS_SMS_API_URL": "ftp://x"}, "http"),
                            ({"WIS_SMS_API_PASSWORD": ""}, "WIS_SMS_API_PASSWORD"),
                            ({"WIS_SMS_FROM": "0701234567"}, "E.164"),
                            ({"WIS_SMS_FROM": "Länsstyrelsen"}, "E.164")]:
        with pytest.raises(ConfigError, match=message):
            _channels({**SMS, **change})


def test_push_subject() -> None:
    push = _channels({"WIS_CHANNELS": "push", "WIS_MAIL_FROM": "a@b.example"}).push
    assert push is not None and push.subject == "mailto:a@b.example"
    push = _channels({"WIS_CHANNELS": "push",
                                   "WIS_PUBLIC_URL": "https://wis.example"}).push
    assert push is not None and push.subject == "https://wis.example"
    with pytest.raises(ConfigError, match="VAPID"):
        _channels({"WIS_CHANNELS": "push", "WIS_PUBLIC_URL": "http://x"})


def test_secret_equality_and_repr() -> None:
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")
    assert repr(Secret("topsecret")) == "Secret('***')"


async def test_memory_channel_records_and_fails_on_demand() -> None:
    channel = MemoryChannel(ChannelKind.SMS)
    message = Message("d-1", "+46701234567", Rendered("", "hej"))
    channel.fail_next(TransientError("down"))
    with pytest.raises(TransientError):
        await channel.send(message)
    receipt = await channel.send(message)
    assert receipt.delivery_id == "d-1" and receipt.channel is ChannelKind.SMS
    assert list(channel.sent) == [message] and channel.attempts == 2
    await channel.aclose()
    assert channel.closed


def _channels(env: dict[str, str]) -> ChannelSettings:
    """Channel settings as the runtime gets them: through the config sections (which read
    WIS_PUBLIC_URL and WIS_SMS_WEBHOOK_SECRET once)."""
    return channel_settings(load_settings(env))
