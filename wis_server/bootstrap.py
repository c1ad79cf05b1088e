"""The composition root: `async with runtime(settings) as rt` builds the database, keyring,
cipher, store, services, hub, PgBus and housekeeping once, and supervises every background
loop in one TaskGroup. The API lifespan, the CLI and any worker command all use it.

```
runtime(settings, keyring?, render?)
  ├─ Database ─ EnvelopeCipher(keyring) ─ Store
  ├─ Services (typed: directory, sessions, spaces, entries, reports, audit, callouts)
  ├─ Hub + PgBus           only when serving (the API passes `render`; the CLI does not)
  └─ TaskGroup ─ Supervisor.supervise(name, loop)
        realtime.catch_up · realtime.revalidate · realtime.bus · maintenance.prune
        callouts.escalation (due escalation steps and deadlines, on the injected clock)
        channels.rakel (the Rakel gateway's run(), when WIS_RAKEL_DEVICE is set; it is also
          the dispatcher's rakel channel) · channels.rakel.inbound (replies, SDS, reports)
        channels.dispatcher (when serving and a channel is enabled: WIS_CHANNELS, the Rakel
          gateway, or the phone adapter: WIS_PHONE_PROVIDER, also built here)
        a loop that raises is logged (its type, never its message), counted and restarted
        after a capped exponential backoff; shutdown cancels them all and waits for them.
```"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import structlog

from .channels.phone.channel import PhoneChannel
from .channels.phone.settings import PhoneSettings, Provider, parse_phone_settings
from .channels.phone.speech import SpeechClips, find_espeak
from .channels.ports import Channel as ChannelPort
from .channels.rakel.gateway import RakelGateway
from .channels.rakel.settings import parse_rakel_settings
from .channels.settings import channel_settings as channel_settings_of
from .classification.channel_policy import ChannelKind
from .classification.crypto import EnvelopeCipher
from .classification.keys import Keyring, load_keyring, load_keyring_file
from .config import Settings
from .dispatch import Dispatch, build_dispatch, close_channels
from .domain.callouts import EscalationPolicy
from .domain.notifications import Channel
from .domain.outbox import Job
from .realtime.connection import Limits
from .realtime.hub import Hub
from .realtime.pg_bus import PgBus
from .realtime.ports import Render
from .services.audit import AuditTrail
from .services.callout_links import LinkSigner
from .services.callout_lists import CalloutLists
from .services.callout_outbox import StoreOutbox
from .services.callouts import Callouts, run_escalations
from .services.conferences import Conferences
from .services.directory import Directory
from .services.entries import Entries
from .services.maintenance import run_periodically
from .services.notices import Notices
from .services.notifications import NotificationSettings
from .services.outbox import OutboxService, Wake, no_wake
from .services.passwords import Passwords
from .services.phone import PhoneCalls
from .services.ports import Clock, EventPublisher, NullPublisher, system_clock
from .services.push_subscriptions import PushSubscriptions
from .services.rakel_inbound import RakelInbound
from .services.reports import Reports
from .services.sessions import Sessions
from .services.spaces import Spaces
from .services.stream import StreamSource, TeePublisher
from .services.throttle import LoginThrottle
from .services.unread import Unread
from .storage.database import Database
from .storage.unit import Store

log = structlog.get_logger("wis.runtime")

Loop = Callable[[], Awaitable[None]]
"""A background loop: a coroutine function that runs until cancelled."""


# --- services ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Services:
    """The use cases, as handlers and commands reach them."""

    directory: Directory
    sessions: Sessions
    spaces: Spaces
    entries: Entries
    reports: Reports
    audit: AuditTrail
    notices: Notices
    notifications: NotificationSettings
    outbox: OutboxService
    callouts: Callouts
    callout_lists: CalloutLists
    push: PushSubscriptions
    unread: Unread
    conferences: Conferences
    phone: PhoneCalls | None = None  # the phone webhooks (WIS_PHONE_PROVIDER, when serving)


def public_url(settings: Settings) -> str:
    """The server's external base URL (links in messages); by default its own address."""
    server = settings.server
    return server.public_url or f"http://{server.host}:{server.port}"


