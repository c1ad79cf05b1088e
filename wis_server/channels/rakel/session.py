"""The PEI session: a sans-I/O state machine over one connection to a TETRA terminal.

    start() ─▶ init commands ─▶ Ready(max_bits)          receive_data(bytes) ─▶ events()
    send_text(handle, ssi, text, group) ─▶ AT+CMGS per PDU ─▶ TextAccepted | SendFailed
    +CTSDSR (report / short report)     ─▶ DeliveryReport(handle, outcome, status)
    +CTSDSR (text, possibly in parts)   ─▶ TextReceived(sender, destination, text)
    +CTSDSR (AI service 13)             ─▶ StatusReceived(sender, destination, value)
    a command unanswered past its deadline, or recovery that fails ─▶ Fault (reconnect)

One command is in flight at a time; its information lines are collected until the final result.
Unsolicited result codes are routed by prefix, so one arriving in the middle of a command's
response (an SDS between `+CMGS: 3` and `OK`) is handled as itself. `+CME ERROR: 35` (syntax
error, often line noise) is recovered the way tetra-pei does it: `AT` until the terminal answers
OK again, then the failed command once more. The I/O wrapper feeds bytes in, writes
`data_to_send()`, calls `tick()` from a timer, and reconnects on `Fault`. The clock is injected.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from . import codec, sds

INIT_COMMANDS: tuple[tuple[str, bool], ...] = (
    # (command, required). ATE0: echo off (V.250; a radio that refuses it still works).
    ("ATE0", False),
    ("AT+CTOM=0", True),  # trunked mode (TMO): the gateway talks to the network
    ("AT+CTSP=1,3,130", True),  # SDS-TL text messaging (PID 0x82) to the TE
    ("AT+CTSP=1,3,138", False),  # text with a user data header (0x8A): concatenated texts
    ("AT+CTSP=1,3,140", False),  # concatenated SDS-TL (0x8C)
    ("AT+CTSP=1,2,20", False),  # status messages (and short reports) to the TE
    ("AT+CTSDS=12,0,0,0,0", True),  # SDS type 4 (SDS-TL), SSI addressing, no E2EE
    ("AT+CMGS=?", False),  # the terminal's PDU size limit
)
SELECT_SDS_TL = "AT+CTSDS=12,0,0,0,0"
SELECT_STATUS = "AT+CTSDS=13,0"
DEFAULT_MAX_BITS = 1184  # what one real radio answered; the protocol's ceiling is 2047
SYNTAX_ERROR, NO_AT_CMGS, DATA_TIMEOUT = 35, 36, 37
RECOVERY_PROBES = 5
PARTIAL_LIMIT = 32  # concatenated texts being reassembled at once
PARTIAL_TTL_S = 600.0
REPORT_TTL_S = 24 * 3600.0
UNSOLICITED = ("+CTSDSR", "+CTICN", "+CTCC", "+CTCR", "+CTXG", "+CDTXC", "+CTXD", "+CTXI",
               "+CTXN", "+CTOM", "+CTGS", "+CTSDC", "+CTBCT", "+CTSRC", "+CNUMF", "+CTDGR",
               "+CLVL", "+CREG", "+CSQ")


# --- events ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Ready:
    max_bits: int


@dataclass(frozen=True, slots=True)
class Fault:
    """The terminal is not usable on this connection (reconnect and start again)."""

    reason: str


@dataclass(frozen=True, slots=True)
class TextAccepted:
    """The terminal took every part (`+CMGS` … OK). Not yet delivered."""

    handle: Hashable
    refs: tuple[int, ...]
    parts: int


@dataclass(frozen=True, slots=True)
class SendFailed:
    handle: Hashable
    code: str
    retryable: bool
    cme: int | None = None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """`outcome`: delivered (every part), pending (stored, congestion) or failed."""

    handle: Hashable
    outcome: str
    status: int
    short: bool = False


@dataclass(frozen=True, slots=True)
class OverAir:
    """The later, unsolicited `+CMGS: <instance>,<status>,<ref>` (4 sent, 5 failed [U])."""

    handle: Hashable
    status: int


@dataclass(frozen=True, slots=True)
class TextReceived:
    sender: str | None
    destination: str
    text: str
    message_ref: int
    parts: int = 1


@dataclass(frozen=True, slots=True)
class StatusReceived:
    sender: str | None
    destination: str
    value: int


@dataclass(frozen=True, slots=True)
class Ignored:
    """Understood but not handled (a voice-call URC, a LIP position, a stray line)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Noise:
    reason: str


