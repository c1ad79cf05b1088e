"""SDS-TL PDUs (ETSI TS 100 392-2 §29): text transfers, reports, short reports, status. Pure.

    PDU bytes ──parse_sds_tl──▶ TextTransfer | Report | ConcatPart | Unsupported
    text ──encode_texts(max_bits)──▶ [one 0x82 PDU] or [0x8A PDU with a UDH per part]

Layout of a TRANSFER (byte 0 PID ≥ 0x80 carries the SDS-TL header):
    PID | type<<4 · report request<<2 · service selection/short form<<1 · store/forward |
    message reference | text header (timestamp flag<<7 · coding scheme) [timestamp 3 bytes]
    [0x8A: UDH len, IE 0x00, IE len 3, concat ref, total, part (1-based)] | text
A REPORT is `PID, 0x10 (|0x08 ack required), status, message reference`; a SHORT REPORT is a
16-bit status value `0x7C|type, message reference`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import IntEnum


class SdsError(ValueError):
    """A PDU that cannot be understood. The reader turns it into an event, never a crash."""


class Pid(IntEnum):
    SIMPLE_TEXT = 0x02
    SIMPLE_IMMEDIATE_TEXT = 0x09
    LIP = 0x0A
    SIMPLE_CONCAT = 0x0C
    TEXT = 0x82
    IMMEDIATE_TEXT = 0x89
    TEXT_UDH = 0x8A
    CONCAT_SDS_TL = 0x8C


class Coding(IntEnum):
    """Text coding scheme (7 bits of the text header). ISO 8859-n follow in table order."""

    GSM7 = 0
    LATIN1 = 1
    LATIN9 = 13  # ISO 8859-15: Latin-1 plus €, Š, Ž, Œ ...
    UTF16 = 26


# Coding scheme → Python codec (1..10 are 8859-1..-10, then -13, -14, -15).
_CODECS: dict[int, str] = {n: f"iso8859_{n}" for n in range(1, 11)}
_CODECS.update({11: "iso8859_13", 12: "iso8859_14", 13: "iso8859_15", 26: "utf_16_be"})


class ReportRequest(IntEnum):
    NONE = 0
    RECEIVED = 1
    CONSUMED = 2
    BOTH = 3


class MessageType(IntEnum):
    TRANSFER = 0
    REPORT = 1
    ACK = 2


class ShortReportType(IntEnum):
    NOT_SUPPORTED = 0
    MEMORY_FULL = 1
    RECEIVED = 2
    CONSUMED = 3


MAX_PDU_BITS = 2047  # SDS type 4
TEXT_HEADER_BYTES = 3 + 1  # PID, type byte, message reference, text header
UDH_BYTES = 6


@dataclass(frozen=True, slots=True)
class Concat:
    """A concatenation header: all parts share `reference`; `part` counts from 1."""

    reference: int
    total: int
    part: int


@dataclass(frozen=True, slots=True)
class TextTransfer:
    pid: int
    message_ref: int
    report_request: ReportRequest
    short_report_allowed: bool
    coding: int
    text: str
    timestamp: bytes | None = None
    concat: Concat | None = None
    raw: bytes | None = None  # 0x8C parts after the first: text bytes in part 1's coding


@dataclass(frozen=True, slots=True)
class Report:
    """SDS-REPORT: the destination's answer about our message `message_ref`."""

    pid: int
    status: int
    message_ref: int
    ack_required: bool = False

    @property
    def outcome(self) -> str:
        return report_outcome(self.status)


@dataclass(frozen=True, slots=True)
class ShortReport:
    type: ShortReportType
    message_ref: int

    @property
    def outcome(self) -> str:
        if self.type in (ShortReportType.RECEIVED, ShortReportType.CONSUMED):
            return "delivered"
        return "failed"