def rakel_sekretess(settings: Settings) -> bool:
    """WIS_RAKEL_SEKRETESS (an admin approved the gateway for sekretess content)."""
    parsed = parse_rakel_settings(settings.channels.reveal())
    return parsed.sekretess if parsed is not None else False


def build_services(store: Store, settings: Settings, clock: Clock,
                   publisher: EventPublisher, passwords: Passwords | None = None, *,
                   outbox: OutboxService | None = None, wake: Wake = no_wake,
                   channels: frozenset[Channel] = frozenset(),
                   vapid_public_key: str | None = None,
                   phone: PhoneSettings | None = None,
                   clips: SpeechClips | None = None) -> Services:
    """`outbox`, `wake` and `channels` come from the dispatcher (dispatch.build_dispatch):
    notices queue only for enabled channels and wake the dispatcher after commit.
    `vapid_public_key` is the keyring's: what browsers subscribe to Web Push with.
    `phone` (WIS_PHONE_*): conferences are booked on its lines; with `clips` (46elks) or
    TwiML the phone webhooks are answered."""
    passwords = passwords or Passwords()
    entries = Entries(store, clock, publisher, enabled=channels, wake=wake)
    channel_settings = channel_settings_of(settings)
    outbox = outbox or OutboxService(store, clock)
    callouts = Callouts(store, clock, publisher, StoreOutbox(),
                        LinkSigner(store.audit_key, public_url(settings)),
                        EscalationPolicy(step=timedelta(seconds=settings.callouts.step_s)),
                        wake=wake, phone=Channel.PHONE in channels)
    conferences = Conferences(store, clock, publisher, phone)
    phone_calls = None
    if phone is not None and (phone.provider is Provider.TWIML or clips is not None):
        phone_calls = PhoneCalls(store, clock, phone, callouts, conferences, outbox, clips)
    return Services(
        directory=Directory(store, passwords, clock, publisher),
        sessions=Sessions(store, passwords, clock, LoginThrottle(clock),
                          timedelta(seconds=settings.auth.refresh_token_ttl_s), publisher),
        spaces=Spaces(store, clock, publisher, enabled=channels, wake=wake),
        entries=entries,
        reports=Reports(store, clock, publisher, enabled=channels, wake=wake),
        audit=AuditTrail(store, clock),
        callouts=callouts,
        callout_lists=CalloutLists(store, clock),
        notices=Notices(store, clock, publisher, entries, enabled=channels, wake=wake,
                        rakel_sekretess=rakel_sekretess(settings)),
        notifications=NotificationSettings(store, clock),
        outbox=outbox,
        push=PushSubscriptions(store, clock, vapid_public_key=vapid_public_key,
                               enabled=channel_settings.push_enabled,
                               allow_loopback=channel_settings.push_allow_loopback),
        unread=Unread(store, clock),
        conferences=conferences,
        phone=phone_calls,
    )


# --- supervision ---------------------------------------------------------------------------

@dataclass(slots=True)
class LoopStatus:
    """What the supervisor knows about one loop (shown by /readyz)."""

    running: bool = False
    restarts: int = 0
    last_error: str | None = None  # the exception's type name only, never its message