Event = (Ready | Fault | TextAccepted | SendFailed | DeliveryReport | OverAir | TextReceived
         | StatusReceived | Ignored | Noise)


# --- internals -------------------------------------------------------------------------------

@dataclass(slots=True)
class _Command:
    text: str  # the command line, or the AT+CMGS line for a PDU
    data: bytes  # exactly what is written
    purpose: str  # "init" | "probe" | "select" | "text" | "status" | "report"
    handle: Hashable = None
    required: bool = True
    part: int = 0
    ref: int = -1
    retried: bool = False
    lines: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Outgoing:
    handle: Hashable
    destination: int
    parts: int
    refs: tuple[int, ...]
    accepted: int = 0
    report: bool = False
    instances: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _Awaiting:
    handle: Hashable
    refs: set[int]
    expires: float


@dataclass(slots=True)
class _Partial:
    parts: dict[int, str | bytes]
    total: int
    coding: int
    first_ref: int
    expires: float


class PeiSession:
    def __init__(self, *, own_issi: str | None = None, clock: Callable[[], float],
                 command_timeout_s: float = 10.0) -> None:
        self._own = codec.ssi_of(own_issi) if own_issi else None
        self._clock = clock
        self._timeout = command_timeout_s
        self._reader = codec.LineReader()
        self._queue: deque[_Command] = deque()
        self._current: _Command | None = None
        self._deadline: float | None = None
        self._out = bytearray()
        self._events: list[Event] = []
        self._probes_left = 0
        self._recovering: _Command | None = None
        self._outgoing: dict[Hashable, _Outgoing] = {}
        self._awaiting: dict[tuple[int, int], _Awaiting] = {}  # (destination SSI, ref)
        self._instances: dict[int, Hashable] = {}
        self._partials: OrderedDict[tuple[int | None, int, int, int], _Partial] = OrderedDict()
        self._next_ref = 1
        self.ready = False
        self.failed = False
        self.max_bits = DEFAULT_MAX_BITS
        self._reported_limit = False

    # -- the I/O wrapper's side --

    def start(self) -> None:
        """(Re)start on a fresh connection: forget the line state, run the init sequence."""
        self._reader = codec.LineReader()
        self._fail_all("terminal_lost")
        self._queue.clear()
        self._current = None
        self._deadline = None
        self._recovering = None
        self._out.clear()
        self.ready = False
        self.failed = False
        self._queue.append(_Command("AT", codec.command("AT"), "probe"))
        self._probes_left = RECOVERY_PROBES
        for text, required in INIT_COMMANDS:
            self._queue.append(_Command(text, codec.command(text), "init", required=required))
        self._pump()

    @property
    def idle(self) -> bool:
        return self._current is None and not self._queue

    def refresh(self) -> None:
        """Run the init sequence again on the same connection: a liveness probe while idle
        (a dead terminal is noticed without traffic) and a repair of a terminal that restarted
        behind an unbroken line and forgot its routing (AT+CTSP) — all idempotent."""
        if self.failed:
            return
        for text, required in INIT_COMMANDS:
            self._queue.append(_Command(text, codec.command(text), "init", required=required))
        self._pump()

    def receive_data(self, data: bytes) -> None:
        for item in self._reader.feed(data):
            try:
                self._item(item)
            except Exception as exc:  # a bug must not kill the reader; say so and go on
                self._events.append(Noise(f"unhandled {type(exc).__name__} on a line"))
        self._pump()

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def next_deadline(self) -> float | None:
        return self._deadline

    def tick(self) -> None:
        now = self._clock()
        if self._current is not None and self._deadline is not None and now >= self._deadline:
            self._fault("terminal did not answer in time")
        for key in [k for k, p in self._partials.items() if p.expires <= now]:
            del self._partials[key]
            self._events.append(Ignored("concatenated text incomplete; parts dropped"))
        for done in [k for k, a in self._awaiting.items() if a.expires <= now]:
            del self._awaiting[done]

    # -- the gateway's side --

    def send_text(self, handle: Hashable, destination: str, text: str, *,
                  group: bool = False, max_parts: int = 255) -> None:
        """Queue `text` to an ISSI (with a receipt report request) or a GSSI (no report: a
        report from every member would flood the channel)."""
        dest = codec.ssi_of(destination)
        report = sds.ReportRequest.NONE if group else sds.ReportRequest.RECEIVED
        try:
            encoded = sds.encode_texts(text, self._allocate_ref(), self.max_bits, report=report,
                                       short_report_allowed=not group, max_parts=max_parts)
        except sds.SdsError:
            self._events.append(SendFailed(handle, "rakel_too_long", False))
            return
        self._next_ref = (encoded.refs[-1] + 1) & 0xFF or 1
        self._outgoing[handle] = _Outgoing(handle, dest, len(encoded.pdus), encoded.refs,
                                           report=not group)
        if not group:  # from now on: a report may overtake the last part's OK
            self._awaiting[(dest, encoded.refs[0])] = _Awaiting(
                handle, set(encoded.refs), self._clock() + REPORT_TTL_S)
        for i, (pdu, ref) in enumerate(zip(encoded.pdus, encoded.refs, strict=True)):
            data = codec.cmgs(str(dest), pdu)
            self._queue.append(_Command(data.split(codec.CR)[0].decode(), data, "text", handle,
                                        part=i, ref=ref))
        self._pump()

    def send_status(self, handle: Hashable, destination: str, value: int) -> None:
        """A 16-bit status message: switch to AI service 13, send, switch back."""
        dest = codec.ssi_of(destination)
        self._outgoing[handle] = _Outgoing(handle, dest, 1, ())
        data = codec.cmgs(str(dest), sds.encode_status(value))
        self._queue.append(_Command(SELECT_STATUS, codec.command(SELECT_STATUS), "select",
                                    handle))
        self._queue.append(_Command(data.split(codec.CR)[0].decode(), data, "status", handle))
        self._queue.append(_Command(SELECT_SDS_TL, codec.command(SELECT_SDS_TL), "select"))
        self._pump()

    # -- internals --

    def _allocate_ref(self) -> int:
        ref = self._next_ref
        for _ in range(255):  # skip references still awaiting a report
            if not any(key[1] == ref for key in self._awaiting):
                break
            ref = ref % 255 + 1
        return ref

    def _pump(self) -> None:
        if self._current is not None or self.failed or not self._queue:
            return
        self._current = self._queue.popleft()
        self._current.lines = []
        self._out += self._current.data
        self._deadline = self._clock() + self._timeout

    def _fault(self, reason: str) -> None:
        self.failed = True
        self.ready = False
        self._fail_all("terminal_lost")
        self._queue.clear()
        self._current = None
        self._deadline = None
        self._events.append(Fault(reason))

    def _fail_all(self, code: str) -> None:
        for handle in list(self._outgoing):
            outgoing = self._outgoing.pop(handle)
            if outgoing.accepted < outgoing.parts:
                self._forget_reports(handle)
                self._events.append(SendFailed(handle, code, True))

    def _forget_reports(self, handle: Hashable) -> None:
        for key in [k for k, a in self._awaiting.items() if a.handle == handle]:
            del self._awaiting[key]

    def _item(self, item: codec.PeiItem) -> None:
        if isinstance(item, codec.Noise):
            self._events.append(Noise(item.reason))
        elif isinstance(item, codec.SdsIndication):
            self._sds(item)
        elif isinstance(item, codec.Final):
            self._final(item)
        else:
            self._line(item.text)

    def _line(self, text: str) -> None:
        upper = text.upper()
        if upper.startswith("AT"):
            return  # an echo of our own command
        if upper.startswith("+CMGS:"):
            fields = [f.strip() for f in text[6:].split(",")]
            if len(fields) >= 3 and all(f.isdigit() for f in fields[:3]):
                self._over_air(int(fields[0]), int(fields[1]), int(fields[2]))
                return
        if upper.startswith(UNSOLICITED):
            self._events.append(Ignored(f"unsolicited {upper.split(':')[0]}"))
            return
        if self._current is not None:
            self._current.lines.append(text)
        else:
            self._events.append(Ignored("line outside any command"))

    def _over_air(self, instance: int, status: int, ref: int) -> None:
        handle = self._instances.pop(instance, None)
        if handle is not None:
            self._events.append(OverAir(handle, status))

    def _final(self, final: codec.Final) -> None:
        current = self._current
        if current is None:
            self._events.append(Ignored("final result without a command"))
            return
        self._current = None
        self._deadline = None
        if final.ok:
            self._done(current)
        elif final.kind == "cme" and final.code == SYNTAX_ERROR and current.purpose != "probe" \
                and not current.retried:
            current.retried = True
            self._recovering = current
            self._probes_left = RECOVERY_PROBES
            self._queue.appendleft(_Command("AT", codec.command("AT"), "probe"))
        else:
            self._error(current, final)

    def _done(self, command: _Command) -> None:
        if command.purpose == "probe":
            if self._recovering is not None:
                self._queue.appendleft(self._recovering)
                self._recovering = None
            return
        if command.purpose == "init":
            if command.text == "AT+CMGS=?":
                limit = codec.parse_cmgs_test(command.lines)
                if limit:
                    self.max_bits = min(limit, sds.MAX_PDU_BITS)
            if not any(c.purpose == "init" for c in self._queue):
                self.ready = True
                self._events.append(Ready(self.max_bits))
            return
        if command.purpose in ("text", "status"):
            outgoing = self._outgoing.get(command.handle)
            if outgoing is None:
                return
            for line in command.lines:
                if line.upper().startswith("+CMGS:"):
                    first = line[6:].split(",")[0].strip()
                    if first.isdigit():
                        outgoing.instances.append(int(first))
                        self._instances[int(first)] = command.handle
                        while len(self._instances) > 256:
                            self._instances.pop(next(iter(self._instances)))
            outgoing.accepted += 1
            if outgoing.accepted == outgoing.parts:
                del self._outgoing[command.handle]
                self._events.append(TextAccepted(command.handle, outgoing.refs,
                                                 outgoing.parts))

    def _error(self, command: _Command, final: codec.Final) -> None:
        if command.purpose == "probe":
            if self._probes_left > 1:
                self._probes_left -= 1
                self._queue.appendleft(_Command("AT", codec.command("AT"), "probe"))
            else:
                self._fault("terminal answers every command with an error")
            return
        if command.purpose == "init":
            if command.required:
                self._fault(f"initialisation refused at {command.text.split('=')[0]}")
            elif not any(c.purpose == "init" for c in self._queue):
                self.ready = True
                self._events.append(Ready(self.max_bits))
            return
        if command.purpose == "select" and command.handle is None:
            return  # back to SDS-TL failed; the next select or a reconnect fixes it
        handle = command.handle
        if handle in self._outgoing:
            del self._outgoing[handle]
            self._forget_reports(handle)
            for queued in [c for c in self._queue if c.handle == handle]:
                self._queue.remove(queued)
            if command.purpose == "select":
                self._queue.appendleft(_Command(SELECT_SDS_TL, codec.command(SELECT_SDS_TL),
                                                "select"))
            retryable = final.kind == "cme" and final.code in (SYNTAX_ERROR, NO_AT_CMGS,
                                                                 DATA_TIMEOUT)
            code = f"rakel_cme_{final.code}" if final.kind == "cme" else "rakel_refused"
            self._events.append(SendFailed(handle, code, retryable, final.code))

    def _sds(self, item: codec.SdsIndication) -> None:
        try:
            sender = codec.ssi_of(item.calling) if item.calling else None
            destination = codec.ssi_of(item.called)
        except ValueError:
            self._events.append(Noise("SDS with an unreadable identity"))
            return
        try:
            if item.ai_service == 13:
                self._status(sender, destination, sds.parse_status(item.payload))
            elif item.ai_service in (9, 10, 11, 12):
                self._pdu(sender, destination, sds.parse_sds_tl(item.payload))
            else:
                self._events.append(Ignored(f"SDS on AI service {item.ai_service}"))
        except (sds.SdsError, ValueError):
            self._events.append(Noise("undecodable SDS"))

    def _status(self, sender: int | None, destination: int,
                pdu: sds.Status | sds.ShortReport) -> None:
        if isinstance(pdu, sds.ShortReport):
            self._report(sender, pdu.message_ref, pdu.outcome, pdu.type, short=True)
        else:
            self._events.append(StatusReceived(_str(sender), str(destination), pdu.value))

    def _report(self, sender: int | None, ref: int, outcome: str, status: int, *,
                short: bool = False) -> None:
        for key, awaiting in list(self._awaiting.items()):
            if ref in awaiting.refs and (sender is None or key[0] == sender):
                if outcome == "delivered":
                    awaiting.refs.discard(ref)
                    if awaiting.refs:
                        return
                if outcome != "pending":
                    del self._awaiting[key]
                self._events.append(DeliveryReport(awaiting.handle, outcome, status, short))
                return
        self._events.append(Ignored("report for no message we are waiting on"))

    def _pdu(self, sender: int | None, destination: int, pdu: sds.SdsPdu) -> None:
        if isinstance(pdu, sds.Report):
            self._report(sender, pdu.message_ref, pdu.outcome, pdu.status)
            return
        if isinstance(pdu, sds.Unsupported):
            self._events.append(Ignored(f"SDS PID 0x{pdu.pid:02X}: {pdu.reason}"))
            return
        if (pdu.report_request in (sds.ReportRequest.RECEIVED, sds.ReportRequest.BOTH)
                and sender is not None and (self._own is None or destination == self._own)):
            report = codec.cmgs(str(sender), sds.encode_report(pdu.message_ref))
            self._queue.append(_Command(report.split(codec.CR)[0].decode(), report, "report"))
        if pdu.concat is None:
            self._events.append(TextReceived(_str(sender), str(destination), pdu.text,
                                             pdu.message_ref))
            return
        self._part(sender, destination, pdu)

    def _part(self, sender: int | None, destination: int, pdu: sds.TextTransfer) -> None:
        assert pdu.concat is not None
        concat = pdu.concat
        key = (sender, destination, concat.reference, concat.total)
        partial = self._partials.get(key)
        if partial is None:
            partial = _Partial({}, concat.total, pdu.coding, pdu.message_ref,
                               self._clock() + PARTIAL_TTL_S)
            self._partials[key] = partial
            while len(self._partials) > PARTIAL_LIMIT:
                self._partials.popitem(last=False)
                self._events.append(Ignored("too many incomplete texts; oldest dropped"))
        if concat.part == 1:
            partial.coding = pdu.coding
            partial.first_ref = pdu.message_ref
        partial.parts[concat.part] = pdu.raw if pdu.raw is not None else pdu.text
        if len(partial.parts) < partial.total:
            return
        del self._partials[key]
        texts = []
        for n in range(1, partial.total + 1):
            part = partial.parts[n]
            texts.append(part if isinstance(part, str)
                         else sds.decode_text(max(partial.coding, 1), part))
        self._events.append(TextReceived(_str(sender), str(destination), "".join(texts),
                                         partial.first_ref, partial.total))


def _str(ssi: int | None) -> str | None:
    return None if ssi is None else str(ssi)