@dataclass(frozen=True, slots=True)
class Status:
    """A 16-bit status message (AI service 13); meanings are per organisation."""

    value: int


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A well-formed PDU of a kind the gateway does not handle (LIP, ACK, store/forward...)."""

    pid: int
    reason: str


SdsPdu = TextTransfer | Report | Unsupported


def report_outcome(status: int) -> str:
    """delivered | pending (temporary, stored, flow control) | failed, per the status table."""
    if status < 0x20:
        return "delivered"
    if status < 0x40:
        return "pending"
    if status < 0x60:
        return "failed"
    return "pending"


# --- text coding -------------------------------------------------------------------------

_TYPOGRAPHY = str.maketrans({
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2018": "'", "\u2019": "'", "\u201a": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2026": "...", "\u2009": " ",
    "\u202f": " ", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D",
})


def choose_coding(text: str) -> tuple[int, str]:
    """ISO 8859-1 when the text fits it, else 8859-15 (for €), else 8859-1 with every other
    character replaced by its base letter or "?": å/ä/ö always survive as themselves."""
    text = text.translate(_TYPOGRAPHY)
    for coding in (Coding.LATIN1, Coding.LATIN9):
        try:
            text.encode(_CODECS[coding])
        except UnicodeEncodeError:
            continue
        return int(coding), text
    out = []
    for ch in text:
        try:
            ch.encode("iso8859_1")
            out.append(ch)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch)[:1]
            out.append(base if base.isascii() and base.isprintable() and base else "?")
    return int(Coding.LATIN1), "".join(out)


def encode_text(coding: int, text: str) -> bytes:
    return text.encode(_CODECS[coding])


def decode_text(coding: int, data: bytes) -> str:
    if coding == Coding.GSM7:
        return _decode_gsm7_packed(data)
    codec = _CODECS.get(coding)
    if codec is None:
        raise SdsError(f"text coding scheme {coding} not supported")
    if coding == Coding.UTF16 and len(data) % 2:
        data = data[:-1]
    return data.decode(codec, errors="replace")


_GSM7 = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
         "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")


def _decode_gsm7_packed(data: bytes) -> str:
    """GSM 03.38 septets packed LSB first (no extension table: rare on radios)."""
    value = int.from_bytes(data, "little")
    count = len(data) * 8 // 7
    chars = [_GSM7[(value >> (7 * i)) & 0x7F] for i in range(count)]
    return "".join(chars).rstrip("\x1b").replace("\x1b", "")


# --- encoding ------------------------------------------------------------------------------

def _type_byte(report: ReportRequest, short_report_allowed: bool) -> int:
    return ((MessageType.TRANSFER << 4) | (int(report) << 2)
            | (0 if short_report_allowed else 0x02))


def encode_transfer(message_ref: int, text: str, *, coding: int = Coding.LATIN1,
                    report: ReportRequest = ReportRequest.NONE,
                    short_report_allowed: bool = True, concat: Concat | None = None) -> bytes:
    """One SDS-TRANSFER PDU: PID 0x82, or 0x8A with a concatenation UDH."""
    pid = Pid.TEXT if concat is None else Pid.TEXT_UDH
    out = bytearray([pid, _type_byte(report, short_report_allowed), message_ref & 0xFF,
                     coding & 0x7F])
    if concat is not None:
        out += bytes([5, 0x00, 3, concat.reference & 0xFF, concat.total, concat.part])
    out += encode_text(coding, text)
    return bytes(out)


def max_text_chars(max_bits: int, *, concatenated: bool, coding: int = Coding.LATIN1) -> int:
    """How many characters of a one-byte coding fit one PDU of at most `max_bits`."""
    budget = min(max_bits, MAX_PDU_BITS) // 8 - TEXT_HEADER_BYTES
    if concatenated:
        budget -= UDH_BYTES
    if coding == Coding.UTF16:
        budget //= 2
    return max(budget, 0)


def split_text(text: str, per_part: int) -> list[str]:
    """Cut `text` into parts of at most `per_part` characters, at a space when one is near."""
    parts: list[str] = []
    rest = text
    while len(rest) > per_part:
        cut = rest.rfind(" ", per_part // 2, per_part)
        if cut <= 0:
            cut = per_part
        else:
            cut += 1  # the space stays with the earlier part: joined parts give the text back
        parts.append(rest[:cut])
        rest = rest[cut:]
    parts.append(rest)
    return parts


@dataclass(frozen=True, slots=True)
class EncodedText:
    """The PDUs of one text: `refs[i]` is the message reference of `pdus[i]`."""

    pdus: tuple[bytes, ...]
    refs: tuple[int, ...]
    coding: int


def encode_texts(text: str, first_ref: int, max_bits: int, *,
                 report: ReportRequest = ReportRequest.NONE,
                 short_report_allowed: bool = True, max_parts: int = 255) -> EncodedText:
    """A text as one 0x82 PDU if it fits `max_bits`, else as 0x8A parts with a UDH whose
    reference is `first_ref`; part i carries message reference first_ref + i (mod 256)."""
    coding, clean = choose_coding(text)
    single = max_text_chars(max_bits, concatenated=False, coding=coding)
    if len(clean) <= single:
        return EncodedText((encode_transfer(first_ref, clean, coding=coding, report=report,
                                            short_report_allowed=short_report_allowed),),
                           (first_ref & 0xFF,), coding)
    per_part = max_text_chars(max_bits, concatenated=True, coding=coding)
    if per_part <= 0:
        raise SdsError("the terminal's limit leaves no room for text")
    chunks = split_text(clean, per_part)
    if len(chunks) > min(max_parts, 255):
        raise SdsError("text needs more parts than allowed")
    pdus, refs = [], []
    for i, chunk in enumerate(chunks):
        ref = (first_ref + i) & 0xFF
        concat = Concat(first_ref & 0xFF, len(chunks), i + 1)
        pdus.append(encode_transfer(ref, chunk, coding=coding, report=report,
                                    short_report_allowed=short_report_allowed, concat=concat))
        refs.append(ref)
    return EncodedText(tuple(pdus), tuple(refs), coding)


def encode_report(message_ref: int, status: int = 0x00, *, pid: int = Pid.TEXT,
                  ack_required: bool = False) -> bytes:
    return bytes([pid, (MessageType.REPORT << 4) | (0x08 if ack_required else 0),
                  status & 0xFF, message_ref & 0xFF])


def encode_short_report(message_ref: int,
                        kind: ShortReportType = ShortReportType.RECEIVED) -> bytes:
    return bytes([0x7C | int(kind), message_ref & 0xFF])


def encode_status(value: int) -> bytes:
    return (value & 0xFFFF).to_bytes(2, "big")


# --- parsing -------------------------------------------------------------------------------

def parse_status(data: bytes) -> Status | ShortReport:
    """A 16-bit value from AI service 13: a short report (0x7C-0x7F in the high byte) or a
    status message."""
    if len(data) < 2:
        raise SdsError("status shorter than 16 bits")
    value = int.from_bytes(data[:2], "big")
    if (data[0] & 0xFC) == 0x7C:
        return ShortReport(ShortReportType(data[0] & 0x03), data[1])
    return Status(value)


def _parse_text_sdu(data: bytes) -> tuple[int, bytes | None, int]:
    if not data:
        raise SdsError("text SDU without a text header")
    coding = data[0] & 0x7F
    if data[0] & 0x80:
        if len(data) < 4:
            raise SdsError("timestamp flag set but no timestamp")
        return coding, data[1:4], 4
    return coding, None, 1


def parse_sds_tl(data: bytes) -> SdsPdu:
    """One SDS-TL PDU (or a simple text, PID 0x02/0x09). Raises SdsError on malformed data."""
    if not data:
        raise SdsError("empty PDU")
    pid = data[0]
    if pid in (Pid.SIMPLE_TEXT, Pid.SIMPLE_IMMEDIATE_TEXT):
        coding, stamp, start = _parse_text_sdu(data[1:])
        return TextTransfer(pid, -1, ReportRequest.NONE, False, coding,
                            decode_text(coding, data[1 + start:]), stamp)
    if pid < 0x80:
        return Unsupported(pid, "PID without SDS-TL header")
    if len(data) < 3:
        raise SdsError("SDS-TL PDU shorter than its header")
    kind = data[1] >> 4
    if kind == MessageType.REPORT:
        if len(data) < 4:
            raise SdsError("SDS-REPORT shorter than 4 bytes")
        if data[1] & 0x01:
            return Unsupported(pid, "store/forward control in a report")
        return Report(pid, data[2], data[3], bool(data[1] & 0x08))
    if kind != MessageType.TRANSFER:
        return Unsupported(pid, f"SDS-TL message type {kind}")
    if data[1] & 0x01:
        return Unsupported(pid, "store/forward control")
    report = ReportRequest((data[1] >> 2) & 0x03)
    short_allowed = not (data[1] & 0x02)
    ref = data[2]
    body = data[3:]
    if pid in (Pid.TEXT, Pid.IMMEDIATE_TEXT):
        coding, stamp, start = _parse_text_sdu(body)
        return TextTransfer(pid, ref, report, short_allowed, coding,
                            decode_text(coding, body[start:]), stamp)
    if pid == Pid.TEXT_UDH:
        coding, stamp, start = _parse_text_sdu(body)
        udh = body[start:]
        if len(udh) < UDH_BYTES or udh[0] < 5:
            raise SdsError("user data header too short")
        header_len = udh[0]
        if udh[1] == 0x00 and udh[2] == 3:
            concat = Concat(udh[3], udh[4], udh[5])
        elif udh[1] == 0x08 and udh[2] == 4 and len(udh) >= 7:
            concat = Concat(udh[3] | (udh[4] << 8), udh[5], udh[6])
        else:
            raise SdsError("user data header is not a concatenation header")
        if concat.total < 1 or not 1 <= concat.part <= concat.total:
            raise SdsError("concatenation part out of range")
        text = decode_text(coding, udh[1 + header_len:])
        return TextTransfer(pid, ref, report, short_allowed, coding, text, stamp, concat)
    if pid == Pid.CONCAT_SDS_TL:
        return _parse_concat_sds(pid, ref, report, short_allowed, body)
    return Unsupported(pid, "protocol not handled")


def _parse_concat_sds(pid: int, ref: int, report: ReportRequest, short_allowed: bool,
                      body: bytes) -> SdsPdu:
    """PID 0x8C (concatenated SDS-TL, §29.5.14): control byte (type 3 bits, extension bit,
    4-bit reference), optional reference extension, total, part, then (in part 1) the
    payload's PID and the payload. [U] Only text payloads are understood: part 1 must carry a
    text PID and a text header; later parts carry raw text bytes in part 1's coding."""
    if len(body) < 3:
        raise SdsError("concatenated SDS header too short")
    control = body[0]
    if control >> 5:
        return Unsupported(pid, "concatenation PDU type")
    offset = 1
    reference = control & 0x0F
    if control & 0x10:
        reference = (reference << 8) | body[1]
        offset = 2
    if len(body) < offset + 2:
        raise SdsError("concatenated SDS header too short")
    total, part = body[offset], body[offset + 1]
    offset += 2
    if total < 1 or not 1 <= part <= total:
        raise SdsError("concatenation part out of range")
    payload = body[offset:]
    concat = Concat(reference, total, part)
    if part > 1:  # decoded by the reassembler with part 1's coding
        return TextTransfer(pid, ref, report, short_allowed, -1, "", None, concat, payload)
    if not payload or payload[0] not in (Pid.TEXT, Pid.SIMPLE_TEXT, Pid.IMMEDIATE_TEXT):
        return Unsupported(pid, "concatenated payload is not text")
    coding, stamp, start = _parse_text_sdu(payload[1:])
    return TextTransfer(pid, ref, report, short_allowed, coding,
                        decode_text(coding, payload[1 + start:]), stamp, concat)
