"""SDS-TL PDUs and PEI line framing, on byte strings as a terminal sends them."""

from __future__ import annotations

import pytest

from wis_server.channels.rakel import codec, sds

# The example exchange of shared/protocols/rakel-pei.md §1.4 (ISSI 2010001, GSSI 9001).
GROUP_TEXT = "8202210153746162736DF674652031343A3030206C65646E696E6773706C617473"
INCOMING = "82045A0156E4672034302061767374E46E67642076696420556C7269636568616D6E"


def test_group_text_encodes_exactly_as_the_recorded_pdu() -> None:
    pdu = sds.encode_transfer(0x21, "Stabsmöte 14:00 ledningsplats",
                              report=sds.ReportRequest.NONE, short_report_allowed=False)
    assert pdu.hex().upper() == GROUP_TEXT
    assert codec.cmgs("9001", pdu) == (b"AT+CMGS=9001,264\r\n" + GROUP_TEXT.encode() + b"\x1a")


def test_incoming_text_with_receipt_request_decodes_latin1() -> None:
    pdu = sds.parse_sds_tl(bytes.fromhex(INCOMING))
    assert isinstance(pdu, sds.TextTransfer)
    assert pdu.text == "Väg 40 avstängd vid Ulricehamn"
    assert pdu.message_ref == 0x5A
    assert pdu.report_request is sds.ReportRequest.RECEIVED
    assert pdu.concat is None


def test_report_encodes_and_parses() -> None:
    assert sds.encode_report(0x5A).hex().upper() == "8210005A"
    report = sds.parse_sds_tl(bytes.fromhex("82100022"))
    assert report == sds.Report(0x82, 0x00, 0x22, False)
    assert report.outcome == "delivered"
    assert sds.Report(0x82, 0x21, 1).outcome == "pending"
    assert sds.Report(0x82, 0x4B, 1).outcome == "failed"
    assert sds.Report(0x82, 0x60, 1).outcome == "pending"  # flow control, not 0x06


def test_concatenated_part_with_timestamp_and_latin9() -> None:
    # tetra-pei's documented example: PID 0x8A, MR C9, 8859-15 with a timestamp, part 1 of 2.
    pdu = sds.parse_sds_tl(bytes.fromhex("8A00C98D045A8F050003C90201") + "Hej €".encode("iso8859_15"))
    assert isinstance(pdu, sds.TextTransfer)
    assert pdu.coding == sds.Coding.LATIN9
    assert pdu.timestamp == bytes.fromhex("045A8F")
    assert pdu.concat == sds.Concat(0xC9, 2, 1)
    assert pdu.text == "Hej €"


def test_long_swedish_text_splits_within_the_terminal_limit_and_rejoins() -> None:
    text = ("Räddningstjänsten i Borås larmar: översvämning vid Viskan, älven stiger. "
            "Samverkanskonferens kl 14:00 på länsstyrelsens brygga. Svara OK 7Q4K för att "
            "kvittera. Åtgärder: stäng gång- och cykelvägar längs ån, förbered evakuering.")
    encoded = sds.encode_texts(text, 200, 1184, report=sds.ReportRequest.RECEIVED)
    assert len(encoded.pdus) == 2
    assert encoded.refs == (200, 201)
    parts = [sds.parse_sds_tl(pdu) for pdu in encoded.pdus]
    for i, (pdu, part) in enumerate(zip(encoded.pdus, parts, strict=True)):
        assert len(pdu) * 8 <= 1184
        assert isinstance(part, sds.TextTransfer)
        assert part.pid == sds.Pid.TEXT_UDH
        assert part.concat == sds.Concat(200, 2, i + 1)
        assert part.message_ref == 200 + i
    assert "".join(p.text for p in parts if isinstance(p, sds.TextTransfer)) == text


def test_a_smaller_terminal_limit_means_more_parts_and_wraps_references() -> None:
    text = "å" * 100 + " " + "ö" * 100
    encoded = sds.encode_texts(text, 254, 400)
    assert all(len(p) * 8 <= 400 for p in encoded.pdus)
    assert encoded.refs[:3] == (254, 255, 0)
    joined = "".join(t.text for t in map(sds.parse_sds_tl, encoded.pdus)
                     if isinstance(t, sds.TextTransfer))
    assert joined == text


def test_short_text_is_one_plain_text_pdu() -> None:
    encoded = sds.encode_texts("OK 7Q4K", 5, 1184)
    assert len(encoded.pdus) == 1
    assert encoded.pdus[0][0] == sds.Pid.TEXT


def test_coding_choice_keeps_swedish_letters_and_euro() -> None:
    assert sds.choose_coding("Åsa, Öland – här") == (1, "Åsa, Öland - här")
    assert sds.choose_coding("pris 5 €") == (13, "pris 5 €")
    coding, text = sds.choose_coding("Łódź ✓ åäö")
    assert coding == 1
    assert text == "Lódz ? åäö"


def test_status_and_short_report() -> None:
    assert sds.parse_status(bytes.fromhex("800B")) == sds.Status(0x800B)
    short = sds.parse_status(bytes.fromhex("7E22"))
    assert short == sds.ShortReport(sds.ShortReportType.RECEIVED, 0x22)
    assert short.outcome == "delivered"
    assert sds.encode_short_report(0x22) == bytes.fromhex("7E22")


def test_utf16_and_gsm7_decoding() -> None:
    pdu = bytes([0x82, 0x00, 0x01, 26]) + "Hej åäö".encode("utf-16-be")
    parsed = sds.parse_sds_tl(pdu)
    assert isinstance(parsed, sds.TextTransfer) and parsed.text == "Hej åäö"
    # "hello" in packed GSM 7-bit is E8 32 9B FD 06
    parsed = sds.parse_sds_tl(bytes([0x82, 0x00, 0x01, 0]) + bytes.fromhex("E8329BFD06"))
    assert isinstance(parsed, sds.TextTransfer) and parsed.text == "hello"


