"""Build the enabled channels from settings, once, at start-up (the composition root calls
`build_channels` and `aclose` on shutdown; nothing here runs at import time)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ..classification.channel_policy import ChannelKind
from ..config import ConfigError
from .memory import MemoryChannel
from .ports import Channel
from .settings import ChannelSettings


@dataclass(frozen=True, slots=True)
class ChannelRegistry:
    """The enabled channels by kind. A kind that is not enabled is simply absent."""

    channels: Mapping[ChannelKind, Channel]

    def get(self, kind: ChannelKind) -> Channel | None:
        return self.channels.get(kind)

    def __contains__(self, kind: object) -> bool:
        return kind in self.channels

    def __iter__(self) -> Iterator[ChannelKind]:
        return iter(self.channels)

    async def aclose(self) -> None:
        for channel in self.channels.values():
            await channel.aclose()


def build_channels(settings: ChannelSettings, *, vapid_private_pem: bytes | None = None
                   ) -> ChannelRegistry:
    """The channels `settings` enables. Push needs the keyring's VAPID key."""
    if settings.memory:
        return ChannelRegistry({kind: MemoryChannel(kind) for kind in settings.enabled})
    channels: dict[ChannelKind, Channel] = {}
    if settings.smtp is not None:
        from .smtp import SmtpChannel
        channels[ChannelKind.EMAIL] = SmtpChannel(settings.smtp)
    if settings.sms is not None:
        from .sms import SmsChannel
        channels[ChannelKind.SMS] = SmsChannel(settings.sms, settings.public_url)
    if settings.push is not None:
        if vapid_private_pem is None:
            raise ConfigError("push is enabled but the keyring has no VAPID key: run `wis init` "
                              "(or set WIS_KEYRING_VAPID)")
        from .webpush import WebPushChannel
        channels[ChannelKind.PUSH] = WebPushChannel(
            settings.push, vapid_private_pem, allow_http_endpoints=settings.push_allow_loopback)
    return ChannelRegistry(channels)
