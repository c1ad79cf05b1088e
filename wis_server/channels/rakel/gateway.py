"""The Rakel gateway: the Channel port over a PEI terminal, with reconnect, health and a
bounded send queue. The only Rakel module that does I/O (through `transport`).

    send(Message) ─▶ queue (bounded) ─▶ run(): connect ─▶ PeiSession.start() ─▶ ready
        ▲                                  │ one message at a time: send_text ─▶ TextAccepted
        └──────── Receipt / ChannelError ◀─┘ terminal lost ─▶ message back to the queue head,
                                             reconnect with backoff, initialise again
    inbound(): InboundSds · InboundStatus · DeliveryUpdate (delivery reports, over-air status)

Addresses (`Message.to`): `issi:<digits>` or plain digits for a terminal (a receipt report is
requested), `gssi:<digits>` for a talkgroup (no report: every member would answer).

THE SEAM for the services layer (wired: bootstrap.runtime and services/rakel_inbound.py do
all of this except the `incoming` entry, which waits for the `rakel_gssi` space setting): supervise
`gateway.run()` as a background loop, register the gateway as the dispatcher's Rakel channel,
and consume `gateway.inbound()`: an InboundSds whose text is `OK <code>` acknowledges a call-out
through the one acknowledgement function; any other InboundSds from a known ISSI or to a
linked talkgroup (space setting `rakel_gssi`) becomes an `incoming` public entry with the
sender's ISSI; a DeliveryUpdate updates the delivery row whose id it carries. `health()` is for
/readyz and the admins' channel view.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ...classification.channel_policy import CHANNEL_CEILING, ChannelKind
from ...domain.levels import Classification
from ..errors import ChannelUnavailable, InvalidAddress, PermanentError, TransientError
from ..ports import Capabilities, Message, Receipt, Rendered
from . import sds
from . import session as pei
from .settings import RakelSettings
from .transport import Connector, connector

MAX_PARTS = 3
# Characters in MAX_PARTS concatenated parts at the conservative default limit (1184 bits).
MAX_LENGTH = MAX_PARTS * sds.max_text_chars(pei.DEFAULT_MAX_BITS, concatenated=True)
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.5, 30.0
READ_CHUNK = 4096


@dataclass(frozen=True, slots=True)
class RakelHealth:
    """For /readyz and the admins: never content, never addresses."""

    state: str  # "connecting" | "initialising" | "ready" | "down" | "closed"
    connected: bool
    queue_length: int
    queue_capacity: int
    last_sds_in_at: datetime | None
    last_sds_out_at: datetime | None
    reconnects: int
    last_fault: str | None
    max_bits: int
    noise: int
    inbound_dropped: int
    initialisations: int = 0  # completed init sequences (each connect, each idle refresh)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, for /readyz details and the admins' channel view."""
        return {"state": self.state, "connected": self.connected,
                "queue_length": self.queue_length, "queue_capacity": self.queue_capacity,
                "last_sds_in_at": _iso(self.last_sds_in_at),
                "last_sds_out_at": _iso(self.last_sds_out_at), "reconnects": self.reconnects,
                "last_fault": self.last_fault, "max_bits": self.max_bits, "noise": self.noise,
                "inbound_dropped": self.inbound_dropped,
                "initialisations": self.initialisations}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


@dataclass(frozen=True, slots=True)
class InboundSds:
    sender: str | None  # ISSI
    destination: str  # our ISSI, or the talkgroup's GSSI
    text: str
    received_at: datetime
    parts: int = 1


@dataclass(frozen=True, slots=True)
class InboundStatus:
    sender: str | None
    destination: str
    value: int
    received_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryUpdate:
    """`outcome`: delivered | pending | failed (from an SDS report), or sent | failed from the
    terminal's over-air status. `status` is the SDS-TL delivery status or the +CMGS status."""

    delivery_id: str
    outcome: str
    status: int
    at: datetime
    source: str  # "report" | "short_report" | "over_air"


RakelEvent = InboundSds | InboundStatus | DeliveryUpdate


@dataclass(slots=True)
class _Job:
    message: Message
    ssi: str
    group: bool
    future: asyncio.Future[Receipt]
    handle: int = 0
    started: bool = False
    status: int | None = None  # a 16-bit status message instead of the text