@pytest.mark.parametrize("hexdata", ["", "82", "8200", "8A00C901050003", "8A00C901050003C90203",
                                     "821000", "82047F"])
def test_malformed_pdus_raise_sds_error_only(hexdata: str) -> None:
    with pytest.raises(sds.SdsError):
        sds.parse_sds_tl(bytes.fromhex(hexdata))


def test_unsupported_pdus_are_named_not_raised() -> None:
    assert isinstance(sds.parse_sds_tl(bytes.fromhex("0A1234")), sds.Unsupported)  # LIP
    assert isinstance(sds.parse_sds_tl(bytes.fromhex("82200101")), sds.Unsupported)  # ACK
    assert isinstance(sds.parse_sds_tl(bytes.fromhex("82050101FF")), sds.Unsupported)  # S/F


# --- line framing --------------------------------------------------------------------------

def feed_all(data: bytes, chunk: int = 0) -> list[codec.PeiItem]:
    reader = codec.LineReader()
    if not chunk:
        return reader.feed(data)
    items: list[codec.PeiItem] = []
    for i in range(0, len(data), chunk):
        items += reader.feed(data[i:i + chunk])
    return items


@pytest.mark.parametrize("chunk", [0, 1, 3, 7])
def test_reader_frames_finals_lines_and_sds_in_any_chunking(chunk: int) -> None:
    data = (b"\r\n+CMGS: 0\r\n\r\nOK\r\n+CME ERROR: 35\r\nERROR\r\n"
            b"+CTSDSR: 12,2011234,0,2010001,0,272\r\n" + INCOMING.encode() + b"\r\n")
    items = feed_all(data, chunk)
    assert items == [
        codec.Line("+CMGS: 0"), codec.Final("ok"), codec.Final("cme", 35), codec.Final("error"),
        codec.SdsIndication(12, "2011234", "2010001", 272, bytes.fromhex(INCOMING)),
    ]


def test_length_quirk_trusts_the_hex_digits() -> None:
    # A Motorola radio said 84 bits and sent 22 hex digits (88 bits).
    hexdata = "82040B01486A2072E4646E"
    items = feed_all(b"+CTSDSR: 12,2011234,0,2010001,0,84\r\n" + hexdata.encode() + b"\r\n")
    assert len(items) == 1 and isinstance(items[0], codec.SdsIndication)
    assert items[0].payload == bytes.fromhex(hexdata)
    assert items[0].stated_bits == 84
    parsed = sds.parse_sds_tl(items[0].payload)
    assert isinstance(parsed, sds.TextTransfer) and parsed.text == "Hj rädn"


def test_short_header_forms() -> None:
    assert codec.parse_ctsdsr("+CTSDSR: 13,2010001,16") == codec.SdsHeader(13, None, "2010001", 16)
    assert codec.parse_ctsdsr("+CTSDSR: 12,2010001,0,32") == codec.SdsHeader(12, None, "2010001", 32)
    assert codec.parse_ctsdsr("+CTSDSR: 12,,,9001,1,32,0") == codec.SdsHeader(12, None, "9001", 32)
    assert codec.parse_ctsdsr("+CTSDSR: 12,x,0,9001,1,32") is None
    assert codec.parse_ctsdsr("+CTSDSR: 12") is None


def test_noise_becomes_events_and_the_line_is_still_read() -> None:
    items = feed_all(b"\xff\xfe\x00OK\r\n\x07\x1b\r\n")
    assert items == [codec.Noise("unprintable bytes on the line"), codec.Final("ok"),
                     codec.Noise("unprintable bytes on the line")]


def test_header_without_hex_line_is_noise_and_the_next_line_is_kept() -> None:
    items = feed_all(b"+CTSDSR: 12,2011234,0,2010001,0,32\r\nOK\r\n+CTSDSR: garbage\r\n")
    assert items == [codec.Noise("SDS header without a hex data line"), codec.Final("ok"),
                     codec.Noise("malformed +CTSDSR header")]


def test_endless_line_is_discarded_once() -> None:
    reader = codec.LineReader()
    items = reader.feed(b"A" * (codec.MAX_LINE + 10))
    items += reader.feed(b"B" * 100)
    items += reader.feed(b"C\r\nOK\r\n")
    assert items == [codec.Noise("line too long; discarded"), codec.Final("ok")]


def test_prompt_is_ignored() -> None:
    assert feed_all(b"> \r\n> +CMGS: 4\r\nOK\r\n") == [codec.Line("+CMGS: 4"), codec.Final("ok")]


def test_identities_match_on_the_ssi() -> None:
    assert codec.ssi_of("09011638300023404") == codec.ssi_of("901999900023404") == 23404
    assert codec.ssi_of("2010001") == 2010001
    with pytest.raises(ValueError):
        codec.ssi_of("20x")


def test_command_builders_refuse_injection() -> None:
    assert codec.command("AT+CTOM=0") == b"AT+CTOM=0\r\n"
    with pytest.raises(ValueError):
        codec.command("AT\r\nAT+CTOM=1")
    with pytest.raises(ValueError):
        codec.cmgs("9001;AT", b"\x82")


def test_cmgs_test_answer() -> None:
    assert codec.parse_cmgs_test(["+CMGS: (0-16777215),(0-5),(8-1184)"]) == 1184
    assert codec.parse_cmgs_test(["+CMGS: nonsense"]) is None