class Supervisor:
    """Runs named forever-loops as tasks of one TaskGroup. A loop that raises (or returns) is
    logged, counted and started again after `first_delay_s`, doubling up to `max_delay_s`;
    a run that lasted `max_delay_s` or more counts as healthy and resets the delay."""

    def __init__(self, group: asyncio.TaskGroup, *, first_delay_s: float = 0.5,
                 max_delay_s: float = 30.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 monotonic: Callable[[], float] | None = None) -> None:
        self._group = group
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self._sleep = sleep
        self._monotonic = monotonic
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._status: dict[str, LoopStatus] = {}
        self._stopping = False

    def supervise(self, name: str, loop: Loop) -> None:
        if self._stopping:
            raise RuntimeError("the runtime is shutting down")
        if name in self._tasks:
            raise ValueError(f"a loop named {name!r} is already supervised")
        self._status[name] = LoopStatus()
        self._tasks[name] = self._group.create_task(self._keep(name, loop), name=f"wis:{name}")

    def status(self) -> Mapping[str, LoopStatus]:
        return dict(self._status)

    def stop(self) -> None:
        """Cancel every loop; the TaskGroup waits for them as the runtime exits."""
        self._stopping = True
        for task in self._tasks.values():
            task.cancel()

    async def _keep(self, name: str, loop: Loop) -> None:
        status = self._status[name]
        now = self._monotonic or asyncio.get_running_loop().time
        delay = self.first_delay_s
        while True:
            started = now()
            status.running = True
            try:
                await loop()
                outcome = "returned"
            except Exception as error:  # every failure is restarted; the type alone is logged
                outcome = error.__class__.__name__
            finally:
                status.running = False
            if now() - started >= self.max_delay_s:
                delay = self.first_delay_s
            status.restarts += 1
            status.last_error = outcome
            log.error("background loop stopped; restarting", loop=name, error=outcome,
                      restarts=status.restarts, retry_in_s=delay)
            await self._sleep(delay)
            delay = min(delay * 2, self.max_delay_s)


# --- the runtime ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    clock: Clock
    keyring: Keyring
    database: Database
    cipher: EnvelopeCipher
    store: Store
    services: Services
    hub: Hub | None  # None when not serving (one-shot commands)
    bus: PgBus | None  # None on SQLite or when not serving
    supervisor: Supervisor
    dispatch: Dispatch  # the outbox dispatcher and the enabled channels
    rakel: RakelGateway | None = None  # when serving and WIS_RAKEL_DEVICE is set
    rakel_inbound: RakelInbound | None = None  # consumes rakel.inbound()

    def supervise(self, name: str, loop: Loop) -> None:
        """Run `loop` under supervision until the runtime exits (e.g. a channel dispatcher's
        `run`)."""
        self.supervisor.supervise(name, loop)


def _callout_failure(services: Services) -> Callable[[Job], Awaitable[None]]:
    """A call-out message that failed for good alarms the contact point's actor admins."""
    async def failed(job: Job) -> None:
        if job.kind == "callout" and job.recipient_ref:
            await services.callouts.record_failure(job.recipient_ref)
    return failed


def keyring_for(settings: Settings) -> Keyring:
    """The keyring the settings name: WIS_KEYRING_* variables, else the keyring file."""
    return load_keyring(settings.keyring.reveal(), Path(settings.keyring.file))


def _keyring_reloader(keyring: Keyring) -> Callable[[], Keyring] | None:
    """A keyring from a file is re-read when a rotation elsewhere may have changed it."""
    if not keyring.source.startswith("file:"):
        return None
    path = Path(keyring.source.removeprefix("file:"))
    return lambda: load_keyring_file(path)


