"""The PEI session state machine on recorded exchanges: what it writes, what it reports."""

from __future__ import annotations

import pytest

from wis_server.channels.rakel import sds
from wis_server.channels.rakel import session as s

OWN = "2010001"
INCOMING = "82045A0156E4672034302061767374E46E67642076696420556C7269636568616D6E"
CMGS_TEST = b"+CMGS: (0-16777215),(8-1184)\r\nOK\r\n"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def written_lines(session: s.PeiSession) -> list[bytes]:
    return [line for line in session.data_to_send().split(b"\r\n") if line]


def ready_session(clock: Clock | None = None, *, limit: bytes = CMGS_TEST) -> s.PeiSession:
    """A session taken through the whole init sequence, answering as a terminal does."""
    session = s.PeiSession(own_issi=OWN, clock=clock or Clock())
    session.start()
    expected = [b"AT", *[c.encode() for c, _ in s.INIT_COMMANDS]]
    for command in expected:
        assert written_lines(session) == [command]
        session.receive_data(limit if command == b"AT+CMGS=?" else b"\r\nOK\r\n")
    assert session.ready
    return session


def test_initialisation_sequence_and_size_query() -> None:
    session = ready_session(limit=b"+CMGS: (0-16777215),(8-800)\r\nOK\r\n")
    assert session.events() == [s.Ready(800)]
    assert session.max_bits == 800


def test_optional_init_steps_may_fail_required_ones_may_not() -> None:
    session = s.PeiSession(clock=Clock())
    session.start()
    session.data_to_send()
    session.receive_data(b"OK\r\n")  # AT
    assert written_lines(session) == [b"ATE0"]
    session.receive_data(b"ERROR\r\n")  # echo off refused: fine
    assert written_lines(session) == [b"AT+CTOM=0"]
    session.receive_data(b"+CME ERROR: 3\r\n")
    assert session.events() == [s.Fault("initialisation refused at AT+CTOM")]
    assert session.failed and not session.ready
    assert session.data_to_send() == b""


def test_size_query_refused_keeps_the_conservative_default() -> None:
    session = ready_session(limit=b"ERROR\r\n")
    assert session.events() == [s.Ready(s.DEFAULT_MAX_BITS)]


def test_individual_text_with_report_correlated_to_its_reference() -> None:
    session = ready_session()
    session.events()
    session.send_text("d-1", "2011234", "Uppfattat, kvittera")
    (line,) = session.data_to_send().split(b"\x1a")[:1]
    header, hexdata = line.split(b"\r\n")
    assert header == b"AT+CMGS=2011234,184"
    pdu = sds.parse_sds_tl(bytes.fromhex(hexdata.decode()))
    assert isinstance(pdu, sds.TextTransfer)
    assert pdu.text == "Uppfattat, kvittera"
    assert pdu.report_request is sds.ReportRequest.RECEIVED
    ref = pdu.message_ref
    session.receive_data(b"+CMGS: 2\r\nOK\r\n")
    assert session.events() == [s.TextAccepted("d-1", (ref,), 1)]
    # Later: the over-air status, then the destination's report.
    session.receive_data(f"+CMGS: 2,4,{ref}\r\n".encode())
    session.receive_data(f"+CTSDSR: 12,2011234,0,{OWN},0,32\r\n821000{ref:02X}\r\n".encode())
    assert session.events() == [s.OverAir("d-1", 4), s.DeliveryReport("d-1", "delivered", 0)]


def test_report_from_another_terminal_with_the_same_reference_is_not_ours() -> None:
    session = ready_session()
    session.events()
    session.send_text("d-1", "2011234", "Hej")
    session.data_to_send()
    session.receive_data(b"+CMGS: 0\r\nOK\r\n")
    (accepted,) = session.events()
    assert isinstance(accepted, s.TextAccepted)
    ref = accepted.refs[0]
    session.receive_data(f"+CTSDSR: 12,2019999,0,{OWN},0,32\r\n821000{ref:02X}\r\n".encode())
    assert session.events() == [s.Ignored("report for no message we are waiting on")]
    # The right sender, as a TSI with MCC+MNC in front: matched on the SSI.
    session.receive_data(f"+CTSDSR: 12,90199990{2011234:08d},0,{OWN},0,32\r\n"
                         f"821000{ref:02X}\r\n".encode())
    assert session.events() == [s.DeliveryReport("d-1", "delivered", 0)]


