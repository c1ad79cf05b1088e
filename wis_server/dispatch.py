"""Building the outbox side of the runtime (bootstrap.runtime uses it): the enabled channels
(in-memory recorders for WIS_CHANNELS=memory), the outbox port and the dispatcher, which the
runtime's supervisor runs as `channels.dispatcher`."""

from __future__ import annotations

from dataclasses import dataclass

from .channels.dispatcher import Dispatcher, DispatchSettings
from .channels.memory import MemoryChannel
from .channels.ports import Channel
from .channels.settings import parse_channel_settings
from .classification.channel_policy import ChannelKind
from .config import Settings
from .domain.notifications import Channel as NotifyChannel
from .services.outbox import OutboxService
from .services.ports import Clock
from .storage.unit import Store


@dataclass
class Dispatch:
    outbox: OutboxService
    dispatcher: Dispatcher
    channels: dict[ChannelKind, Channel]
    memory: dict[ChannelKind, MemoryChannel]
    sms_webhook_secret: str

    @property
    def enabled(self) -> frozenset[NotifyChannel]:
        return frozenset(NotifyChannel(k.value) for k in self.channels
                         if k.value in {c.value for c in NotifyChannel})


def _env_float(settings: Settings, name: str, default: float) -> float:
    raw = settings.env.get(name, "")
    return float(raw) if raw else default


def build_dispatch(store: Store, settings: Settings, clock: Clock) -> Dispatch:
    channel_settings = parse_channel_settings(settings.env)
    memory: dict[ChannelKind, MemoryChannel] = {}
    channels: dict[ChannelKind, Channel] = {}
    if channel_settings.memory:
        memory = {kind: MemoryChannel(kind) for kind in channel_settings.enabled}
        channels = dict(memory)
    else:
        # The real adapters (channels.registry will build these once it lands).
        if channel_settings.smtp is not None:
            from .channels.smtp import SmtpChannel
            channels[ChannelKind.EMAIL] = SmtpChannel(channel_settings.smtp)
        if channel_settings.sms is not None:
            from .channels.sms import SmsChannel
            channels[ChannelKind.SMS] = SmsChannel(channel_settings.sms,
                                                   channel_settings.public_url)
    secret = channel_settings.sms.webhook_secret.reveal() if channel_settings.sms else \
        settings.env.get("WIS_SMS_WEBHOOK_SECRET", "")
    outbox = OutboxService(store, clock)
    dispatcher = Dispatcher(outbox, channels, clock, DispatchSettings(
        lease_s=_env_float(settings, "WIS_OUTBOX_LEASE_S", 120.0),
        sweep_s=_env_float(settings, "WIS_OUTBOX_SWEEP_S", 5.0),
        public_url=channel_settings.public_url))
    return Dispatch(outbox, dispatcher, channels, memory, secret)


async def close_channels(dispatch: Dispatch) -> None:
    for channel in dispatch.channels.values():
        await channel.aclose()
