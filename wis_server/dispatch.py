"""Building the outbox side of the runtime: the enabled channels (in-memory recorders for
WIS_CHANNELS=memory), the outbox port and the dispatcher, which the runtime's supervisor runs
as `channels.dispatcher`.

Part of the composition root, not a second one: only `bootstrap.runtime` calls it (an
import-linter contract in pyproject.toml forbids every other module to import it), and it
starts nothing — the runtime supervises what it builds and closes the channels on exit. It is
a module of its own so that bootstrap.py stays one screenful per concern (the channel wiring
grows with each channel: SMTP, SMS, push, Rakel, phone), and it sits at the top of the
package beside bootstrap.py because it wires services to channels, which no lower layer may
do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .channels.dispatcher import Dispatcher, DispatchSettings
from .channels.health import HealthRegistry
from .channels.memory import MemoryChannel
from .channels.ports import Channel
from .channels.registry import ChannelRegistry, build_channels
from .channels.settings import channel_settings as channel_settings_of
from .classification.channel_policy import ChannelKind
from .config import ConfigError, Settings
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
    health: HealthRegistry  # per channel: counts, error rates, breakers, adapters' own state

    @property
    def enabled(self) -> frozenset[NotifyChannel]:
        return frozenset(NotifyChannel(k.value) for k in self.channels
                         if k.value in {c.value for c in NotifyChannel})


def _env_float(settings: Settings, name: str, default: float) -> float:
    raw = settings.channels.reveal().get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86_400:
        raise ConfigError(f"{name} must be a number of seconds (0 < s <= 86400)")
    return value


def build_dispatch(store: Store, settings: Settings, clock: Clock,
                   vapid_private_pem: bytes | None = None,
                   extra: Mapping[ChannelKind, Channel] | None = None) -> Dispatch:
    """`extra`: channels the runtime built itself (the Rakel gateway, whose run() it
    supervises); they take the place of an in-memory recorder of the same kind."""
    channel_settings = channel_settings_of(settings)
    registry = build_channels(channel_settings, vapid_private_pem=vapid_private_pem)
    if extra:
        registry = ChannelRegistry({**registry.channels, **extra})
    channels: dict[ChannelKind, Channel] = {kind: registry.channels[kind] for kind in registry}
    memory = {kind: channel for kind, channel in channels.items()
              if isinstance(channel, MemoryChannel)} if channel_settings.memory else {}
    secret = channel_settings.sms.webhook_secret.reveal() if channel_settings.sms else \
        settings.channels.sms_webhook_secret.reveal()
    outbox = OutboxService(store, clock)
    health = HealthRegistry(clock)
    dispatcher = Dispatcher(outbox, registry, clock, DispatchSettings(
        lease_s=_env_float(settings, "WIS_OUTBOX_LEASE_S", 120.0),
        sweep_s=_env_float(settings, "WIS_OUTBOX_SWEEP_S", 5.0),
        public_url=channel_settings.public_url), health=health)
    return Dispatch(outbox, dispatcher, channels, memory, secret, health)


async def close_channels(dispatch: Dispatch) -> None:
    for channel in dispatch.channels.values():
        await channel.aclose()