def test_failed_and_stored_reports() -> None:
    session = ready_session()
    session.events()
    session.send_text("d-2", "2011234", "Hej")
    session.data_to_send()
    session.receive_data(b"+CMGS: 0\r\nOK\r\n")
    ref = session.events()[0].refs[0]  # type: ignore[union-attr]
    session.receive_data(f"+CTSDSR: 12,2011234,0,{OWN},0,32\r\n821021{ref:02X}\r\n".encode())
    session.receive_data(f"+CTSDSR: 12,2011234,0,{OWN},0,32\r\n82104B{ref:02X}\r\n".encode())
    assert session.events() == [s.DeliveryReport("d-2", "pending", 0x21),
                                s.DeliveryReport("d-2", "failed", 0x4B)]


def test_short_report_arrives_as_a_status() -> None:
    session = ready_session()
    session.events()
    session.send_text("d-3", "2011234", "Hej")
    session.data_to_send()
    session.receive_data(b"+CMGS: 0\r\nOK\r\n")
    ref = session.events()[0].refs[0]  # type: ignore[union-attr]
    session.receive_data(f"+CTSDSR: 13,2011234,0,{OWN},0,16\r\n7E{ref:02X}\r\n".encode())
    assert session.events() == [s.DeliveryReport("d-3", "delivered", 2, short=True)]


def test_group_text_asks_for_no_report() -> None:
    session = ready_session()
    session.events()
    session.send_text("g-1", "9001", "Stabsmöte 14:00 ledningsplats", group=True)
    header, hexdata = session.data_to_send().rstrip(b"\x1a").split(b"\r\n")
    assert header == b"AT+CMGS=9001,264"
    pdu = sds.parse_sds_tl(bytes.fromhex(hexdata.decode()))
    assert isinstance(pdu, sds.TextTransfer)
    assert pdu.report_request is sds.ReportRequest.NONE and not pdu.short_report_allowed
    session.receive_data(b"+CMGS: 0\r\nOK\r\n")
    assert session.events() == [s.TextAccepted("g-1", (pdu.message_ref,), 1)]


def test_long_text_goes_out_in_parts_one_command_at_a_time() -> None:
    session = ready_session(limit=b"+CMGS: (0-16777215),(8-480)\r\nOK\r\n")
    session.events()
    text = "Översvämning längs Ätran, ägare av båtar vid ån ombeds flytta dem. " * 3
    session.send_text("d-4", "2011234", text)
    parts = []
    while True:
        data = session.data_to_send()
        if not data:
            break
        assert data.count(b"\x1a") == 1  # one PDU per command, never two in flight
        header, hexdata = data.rstrip(b"\x1a").split(b"\r\n")
        bits = int(header.split(b",")[1])
        assert bits <= 480
        parts.append(sds.parse_sds_tl(bytes.fromhex(hexdata.decode())))
        assert session.events() == []
        session.receive_data(b"+CMGS: 1\r\nOK\r\n")
    assert len(parts) >= 3
    assert "".join(p.text for p in parts) == text  # type: ignore[union-attr]
    (accepted,) = session.events()
    assert isinstance(accepted, s.TextAccepted) and accepted.parts == len(parts)
    # Every part must be reported before the text counts as delivered.
    for ref in accepted.refs[:-1]:
        session.receive_data(f"+CTSDSR: 12,2011234,0,{OWN},0,32\r\n821000{ref:02X}\r\n".encode())
    assert session.events() == []
    last = accepted.refs[-1]
    session.receive_data(f"+CTSDSR: 12,2011234,0,{OWN},0,32\r\n821000{last:02X}\r\n".encode())
    assert session.events() == [s.DeliveryReport("d-4", "delivered", 0)]


def test_incoming_text_mid_command_is_delivered_and_answered_with_a_report() -> None:
    session = ready_session()
    session.events()
    session.send_text("d-5", "2011234", "Hej")
    session.data_to_send()
    # The incoming SDS arrives between the +CMGS information line and the OK.
    session.receive_data(b"+CMGS: 7\r\n+CTSDSR: 12,2011234,0,2010001,0,272\r\n"
                         + INCOMING.encode() + b"\r\nOK\r\n")
    events = session.events()
    assert events[0] == s.TextReceived("2011234", "2010001", "Väg 40 avstängd vid Ulricehamn",
                                       0x5A)
    assert isinstance(events[1], s.TextAccepted) and events[1].handle == "d-5"
    # The receipt report the sender asked for goes out next, as its own command.
    assert session.data_to_send() == b"AT+CMGS=2011234,32\r\n8210005A\x1a"
    session.receive_data(b"+CMGS: 8\r\nOK\r\n")
    assert session.events() == []


def test_group_addressed_incoming_text_is_not_reported_by_us() -> None:
    session = ready_session()
    session.events()
    session.receive_data(b"+CTSDSR: 12,2011234,0,9001,1,272\r\n" + INCOMING.encode() + b"\r\n")
    assert session.events() == [s.TextReceived("2011234", "9001",
                                               "Väg 40 avstängd vid Ulricehamn", 0x5A)]
    assert session.data_to_send() == b""


