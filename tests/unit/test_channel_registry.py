"""The registry builds exactly the channels the settings enable: recorders for memory, the real
adapters otherwise, and refuses push without the keyring's VAPID key."""

from __future__ import annotations

import pytest

from wis_server.channels.memory import MemoryChannel
from wis_server.channels.ports import Channel
from wis_server.channels.registry import build_channels
from wis_server.channels.settings import ChannelSettings, channel_settings
from wis_server.channels.sms import SmsChannel
from wis_server.channels.smtp import SmtpChannel
from wis_server.channels.webpush import WebPushChannel
from wis_server.classification.channel_policy import ChannelKind
from wis_server.classification.keys import generate_keyring
from wis_server.config import ConfigError, load_settings

ENV = {"WIS_CHANNELS": "email,sms,push", "WIS_SMTP_URL": "smtps://mail.example",
       "WIS_MAIL_FROM": "wis@kommun.example", "WIS_SMS_API_URL": "https://api.46elks.example",
       "WIS_SMS_API_USER": "u", "WIS_SMS_API_PASSWORD": "p", "WIS_SMS_FROM": "WIS",
       "WIS_SMS_WEBHOOK_SECRET": "s" * 20, "WIS_PUBLIC_URL": "https://wis.example"}


async def test_memory_registry() -> None:
    registry = build_channels(_channels({"WIS_CHANNELS": "memory"}))
    assert set(registry) == {ChannelKind.EMAIL, ChannelKind.SMS, ChannelKind.PUSH}
    for kind in registry:
        channel = registry.get(kind)
        assert isinstance(channel, MemoryChannel) and isinstance(channel, Channel)
        assert channel.kind is kind
    await registry.aclose()
    assert all(isinstance(c, MemoryChannel) and c.closed for c in registry.channels.values())


async def test_real_registry() -> None:
    registry = build_channels(_channels(ENV),
                              vapid_private_pem=generate_keyring().vapid_private_pem)
    assert isinstance(registry.get(ChannelKind.EMAIL), SmtpChannel)
    assert isinstance(registry.get(ChannelKind.SMS), SmsChannel)
    assert isinstance(registry.get(ChannelKind.PUSH), WebPushChannel)
    assert ChannelKind.RAKEL not in registry and registry.get(ChannelKind.RAKEL) is None
    for kind in registry:
        assert isinstance(registry.get(kind), Channel)
    await registry.aclose()


def test_nothing_enabled_builds_nothing() -> None:
    assert list(build_channels(_channels({}))) == []


def test_push_needs_the_vapid_key() -> None:
    with pytest.raises(ConfigError, match="VAPID"):
        build_channels(_channels({**ENV, "WIS_CHANNELS": "push"}))


def _channels(env: dict[str, str]) -> ChannelSettings:
    """Channel settings as the runtime gets them: through the config sections (which read
    WIS_PUBLIC_URL and WIS_SMS_WEBHOOK_SECRET once)."""
    return channel_settings(load_settings(env))