def parse_address(to: str) -> tuple[str, bool]:
    """(`ssi`, is_group) from `issi:2011234`, `gssi:9001` or `2011234`."""
    kind, _, value = to.strip().rpartition(":")
    kind = kind.lower()
    if kind not in ("", "issi", "gssi") or not value.isdigit() or not 0 < int(value) <= 0xFFFFFF:
        raise InvalidAddress("not an ISSI or GSSI", code="invalid_rakel_address")
    return str(int(value)), kind == "gssi"


class RakelGateway:
    def __init__(self, settings: RakelSettings, *, connect: Connector | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] | None = None,
                 inbound_capacity: int = 1000) -> None:
        self._settings = settings
        self._connect = connect or connector(settings)
        self._clock = clock
        self._wall = wall or (lambda: datetime.now(UTC))
        max_level = Classification.SEKRETESS if settings.sekretess else Classification.PUBLIC
        self._capabilities = Capabilities(MAX_LENGTH, True,
                                          min(max_level, CHANNEL_CEILING[ChannelKind.RAKEL]))
        self._jobs: deque[_Job] = deque()
        self._current: _Job | None = None
        self._handles = itertools.count(1)
        self._delivery_of: OrderedDict[int, str] = OrderedDict()
        self._wake = asyncio.Event()
        self._inbound: asyncio.Queue[RakelEvent] = asyncio.Queue(inbound_capacity)
        self._state = "connecting"
        self._connected = False
        self._reconnects = 0
        self._last_fault: str | None = None
        self._last_in: datetime | None = None
        self._last_out: datetime | None = None
        self._max_bits = pei.DEFAULT_MAX_BITS
        self._noise = 0
        self._dropped = 0
        self._refreshes = 0
        self._closed = False
        self._unreachable = False  # down since the last `ready`: sends fail fast
        self._state_changed = asyncio.Condition()

    # -- the Channel port --

    @property
    def kind(self) -> ChannelKind:
        return ChannelKind.RAKEL

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def send(self, message: Message) -> Receipt:
        """Queue the message and wait until the terminal has accepted it (a delivery report
        may follow as a DeliveryUpdate). A terminal known to be away (the line went down
        and has not come back to `ready`) fails fast, so the dispatcher's breaker hands the
        recipient on to their next channel instead of a slot waiting `send_timeout_s`; a
        message already queued when the line goes waits for the reconnect (at-least-once)."""
        if self._closed:
            raise ChannelUnavailable("Rakel gateway closed", code="rakel_closed")
        if self._unreachable:
            raise ChannelUnavailable("Rakel terminal not connected",
                                     code="rakel_not_connected")
        if message.level is not None and message.level > self._capabilities.max_level:
            raise PermanentError("Rakel may not carry content at this level",
                                 code="level_not_allowed")
        if not isinstance(message.to, str):
            raise InvalidAddress("not an ISSI or GSSI", code="invalid_rakel_address")
        ssi, group = parse_address(message.to)
        return await self._submit(_Job(message, ssi, group,
                                       asyncio.get_running_loop().create_future()))

    async def send_status(self, delivery_id: str, to: str, value: int) -> Receipt:
        """A status message (16 bits; what each value means is agreed per organisation, e.g.
        an alerting status of a status plan) to an ISSI or a GSSI."""
        if not 0 <= value <= 0xFFFF:
            raise PermanentError("a status is 16 bits", code="rakel_bad_status")
        ssi, group = parse_address(to)
        message = Message(delivery_id, to, Rendered("", ""), level=Classification.PUBLIC)
        return await self._submit(_Job(message, ssi, group,
                                       asyncio.get_running_loop().create_future(),
                                       status=value))

    async def _submit(self, job: _Job) -> Receipt:
        if self._closed:
            raise ChannelUnavailable("Rakel gateway closed", code="rakel_closed")
        if len(self._jobs) >= self._settings.queue_size:
            raise TransientError("Rakel send queue full", code="rakel_queue_full",
                                 retry_after_s=5.0)
        self._jobs.append(job)
        self._wake.set()
        try:
            return await asyncio.wait_for(asyncio.shield(job.future),
                                          self._settings.send_timeout_s)
        except TimeoutError:
            if job in self._jobs:
                self._jobs.remove(job)
            if not job.future.done():
                job.future.cancel()
            code = "rakel_timeout" if self._connected else "rakel_not_connected"
            raise TransientError("Rakel terminal did not take the message in time",
                                 code=code) from None
        except asyncio.CancelledError:
            if job in self._jobs:
                self._jobs.remove(job)
            raise

    async def aclose(self) -> None:
        self._closed = True
        self._state = "closed"
        self._wake.set()
        for job in list(self._jobs):
            if not job.future.done():
                job.future.set_exception(ChannelUnavailable("Rakel gateway closed",
                                                            code="rakel_closed"))
        self._jobs.clear()

    # -- inbound and health --

    async def inbound(self) -> AsyncIterator[RakelEvent]:
        """Inbound SDS, status messages and delivery updates, in arrival order. One consumer:
        two iterators would share (split) the events. A consumer that falls behind by more
        than `inbound_capacity` events loses the newest (counted in health().inbound_dropped)."""
        while True:
            yield await self._inbound.get()

    def health(self) -> RakelHealth:
        return RakelHealth(self._state, self._connected, len(self._jobs) + (
            1 if self._current is not None else 0), self._settings.queue_size, self._last_in,
            self._last_out, self._reconnects, self._last_fault, self._max_bits, self._noise,
            self._dropped, self._refreshes)

    async def wait_state(self, state: str) -> None:
        """Until the gateway reaches `state` (tests and the admin view's "reconnect now")."""
        async with self._state_changed:
            await self._state_changed.wait_for(lambda: self._state == state)

    # -- the supervised loop --

    async def run(self) -> None:
        """Connect, initialise, serve; on any loss reconnect with backoff. Runs until
        cancelled or closed; if it raises, the supervisor may simply call it again."""
        self._requeue_current()  # a previous run that raised left its message half-sent
        backoff = BACKOFF_MIN_S
        while not self._closed:
            await self._set_state("connecting")
            try:
                reader, writer = await self._connect()
            except (OSError, ValueError) as exc:
                await self._down(f"cannot open the line ({type(exc).__name__})")
                await self._sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            self._connected = True
            try:
                ready = await self._serve(reader, writer)
            except OSError as exc:
                ready = self._state == "ready"
                self._last_fault = f"line lost ({type(exc).__name__})"
            finally:
                self._connected = False
                writer.close()
                try:
                    await asyncio.wait_for(writer.wait_closed(), 2.0)
                except (OSError, TimeoutError):
                    pass
            self._reconnects += 1
            await self._down(self._last_fault)
            if ready:
                backoff = BACKOFF_MIN_S
            await self._sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _sleep(self, seconds: float) -> None:
        if not self._closed:
            await asyncio.sleep(seconds)

    async def _set_state(self, state: str) -> None:
        async with self._state_changed:
            self._state = state
            if state == "ready":
                self._unreachable = False
            elif state in ("down", "closed"):
                self._unreachable = True
            self._state_changed.notify_all()

    async def _down(self, reason: str | None) -> None:
        self._last_fault = reason
        self._requeue_current()
        await self._set_state("closed" if self._closed else "down")

    def _requeue_current(self) -> None:
        """The message being handed over when the line went: it goes out again first (the
        same delivery id: at-least-once)."""
        if self._current is not None:
            job, self._current = self._current, None
            if not job.future.done():
                job.started = False
                self._jobs.appendleft(job)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        session = pei.PeiSession(own_issi=self._settings.issi, clock=self._clock,
                                 command_timeout_s=self._settings.command_timeout_s)
        session.start()
        await self._set_state("initialising")
        refreshed = self._clock()
        read: asyncio.Task[bytes] | None = None
        try:
            while not self._closed:
                self._wake.clear()
                data = session.data_to_send()
                if data:
                    writer.write(data)
                    await writer.drain()
                fault = await self._handle(session.events())
                if fault is not None:
                    self._last_fault = fault
                    return self._state == "ready"
                if session.ready and self._state != "ready":
                    await self._set_state("ready")
                if session.ready and self._current is None and self._jobs:
                    self._start_next(session)
                    continue
                refresh_at = refreshed + self._settings.refresh_s
                if session.ready and session.idle and self._clock() >= refresh_at:
                    refreshed = self._clock()
                    session.refresh()
                    continue
                if read is None:
                    read = asyncio.ensure_future(reader.read(READ_CHUNK))
                wake = asyncio.ensure_future(self._wake.wait())
                deadline = session.next_deadline()
                if deadline is None and session.ready:
                    deadline = refresh_at
                timeout = None if deadline is None else max(0.0, deadline - self._clock())
                done, _ = await asyncio.wait({read, wake}, timeout=timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
                wake.cancel()
                if read in done:
                    chunk = read.result()
                    read = None
                    if not chunk:
                        self._last_fault = "terminal closed the line"
                        return self._state == "ready"
                    session.receive_data(chunk)
                session.tick()
            return False
        finally:
            if read is not None:
                read.cancel()

    def _start_next(self, session: pei.PeiSession) -> None:
        job = self._jobs.popleft()
        if job.future.done():  # timed out or cancelled meanwhile
            return
        job.handle = next(self._handles)
        job.started = True
        self._current = job
        self._delivery_of[job.handle] = job.message.delivery_id
        while len(self._delivery_of) > 4096:
            self._delivery_of.popitem(last=False)
        if job.status is not None:
            session.send_status(job.handle, job.ssi, job.status)
        else:
            session.send_text(job.handle, job.ssi, job.message.rendered.text, group=job.group)

    async def _handle(self, events: list[pei.Event]) -> str | None:
        fault: str | None = None
        for event in events:
            if isinstance(event, pei.Fault):
                fault = event.reason
            elif isinstance(event, pei.Ready):
                self._max_bits = event.max_bits
                self._refreshes += 1
            elif isinstance(event, pei.TextAccepted):
                self._accepted(event)
            elif isinstance(event, pei.SendFailed):
                self._failed(event)
            elif isinstance(event, pei.DeliveryReport):
                self._update(event.handle, event.outcome, event.status,
                             "short_report" if event.short else "report")
            elif isinstance(event, pei.OverAir):
                outcome = {4: "sent", 5: "failed"}.get(event.status, "pending")
                self._update(event.handle, outcome, event.status, "over_air")
            elif isinstance(event, pei.TextReceived):
                self._last_in = self._wall()
                self._emit(InboundSds(event.sender, event.destination, event.text,
                                      self._last_in, event.parts))
            elif isinstance(event, pei.StatusReceived):
                self._last_in = self._wall()
                self._emit(InboundStatus(event.sender, event.destination, event.value,
                                         self._last_in))
            elif isinstance(event, pei.Noise):
                self._noise += 1
        return fault

    def _job_for(self, handle: object) -> _Job | None:
        job = self._current
        return job if job is not None and job.handle == handle else None

    def _accepted(self, event: pei.TextAccepted) -> None:
        job = self._job_for(event.handle)
        if job is None:
            return
        self._current = None
        self._last_out = self._wall()
        if not job.future.done():
            refs = "+".join(str(r) for r in event.refs)
            job.future.set_result(Receipt(ChannelKind.RAKEL, job.message.delivery_id,
                                          f"{job.ssi}:{refs}", "sent", event.parts,
                                          self._last_out))

    def _failed(self, event: pei.SendFailed) -> None:
        job = self._job_for(event.handle)
        if job is None:
            return
        self._current = None
        if job.future.done():
            return
        if event.code == "terminal_lost":
            job.started = False
            self._jobs.appendleft(job)  # at-least-once: it goes out after the reconnect
        elif event.retryable:
            job.future.set_exception(TransientError("Rakel terminal refused for now",
                                                    code=event.code))
        elif event.code == "rakel_too_long":
            job.future.set_exception(PermanentError("text too long for the terminal",
                                                    code=event.code))
        else:
            job.future.set_exception(PermanentError("Rakel terminal refused the message",
                                                    code=event.code))

    def _update(self, handle: object, outcome: str, status: int, source: str) -> None:
        delivery_id = self._delivery_of.get(handle) if isinstance(handle, int) else None
        if delivery_id is not None:
            self._emit(DeliveryUpdate(delivery_id, outcome, status, self._wall(), source))

    def _emit(self, event: RakelEvent) -> None:
        try:
            self._inbound.put_nowait(event)
        except asyncio.QueueFull:
            self._dropped += 1