def test_incoming_concatenated_text_with_swedish_letters_is_reassembled_out_of_order() -> None:
    session = ready_session()
    session.events()
    text = "Länsstyrelsen: samverkanskonferens kl 15:30, ärende översvämning i Åmål. " * 3
    encoded = sds.encode_texts(text, 0x40, 600)
    assert len(encoded.pdus) >= 3
    order = [*range(1, len(encoded.pdus)), 0]
    for i in order:
        pdu = encoded.pdus[i]
        session.receive_data(f"+CTSDSR: 12,2011234,0,{OWN},0,{len(pdu) * 8}\r\n".encode()
                             + pdu.hex().upper().encode() + b"\r\n")
    assert session.events() == [s.TextReceived("2011234", OWN, text, 0x40, len(encoded.pdus))]


def test_incoming_0x8c_concatenated_sds() -> None:
    session = ready_session()
    session.events()
    first = bytes([0x8C, 0x00, 0x11, 0x03, 2, 1, 0x82, 0x01]) + "Hälsning ".encode("latin-1")
    second = bytes([0x8C, 0x00, 0x12, 0x03, 2, 2]) + "från Älvsbyn".encode("latin-1")
    for pdu in (second, first):
        session.receive_data(f"+CTSDSR: 12,2011234,0,{OWN},0,{len(pdu) * 8}\r\n".encode()
                             + pdu.hex().encode() + b"\r\n")
    assert session.events() == [s.TextReceived("2011234", OWN, "Hälsning från Älvsbyn", 0x11, 2)]


def test_status_message_switches_ai_service_and_back() -> None:
    session = ready_session()
    session.events()
    session.send_status("st-1", "2011234", 0x800B)
    assert session.data_to_send() == b"AT+CTSDS=13,0\r\n"
    session.receive_data(b"OK\r\n")
    assert session.data_to_send() == b"AT+CMGS=2011234,16\r\n800B\x1a"
    session.receive_data(b"+CMGS: 3\r\nOK\r\n")
    assert session.data_to_send() == b"AT+CTSDS=12,0,0,0,0\r\n"
    session.receive_data(b"OK\r\n")
    assert session.events() == [s.TextAccepted("st-1", (), 1)]
    session.receive_data(f"+CTSDSR: 13,2011234,0,{OWN},0,16\r\n8002\r\n".encode())
    assert session.events() == [s.StatusReceived("2011234", OWN, 0x8002)]


def test_syntax_error_recovery_repeats_at_then_the_command_once() -> None:
    session = ready_session()
    session.events()
    session.send_text("d-6", "2011234", "Hej")
    first = session.data_to_send()
    session.receive_data(b"+CME ERROR: 35\r\n")
    assert session.data_to_send() == b"AT\r\n"
    session.receive_data(b"+CME ERROR: 35\r\n")
    assert session.data_to_send() == b"AT\r\n"
    session.receive_data(b"OK\r\n")
    assert session.data_to_send() == first  # the same PDU, the same message reference
    session.receive_data(b"+CMGS: 4\r\nOK\r\n")
    assert [type(e) for e in session.events()] == [s.TextAccepted]


def test_syntax_error_twice_fails_the_message_as_retryable() -> None:
    session = ready_session()
    session.events()
    session.send_text("d-7", "2011234", "Hej")
    session.data_to_send()
    session.receive_data(b"+CME ERROR: 35\r\n")
    session.data_to_send()
    session.receive_data(b"OK\r\n")
    session.data_to_send()
    session.receive_data(b"+CME ERROR: 35\r\n")
    assert session.events() == [s.SendFailed("d-7", "rakel_cme_35", True, 35)]


def test_other_cme_errors_fail_the_message_and_drop_its_other_parts() -> None:
    session = ready_session(limit=b"+CMGS: (8-400)\r\nOK\r\n")
    session.events()
    session.send_text("d-8", "2011234", "å" * 200)
    session.data_to_send()
    session.receive_data(b"+CME ERROR: 4\r\n")
    assert session.events() == [s.SendFailed("d-8", "rakel_cme_4", False, 4)]
    assert session.data_to_send() == b""


def test_unanswered_command_is_a_fault_and_restart_fails_unfinished_sends() -> None:
    clock = Clock()
    session = ready_session(clock)
    session.events()
    session.send_text("d-9", "2011234", "Hej")
    session.data_to_send()
    deadline = session.next_deadline()
    assert deadline is not None
    clock.now = deadline - 0.001
    session.tick()
    assert session.events() == []
    clock.now = deadline
    session.tick()
    assert session.events() == [s.SendFailed("d-9", "terminal_lost", True),
                                s.Fault("terminal did not answer in time")]
    session.start()
    assert session.data_to_send() == b"AT\r\n"


