"""PEI line framing (ETSI EN 300 392-5 AT commands): bytes in → lines and SDS indications,
commands → bytes out. Pure; never raises on what the terminal sends.

    bytes ─▶ LineReader.feed ─▶ Final(OK | ERROR | +CME ERROR n) · Line("+CMGS: 0") ·
                                SdsIndication(header + hex data line) · Noise(reason)

- Lines end in CR, LF or both; empty lines are skipped; a leading "> " prompt is dropped.
- `+CTSDSR: <AI svc>,[<calling>],[<type>],<called>,<type>,<bits>[,<E2EE>]` (or the shorter 3-
  and 4-field forms) is followed by one line of upper-case hex. The length quirk: the stated
  bit count can disagree with the data (a radio said 84 bits and sent 22 hex digits), so the
  payload is whatever the hex digits say.
- Serial noise (non-ASCII bytes, control characters, an endless line) becomes a `Noise` event
  and the rest of the line is still read, so a stray byte before "OK" does not lose the OK.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

CR, LF, CTRL_Z = b"\r", b"\n", b"\x1a"
MAX_LINE = 4096  # characters; an SDS of 2047 bits is 512 hex digits
_PRINTABLE = frozenset(string.printable) - frozenset("\r\n\x0b\x0c")
_HEX = re.compile(r"[0-9A-Fa-f]+")


@dataclass(frozen=True, slots=True)
class Final:
    """A command's final result: "ok", "error" or "cme" (with `code`)."""

    kind: str
    code: int | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


@dataclass(frozen=True, slots=True)
class Line:
    """Any other line: an information response or an unsolicited result code."""

    text: str


@dataclass(frozen=True, slots=True)
class SdsIndication:
    """An incoming SDS (+CTSDSR and its data line). `payload` follows the hex digits;
    `stated_bits` is what the header claimed (kept for diagnostics only)."""

    ai_service: int
    calling: str | None
    called: str
    stated_bits: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Noise:
    """Something unreadable arrived. `reason` is fixed text: never the bytes themselves."""

    reason: str


PeiItem = Final | Line | SdsIndication | Noise

_FINAL_OK = {"OK"}
_FINAL_ERROR = {"ERROR", "NO CARRIER"}


def parse_final(text: str) -> Final | None:
    upper = text.strip().upper()
    if upper in _FINAL_OK:
        return Final("ok")
    if upper in _FINAL_ERROR:
        return Final("error")
    for prefix in ("+CME ERROR:", "+CMS ERROR:"):
        if upper.startswith(prefix):
            rest = upper[len(prefix):].strip()
            return Final("cme", int(rest) if rest.isdigit() else None)
    return None


@dataclass(frozen=True, slots=True)
class SdsHeader:
    ai_service: int
    calling: str | None
    called: str
    bits: int


def parse_ctsdsr(text: str) -> SdsHeader | None:
    """The +CTSDSR header, in its 3-, 4-, 6- and 7-field forms; None if malformed."""
    if not text.upper().startswith("+CTSDSR:"):
        return None
    fields = [f.strip() for f in text[8:].split(",")]
    try:
        ai = int(fields[0])
        if len(fields) == 3:
            calling, called, bits = None, fields[1], int(fields[2])
        elif len(fields) == 4:
            calling, called, bits = None, fields[1], int(fields[3])
        elif len(fields) in (6, 7):
            calling, called, bits = fields[1] or None, fields[3], int(fields[5])
        else:
            return None
    except ValueError:
        return None
    if not called.isdigit() or (calling is not None and not calling.isdigit()) or bits < 0:
        return None
    return SdsHeader(ai, calling, called, bits)


class LineReader:
    """Incremental reader: `feed(bytes)` returns the items completed by those bytes."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._overflow = False
        self._header: SdsHeader | None = None

    def feed(self, data: bytes) -> list[PeiItem]:
        items: list[PeiItem] = []
        self._buffer += data
        while True:
            cut = _first_terminator(self._buffer)
            if cut < 0:
                if len(self._buffer) > MAX_LINE:
                    if not self._overflow:
                        items.append(Noise("line too long; discarded"))
                    self._overflow = True
                    self._buffer.clear()
                break
            raw = bytes(self._buffer[:cut])
            del self._buffer[:cut + 1]
            if self._overflow:  # the tail of a discarded line
                self._overflow = False
                continue
            self._line(raw, items)
        return items

    def _line(self, raw: bytes, items: list[PeiItem]) -> None:
        text = raw.decode("latin-1")
        clean = "".join(ch for ch in text if ch in _PRINTABLE)
        if clean != text:
            items.append(Noise("unprintable bytes on the line"))
        clean = clean.strip()
        if clean.startswith(">"):
            clean = clean[1:].strip()
        if not clean:
            return
        header, self._header = self._header, None
        if header is not None:
            if _HEX.fullmatch(clean):
                digits = clean if len(clean) % 2 == 0 else clean + "0"
                items.append(SdsIndication(header.ai_service, header.calling, header.called,
                                           header.bits, bytes.fromhex(digits)))
                return
            items.append(Noise("SDS header without a hex data line"))
        if clean.upper().startswith("+CTSDSR:"):
            parsed = parse_ctsdsr(clean)
            if parsed is None:
                items.append(Noise("malformed +CTSDSR header"))
            else:
                self._header = parsed
            return
        final = parse_final(clean)
        items.append(final if final is not None else Line(clean))


def _first_terminator(buffer: bytearray) -> int:
    positions = [p for p in (buffer.find(CR), buffer.find(LF)) if p >= 0]
    return min(positions) if positions else -1


# --- commands --------------------------------------------------------------------------------

def command(text: str) -> bytes:
    """One AT command line."""
    if any(ch in text for ch in "\r\n\x1a") or not text.isascii():
        raise ValueError("an AT command is one ASCII line")
    return text.encode("ascii") + CR + LF


def cmgs(destination: str, pdu: bytes) -> bytes:
    """`AT+CMGS=<called party>,<bits>` CR LF `<HEX>` Ctrl-Z, written in one go."""
    if not destination.isdigit():
        raise ValueError("destination must be an SSI (digits)")
    return (f"AT+CMGS={destination},{len(pdu) * 8}".encode("ascii") + CR + LF
            + pdu.hex().upper().encode("ascii") + CTRL_Z)


_RANGE = re.compile(r"\((\d+)\s*-\s*(\d+)\)\s*$")


def parse_cmgs_test(lines: list[str]) -> int | None:
    """The largest PDU in bits from the answer to `AT+CMGS=?` (e.g. `+CMGS: ...,(8-1184)`)."""
    for line in lines:
        if line.upper().startswith("+CMGS:"):
            match = _RANGE.search(line)
            if match:
                return int(match.group(2))
    return None


def ssi_of(identity: str) -> int:
    """The SSI of an ITSI/GTSI string: vendors prefix MCC+MNC of varying length, so identities
    are matched on the last 8 digits (an SSI is 24 bits)."""
    digits = identity.strip()
    if not digits.isdigit():
        raise ValueError("identity must be digits")
    return int(digits[-8:])
