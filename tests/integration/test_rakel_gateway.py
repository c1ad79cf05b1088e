"""The Rakel gateway through a simulated terminal that speaks PEI on a real pty.

Nothing here waits for a fixed time: every wait is for an event or a state, bounded by a
generous timeout that only turns a hang into a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wis_server.channels.compose import compose
from wis_server.channels.errors import (
    ChannelUnavailable,
    InvalidAddress,
    PermanentError,
    TransientError,
)
from wis_server.channels.ports import Channel, Message, Rendered
from wis_server.channels.rakel import gateway as g
from wis_server.channels.rakel.settings import RakelSettings
from wis_server.channels.rakel.simulator import SimulatedNetwork, SimulatedRadio
from wis_server.channels.render import render
from wis_server.classification.channel_policy import (
    ChannelKind,
    MessageContent,
    apply,
    carried_level,
)
from wis_server.domain.levels import Classification

OWN, ALICE, BOB, GROUP = 2010001, 2011234, 2011235, 9001
BOUND = 30.0  # a hang becomes a failure; nothing waits this long when things work

LONG = ("Länsstyrelsen i Västra Götaland kallar till samverkanskonferens kl 14:00 om "
        "översvämningen längs Ätran och Viskan. Räddningstjänsten Södra Älvsborg, Region "
        "Halland och Trafikverket deltar. Svara OK 7Q4K för att kvittera. Åtgärder: stäng "
        "gång- och cykelvägar längs ån, förbered evakuering av äldreboendet i Öxabäck.")


class Rig:
    def __init__(self, radio: SimulatedRadio, gateway: g.RakelGateway,
                 network: SimulatedNetwork) -> None:
        self.radio, self.gateway, self.network = radio, gateway, network
        self._events = gateway.inbound()

    async def next_event(self, kind: type[Any]) -> Any:
        async def find() -> Any:
            async for event in self._events:
                if isinstance(event, kind):
                    return event
        return await asyncio.wait_for(find(), BOUND)

    async def inbox(self, issi: int, count: int = 1) -> list[str]:
        terminal = self.network.terminals[issi]

        async def wait() -> list[str]:
            while len(terminal.inbox) < count:
                self.network.delivered.clear()
                if len(terminal.inbox) >= count:
                    break
                await self.network.delivered.wait()
            return terminal.inbox
        return await asyncio.wait_for(wait(), BOUND)


def message(delivery_id: str, to: str, text: str, level: Classification | None = None) -> Message:
    return Message(delivery_id=delivery_id, to=to, rendered=Rendered("", text), level=level)


@pytest.fixture
async def rig(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    options = getattr(request, "param", {})
    network = SimulatedNetwork()
    network.add_terminal(ALICE)
    network.add_terminal(BOB)
    network.add_group(GROUP, {ALICE, BOB})
    radio = SimulatedRadio(network, OWN, tmp_path / "pei0",
                           max_bits=options.get("max_bits", 1184),
                           quirk=options.get("quirk", False), prompt=options.get("prompt", False))
    radio.plug()
    settings = RakelSettings(device=str(tmp_path / "pei0"), issi=str(OWN),
                             sekretess=options.get("sekretess", False),
                             command_timeout_s=options.get("command_timeout_s", 10.0),
                             refresh_s=options.get("refresh_s", 300.0))
    gateway = g.RakelGateway(settings)
    task = asyncio.create_task(gateway.run())
    try:
        await asyncio.wait_for(gateway.wait_state("ready"), BOUND)
        yield Rig(radio, gateway, network)
    finally:
        await gateway.aclose()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        radio.unplug()


async def test_initialisation_reads_the_terminal_limit(rig: Rig) -> None:
    assert rig.radio.commands[:3] == ["AT", "ATE0", "AT+CTOM=0"]
    assert "AT+CMGS=?" in rig.radio.commands
    health = rig.gateway.health()
    assert health.state == "ready" and health.connected and health.max_bits == 1184


async def test_swedish_text_to_an_issi_arrives_intact_and_its_report_is_correlated(
        rig: Rig) -> None:
    receipt = await rig.gateway.send(message("del-1", f"issi:{ALICE}", "Väg 40 avstängd vid "
                                             "Ulricehamn – omledning via Åsundsholm"))
    assert receipt.channel is ChannelKind.RAKEL and receipt.delivery_id == "del-1"
    assert receipt.parts == 1 and receipt.provider_id and receipt.provider_id.startswith(
        f"{ALICE}:")
    assert await rig.inbox(ALICE) == ["Väg 40 avstängd vid Ulricehamn - omledning via "
                                      "Åsundsholm"]
    update = await rig.next_event(g.DeliveryUpdate)
    while update.source != "report":
        assert update.delivery_id == "del-1"
        update = await rig.next_event(g.DeliveryUpdate)
    assert (update.delivery_id, update.outcome, update.status) == ("del-1", "delivered", 0)
    assert rig.gateway.health().last_sds_out_at is not None


@pytest.mark.parametrize("rig", [{"max_bits": 600}], indirect=True)
async def test_long_text_is_concatenated_within_the_limit_and_reassembled(rig: Rig) -> None:
    receipt = await rig.gateway.send(message("del-2", str(ALICE), LONG))
    assert receipt.parts >= 3
    assert await rig.inbox(ALICE) == [LONG]
    assert all(len(pdu) * 8 <= 600 for _, pdu in rig.radio.sent_pdus)
    assert {pdu[0] for _, pdu in rig.radio.sent_pdus} == {0x8A}
    update = await rig.next_event(g.DeliveryUpdate)
    while update.source != "report":
        update = await rig.next_event(g.DeliveryUpdate)
    assert (update.delivery_id, update.outcome) == ("del-2", "delivered")


async def test_group_text_reaches_every_member(rig: Rig) -> None:
    await rig.gateway.send(message("del-3", f"gssi:{GROUP}", "Stabsmöte 14:00 ledningsplats"))
    assert await rig.inbox(ALICE) == ["Stabsmöte 14:00 ledningsplats"]
    assert await rig.inbox(BOB) == ["Stabsmöte 14:00 ledningsplats"]
    ((dest, pdu),) = rig.radio.sent_pdus
    assert dest == GROUP and pdu[1] == 0x02  # no report asked of a talkgroup


async def test_inbound_sds_is_delivered_and_the_requested_report_sent(rig: Rig) -> None:
    rig.radio.inject_text(ALICE, "OK 7Q4K", report=True, ref=0x5A)
    event = await rig.next_event(g.InboundSds)
    assert (event.sender, event.destination, event.text) == (str(ALICE), str(OWN), "OK 7Q4K")
    assert rig.gateway.health().last_sds_in_at is not None

    async def report_sent() -> None:
        while not any(pdu == bytes.fromhex("8210005A") for _, pdu in rig.radio.sent_pdus):
            rig.radio.accepted.clear()
            if any(pdu == bytes.fromhex("8210005A") for _, pdu in rig.radio.sent_pdus):
                break
            await rig.radio.accepted.wait()
    await asyncio.wait_for(report_sent(), BOUND)
    assert (ALICE, bytes.fromhex("8210005A")) in rig.radio.sent_pdus


@pytest.mark.parametrize("rig", [{"quirk": True, "prompt": True}], indirect=True)
async def test_inbound_concatenated_text_with_the_length_quirk_and_a_prompt(rig: Rig) -> None:
    rig.radio.inject_text(BOB, LONG, max_bits=480)
    event = await rig.next_event(g.InboundSds)
    assert event.text == LONG and event.parts >= 3 and event.sender == str(BOB)
    await rig.gateway.send(message("del-4", str(BOB), "Uppfattat"))
    assert await rig.inbox(BOB) == ["Uppfattat"]


async def test_sds_arriving_in_the_middle_of_a_command(rig: Rig) -> None:
    rig.radio.inject_text(ALICE, "Brand i Ödeshög", mid_command=True)
    receipt = await rig.gateway.send(message("del-5", str(BOB), "Hej"))
    assert receipt.delivery_id == "del-5"
    event = await rig.next_event(g.InboundSds)
    assert event.text == "Brand i Ödeshög"


async def test_serial_noise_is_counted_and_the_line_keeps_working(rig: Rig) -> None:
    assert isinstance(rig.gateway, Channel)  # the dispatcher's port
    rig.radio.inject_noise(b"\xff\x00\xfe\r\n+CTSDSR: 12,2011234,0,2010001,0,32\r\nZZ\r\n"
                           b"\x1b[0m\r\n")
    rig.radio.inject_text(ALICE, "Efter bruset: ÅÄÖ")
    event = await rig.next_event(g.InboundSds)
    assert event.text == "Efter bruset: ÅÄÖ"
    health = rig.gateway.health()
    assert health.noise >= 2 and health.state == "ready"
    view = health.as_dict()
    assert view["connected"] is True and isinstance(view["last_sds_in_at"], str)
    await rig.gateway.send(message("del-19", str(ALICE), "Hörs"))
    assert await rig.inbox(ALICE) == ["Hörs"]


async def test_outbound_status_message(rig: Rig) -> None:
    receipt = await rig.gateway.send_status("st-1", f"issi:{ALICE}", 0x800B)
    assert receipt.delivery_id == "st-1"
    terminal = rig.network.terminals[ALICE]
    while not terminal.statuses:
        rig.network.delivered.clear()
        await asyncio.wait_for(rig.network.delivered.wait(), BOUND)
    assert terminal.statuses == [0x800B]
    # Texts still go out as SDS-TL afterwards: the terminal is switched back first.
    await rig.gateway.send(message("del-22", str(ALICE), "Efter status"))
    assert await rig.inbox(ALICE) == ["Efter status"]
    i = rig.radio.commands.index("AT+CTSDS=13,0")
    assert rig.radio.commands[i + 1:i + 4] == [
        f"AT+CMGS={ALICE},16", "AT+CTSDS=12,0,0,0,0", rig.radio.commands[i + 3]]
    assert rig.radio.commands[i + 3].startswith(f"AT+CMGS={ALICE},")
    with pytest.raises(PermanentError):
        await rig.gateway.send_status("st-2", str(ALICE), 0x10000)


async def test_inbound_status_message(rig: Rig) -> None:
    rig.radio.inject_status(ALICE, 0x8002)
    event = await rig.next_event(g.InboundStatus)
    assert (event.sender, event.value) == (str(ALICE), 0x8002)


async def test_unplugged_terminal_fails_fast_and_sends_again_after_the_reconnect(
        rig: Rig) -> None:
    """A terminal known to be down does not hold a dispatcher slot for `send_timeout_s`: the
    send fails at once (the dispatcher's breaker hands the recipient on to their next
    channel), nothing is left queued; once the terminal is back, sends go out again."""
    rig.radio.unplug()
    await asyncio.wait_for(rig.gateway.wait_state("down"), BOUND)
    assert not rig.gateway.health().connected
    with pytest.raises(ChannelUnavailable) as down:
        await rig.gateway.send(message("del-6", str(ALICE), "Åter i drift"))
    assert down.value.code == "rakel_not_connected" and down.value.retryable
    assert rig.gateway.health().queue_length == 0
    before = len(rig.radio.commands)
    rig.radio.plug()  # the terminal is back (a new pty behind the same device path)
    await asyncio.wait_for(rig.gateway.wait_state("ready"), BOUND)
    receipt = await asyncio.wait_for(
        rig.gateway.send(message("del-6", str(ALICE), "Åter i drift")), BOUND)
    assert receipt.delivery_id == "del-6"
    assert await rig.inbox(ALICE) == ["Åter i drift"]
    assert rig.radio.commands[before] == "AT"  # initialised again before sending
    health = rig.gateway.health()
    assert health.reconnects >= 1 and health.state == "ready" and health.queue_length == 0


@pytest.mark.parametrize("rig", [{"command_timeout_s": 1.0}], indirect=True)
async def test_terminal_that_stops_answering_is_reconnected_and_the_message_resent(
        rig: Rig) -> None:
    # The 1 s command timeout is the behaviour under test, not a margin: whenever it fires,
    # the outcome asserted is the same (the message goes out once the terminal answers).
    rig.radio.mute = True
    sending = asyncio.create_task(rig.gateway.send(message("del-7", str(ALICE), "Hallå")))
    await asyncio.wait_for(rig.gateway.wait_state("down"), BOUND)
    assert rig.gateway.health().last_fault == "terminal did not answer in time"
    rig.radio.mute = False
    receipt = await asyncio.wait_for(sending, BOUND)
    assert receipt.delivery_id == "del-7"
    assert "Hallå" in await rig.inbox(ALICE)


@pytest.mark.parametrize("rig", [{"refresh_s": 0.2}], indirect=True)
async def test_terminal_restart_behind_an_unbroken_line_is_repaired_by_the_idle_refresh(
        rig: Rig) -> None:
    rig.radio.restart()  # forgets AT+CTSP: incoming SDS would stay in the terminal
    assert not rig.radio.routed
    await asyncio.wait_for(rig.radio.routed_event.wait(), BOUND)
    rig.radio.inject_text(ALICE, "Är ni kvar?")
    event = await rig.next_event(g.InboundSds)
    assert event.text == "Är ni kvar?"
    assert rig.radio.commands.count("AT+CTSP=1,3,130") >= 2  # routed again ...
    assert rig.gateway.health().reconnects == 0  # ... on the same, unbroken line


@pytest.mark.parametrize("rig", [{"refresh_s": 0.2, "command_timeout_s": 1.0}], indirect=True)
async def test_a_dead_idle_terminal_is_noticed_without_traffic(rig: Rig) -> None:
    rig.radio.mute = True
    await asyncio.wait_for(rig.gateway.wait_state("down"), BOUND)
    assert rig.gateway.health().last_fault == "terminal did not answer in time"
    rig.radio.mute = False
    await asyncio.wait_for(rig.gateway.wait_state("ready"), BOUND)


async def test_refused_by_the_terminal(rig: Rig) -> None:
    rig.radio.refuse.append(4)
    with pytest.raises(PermanentError) as refused:
        await rig.gateway.send(message("del-8", str(ALICE), "Hej"))
    assert refused.value.code == "rakel_cme_4"
    rig.radio.refuse.extend([35, 35])  # syntax error twice: retry later
    with pytest.raises(TransientError) as later:
        await rig.gateway.send(message("del-9", str(ALICE), "Hej"))
    assert later.value.code == "rakel_cme_35"
    rig.radio.refuse.append(35)  # once: recovered with AT and sent again
    await rig.gateway.send(message("del-10", str(ALICE), "Hej igen"))
    assert await rig.inbox(ALICE) == ["Hej igen"]


async def test_dropped_and_delayed_messages(rig: Rig) -> None:
    rig.radio.drop = 1
    await rig.gateway.send(message("del-11", str(ALICE), "Försvinner"))
    rig.radio.delay_s = 0.05
    await rig.gateway.send(message("del-12", str(ALICE), "Kommer fram"))
    assert await rig.inbox(ALICE) == ["Kommer fram"]
    update = await rig.next_event(g.DeliveryUpdate)
    while update.source != "report":
        assert update.delivery_id == "del-12"  # nothing at all about the dropped one
        update = await rig.next_event(g.DeliveryUpdate)
    assert update.delivery_id == "del-12"


async def test_hemlig_never_leaves_and_sekretess_only_when_approved(rig: Rig) -> None:
    caps = rig.gateway.capabilities
    assert caps.max_level is Classification.PUBLIC  # WIS_RAKEL_SEKRETESS defaults to false
    with pytest.raises(PermanentError) as refused:
        await rig.gateway.send(message("del-13", str(ALICE), "x", Classification.HEMLIG))
    assert refused.value.code == "level_not_allowed"
    with pytest.raises(PermanentError):
        await rig.gateway.send(message("del-14", str(ALICE), "x", Classification.SEKRETESS))
    assert rig.radio.sent_pdus == []
    # Through the policy, a hemlig item goes out as a content-free pointer only.
    content = MessageContent(level=Classification.HEMLIG, body="Skyddad plats: Bunker 7",
                             title="Ledningsplats", code="7Q4K")
    outgoing = apply(ChannelKind.RAKEL, content, ceiling=caps.max_level)
    assert outgoing.pointer
    rendered = render(outgoing, caps)
    await rig.gateway.send(Message("del-15", str(ALICE), rendered,
                                   level=carried_level(outgoing)))
    (text,) = await rig.inbox(ALICE)
    assert "Bunker" not in text and "Ledningsplats" not in text
    assert text.startswith("Ny information i WIS (HEMLIG)") and "OK 7Q4K" in text


async def test_compose_states_the_carried_level_and_the_gateway_honours_it(rig: Rig) -> None:
    hemlig = MessageContent(level=Classification.HEMLIG, body="Skyddad plats: Bunker 7")
    pointer = compose(rig.gateway, hemlig, delivery_id="del-20", to=str(ALICE))
    assert pointer.level is Classification.PUBLIC and "Bunker" not in pointer.rendered.text
    await rig.gateway.send(pointer)
    sekretess = MessageContent(level=Classification.SEKRETESS, body="Patient flyttad")
    withheld = compose(rig.gateway, sekretess, delivery_id="del-21", to=str(ALICE))
    assert withheld.level is Classification.PUBLIC  # this gateway is not approved: pointer
    await rig.gateway.send(withheld)
    texts = await rig.inbox(ALICE, 2)
    assert all("Bunker" not in t and "Patient" not in t for t in texts)


@pytest.mark.parametrize("rig", [{"sekretess": True}], indirect=True)
async def test_an_approved_gateway_carries_sekretess_but_still_not_hemlig(rig: Rig) -> None:
    caps = rig.gateway.capabilities
    assert caps.max_level is Classification.SEKRETESS
    content = MessageContent(level=Classification.SEKRETESS, body="Patient flyttad till Borås")
    outgoing = apply(ChannelKind.RAKEL, content, ceiling=caps.max_level)
    assert not outgoing.pointer
    await rig.gateway.send(Message("del-16", str(ALICE), render(outgoing, caps),
                                   level=carried_level(outgoing)))
    assert await rig.inbox(ALICE) == ["Patient flyttad till Borås"]
    assert apply(ChannelKind.RAKEL, MessageContent(level=Classification.HEMLIG, body="x"),
                 ceiling=caps.max_level).pointer
    with pytest.raises(PermanentError):
        await rig.gateway.send(message("del-17", str(ALICE), "x", Classification.HEMLIG))


async def test_bad_addresses_and_a_full_queue(rig: Rig, tmp_path: Path) -> None:
    for bad in ("", "tel:+4670", "issi:abc", "gssi:0", "issi:99999999"):
        with pytest.raises(InvalidAddress):
            await rig.gateway.send(message("del-18", bad, "Hej"))
    settings = RakelSettings(device=str(tmp_path / "nowhere"), issi=str(OWN), queue_size=1)
    offline = g.RakelGateway(settings)
    first = asyncio.create_task(offline.send(message("q-1", str(ALICE), "Hej")))
    await asyncio.sleep(0)
    assert offline.health().queue_length == 1
    with pytest.raises(TransientError) as full:
        await offline.send(message("q-2", str(ALICE), "Hej"))
    assert full.value.code == "rakel_queue_full"
    await offline.aclose()
    with pytest.raises(Exception) as closed:
        await first
    assert getattr(closed.value, "code", None) == "rakel_closed"


async def test_tcp_serial_server(tmp_path: Path) -> None:
    """`tcp://host:port`: a serial-over-TCP server in front of the terminal's pty."""
    import serial_asyncio_fast

    network = SimulatedNetwork()
    network.add_terminal(ALICE)
    radio = SimulatedRadio(network, OWN, tmp_path / "pei0")
    radio.plug()

    async def bridge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        serial_reader, serial_writer = await serial_asyncio_fast.open_serial_connection(
            url=str(tmp_path / "pei0"), baudrate=38400)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(4096):
                dst.write(data)
                await dst.drain()
        await asyncio.gather(pump(reader, serial_writer), pump(serial_reader, writer),
                             return_exceptions=True)

    server = await asyncio.start_server(bridge, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    gateway = g.RakelGateway(RakelSettings(device=f"tcp://127.0.0.1:{port}", issi=str(OWN)))
    task = asyncio.create_task(gateway.run())
    try:
        await asyncio.wait_for(gateway.wait_state("ready"), BOUND)
        await asyncio.wait_for(gateway.send(message("t-1", str(ALICE), "Via TCP: åäö")), BOUND)
        terminal = network.terminals[ALICE]
        while not terminal.inbox:
            network.delivered.clear()
            await asyncio.wait_for(network.delivered.wait(), BOUND)
        assert terminal.inbox == ["Via TCP: åäö"]
    finally:
        await gateway.aclose()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        server.close()
        radio.unplug()