def test_terminal_that_errors_every_probe_is_a_fault() -> None:
    session = s.PeiSession(clock=Clock())
    session.start()
    for _ in range(s.RECOVERY_PROBES):
        assert session.data_to_send() == b"AT\r\n"
        session.receive_data(b"ERROR\r\n")
    assert session.events() == [s.Fault("terminal answers every command with an error")]


@pytest.mark.parametrize("garbage", [
    b"\xff\xfe\xfd\r\n", b"+CTSDSR: 12,2011234,0,2010001,0,32\r\nZZZZ\r\n",
    b"+CTSDSR: 12,2011234,0,2010001,0,32\r\n82\r\n", b"+CTSDSR: 12,ab,0,cd,0,32\r\n",
    b"+CTSDSR: 12,2011234,0,2010001,0,32\r\n8A00C901050003C90203\r\n", b"\x00" * 5000,
    b"+CMGS: 1,2,x\r\n", b"OK\r\n", b"random words\r\n",
])
def test_garbage_never_raises_and_the_session_keeps_working(garbage: bytes) -> None:
    session = ready_session()
    session.events()
    session.receive_data(garbage)
    events = session.events()
    assert all(isinstance(e, s.Noise | s.Ignored) for e in events)
    session.send_text("d-10", "2011234", "Hej")
    assert session.data_to_send().startswith(b"AT+CMGS=2011234,")
    session.receive_data(b"+CMGS: 1\r\nOK\r\n")
    assert [type(e) for e in session.events()] == [s.TextAccepted]


def test_echoed_commands_are_ignored() -> None:
    session = ready_session()
    session.events()
    session.send_text("d-11", "2011234", "Hej")
    sent = session.data_to_send()
    session.receive_data(sent.split(b"\r\n")[0] + b"\r\n+CMGS: 1\r\nOK\r\n")
    assert [type(e) for e in session.events()] == [s.TextAccepted]


def test_unsolicited_voice_codes_mid_command_do_not_disturb_it() -> None:
    session = ready_session()
    session.events()
    session.send_text("d-12", "2011234", "Hej")
    session.data_to_send()
    session.receive_data(b"+CTXG: 1,3,0,0,0,0\r\n+CMGS: 1\r\n+CDTXC: 1,0\r\nOK\r\n")
    events = session.events()
    assert events[:2] == [s.Ignored("unsolicited +CTXG"), s.Ignored("unsolicited +CDTXC")]
    assert isinstance(events[2], s.TextAccepted)


def test_incomplete_concatenated_texts_expire() -> None:
    clock = Clock()
    session = ready_session(clock)
    session.events()
    encoded = sds.encode_texts("ö" * 300, 9, 1184)
    pdu = encoded.pdus[0]
    session.receive_data(f"+CTSDSR: 12,2011234,0,{OWN},0,{len(pdu) * 8}\r\n".encode()
                         + pdu.hex().encode() + b"\r\n")
    assert session.events() == []
    clock.now += s.PARTIAL_TTL_S
    session.tick()
    assert session.events() == [s.Ignored("concatenated text incomplete; parts dropped")]


def test_too_long_for_the_allowed_parts() -> None:
    session = ready_session()
    session.events()
    session.send_text("d-13", "2011234", "x" * 2000, max_parts=3)
    assert session.events() == [s.SendFailed("d-13", "rakel_too_long", False)]
    assert session.data_to_send() == b""


def test_a_report_may_overtake_the_ok_of_the_last_part() -> None:
    session = ready_session(limit=b"+CMGS: (8-400)\r\nOK\r\n")
    session.events()
    session.send_text("d-14", "2011234", "ä" * 80)
    refs = []
    while data := session.data_to_send():
        hexdata = data.rstrip(b"\x1a").split(b"\r\n")[1]
        ref = bytes.fromhex(hexdata.decode())[2]
        refs.append(ref)
        # The destination's report for this part arrives before the terminal's OK.
        session.receive_data(f"+CMGS: 1\r\n+CTSDSR: 12,2011234,0,{OWN},0,32\r\n"
                             f"821000{ref:02X}\r\nOK\r\n".encode())
    assert len(refs) == 2
    events = session.events()
    assert s.DeliveryReport("d-14", "delivered", 0) in events
    assert any(isinstance(e, s.TextAccepted) for e in events)


def test_refresh_reruns_the_init_sequence_on_the_same_line() -> None:
    session = ready_session()
    session.events()
    assert session.idle
    session.refresh()
    for command, _ in s.INIT_COMMANDS:
        assert written_lines(session) == [command.encode()]
        session.receive_data(CMGS_TEST if command == "AT+CMGS=?" else b"OK\r\n")
    assert session.events() == [s.Ready(1184)]
    assert session.ready and session.idle