@asynccontextmanager
async def runtime(settings: Settings, keyring: Keyring | None = None, *,
                  clock: Clock = system_clock, publisher: EventPublisher | None = None,
                  passwords: Passwords | None = None, render: Render | None = None,
                  housekeeping: bool | None = None) -> AsyncIterator[Runtime]:
    """Build everything once. With `render` (how the hub turns changes into frames; the API
    passes it) the runtime serves: it builds the hub and, on PostgreSQL, the PgBus, and
    supervises their loops. `housekeeping` (default: when serving) prunes old rows hourly.
    Without either, it is the runtime of a one-shot command: no loops, nothing listening."""
    keyring = keyring if keyring is not None else keyring_for(settings)
    database = Database(settings.database.url.reveal(), pool_size=settings.database.pool_size)
    dispatch: Dispatch | None = None
    try:
        cipher = EnvelopeCipher(keyring, reload=_keyring_reloader(keyring))
        store = Store(database, cipher, keyring.audit_key, clock=clock)
        downstream = publisher or NullPublisher()
        hub = None if render is None else Hub(
            StreamSource(store, clock), render,
            limits=Limits(settings.stream.queue_messages, settings.stream.queue_bytes,
                          max_per_user=settings.stream.max_per_user,
                          max_per_address=settings.stream.max_per_address),
            poll_s=settings.stream.poll_s, revalidate_s=settings.stream.revalidate_s)
        rakel_settings = (parse_rakel_settings(settings.channels.reveal())
                          if render is not None else None)
        rakel = RakelGateway(rakel_settings) if rakel_settings is not None else None
        phone = parse_phone_settings(settings.channels.reveal(), settings.server.public_url)
        clips = None
        if phone is not None and phone.provider is Provider.ELKS and render is not None:
            clips = SpeechClips(find_espeak(phone.espeak))
        extra: dict[ChannelKind, ChannelPort] = {}
        if rakel is not None:
            extra[ChannelKind.RAKEL] = rakel
        if phone is not None and render is not None:
            extra[ChannelKind.PHONE] = PhoneChannel(phone, clock=clock)
        dispatch = build_dispatch(store, settings, clock, keyring.vapid_private_pem,
                                  extra or None)
        services = build_services(
            store, settings, clock,
            downstream if hub is None else TeePublisher(hub, downstream), passwords,
            outbox=dispatch.outbox, wake=dispatch.dispatcher.wake, channels=dispatch.enabled,
            vapid_public_key=keyring.vapid_public_key, phone=phone, clips=clips)
        if rakel is not None:
            dispatch.health.add_source(ChannelKind.RAKEL.value, rakel.health().as_dict)
        if services.phone is not None:
            dispatch.health.add_source(ChannelKind.PHONE.value, services.phone.health)
        dispatch.outbox.failure_listeners.append(_callout_failure(services))
        # a delivery receipt for a call-out's contact point: notified → delivered
        dispatch.outbox.delivery_listeners.append(services.callouts.record_delivery)
        bus = None if hub is None or database.is_sqlite else PgBus(
            database.url, hub.on_remote, hub.on_bus_reconnected)
        failure: BaseException | None = None
        async with asyncio.TaskGroup() as group:
            supervisor = Supervisor(group)
            inbound = None if rakel is None else RakelInbound(
                rakel, services.callouts, dispatch.outbox, store, clock, services.entries)
            rt = Runtime(settings, clock, keyring, database, cipher, store, services, hub, bus,
                         supervisor, dispatch, rakel, inbound)
            try:
                if hub is not None:
                    await hub.start()
                    for name, loop in hub.background_loops().items():
                        supervisor.supervise(name, loop)
                if bus is not None and hub is not None:
                    hub.cross_process = bus.publish
                    supervisor.supervise("realtime.bus", bus.run)
                if housekeeping if housekeeping is not None else hub is not None:
                    supervisor.supervise("maintenance.prune",
                                         lambda: run_periodically(
                                             store, clock, settings.maintenance.prune_every_s))
                if hub is not None and settings.callouts.tick_s > 0:
                    # 0 turns this process's loop off (another process runs it).
                    supervisor.supervise("callouts.escalation", lambda: run_escalations(
                        services.callouts, settings.callouts.tick_s))
                if rakel is not None and inbound is not None:
                    supervisor.supervise("channels.rakel", rakel.run)
                    supervisor.supervise("channels.rakel.inbound", inbound.run)
                if hub is not None and dispatch.channels:
                    supervisor.supervise("channels.dispatcher", dispatch.dispatcher.run)
                yield rt
            except BaseException as error:  # raised below as itself, not in an ExceptionGroup
                failure = error
            finally:
                supervisor.stop()
                if rakel is not None:
                    await rakel.aclose()
                if hub is not None:
                    await hub.stop()
        if failure is not None:
            raise failure
    finally:
        if dispatch is not None:
            await close_channels(dispatch)
        await database.dispose()
