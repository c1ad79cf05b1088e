"""Rakel gateway over a pty, beside a bare reference in the same run.

  ours       RakelGateway.send() of short Swedish texts (one SDS each) to an ISSI through the
             simulated terminal: queue → PeiSession → AT+CMGS + hex + Ctrl-Z over the pty →
             the simulator parses, answers +CMGS/OK, delivers, reports → Receipt.
  reference  the same bytes, one command at a time, written by hand over a second pty to the
             same simulator, waiting only for the final OK (no session, no queue, no policy).
  decode     PeiSession.receive_data on recorded +CTSDSR exchanges (concatenated, with å/ä/ö):
             SDS per second in pure Python, no I/O.

Numbers, not pass/fail; a real terminal is far slower than either (air interface, ~1 SDS/s).

    .venv/bin/python bench/rakel_pei.py
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from wis_server.channels.ports import Message, Rendered
from wis_server.channels.rakel import codec, sds
from wis_server.channels.rakel import gateway as g
from wis_server.channels.rakel import session as pei
from wis_server.channels.rakel.settings import RakelSettings
from wis_server.channels.rakel.simulator import SimulatedNetwork, SimulatedRadio

N = 300
TEXT = "Samverkanskonferens kl 14:00 – svara OK 7Q4K för att kvittera"


async def ours(link: Path) -> float:
    gateway = g.RakelGateway(RakelSettings(device=str(link), issi="2010001"))
    task = asyncio.create_task(gateway.run())
    await asyncio.wait_for(gateway.wait_state("ready"), 30)
    start = time.perf_counter()
    for i in range(N):
        await gateway.send(Message(f"b-{i}", "2011234", Rendered("", TEXT)))
    elapsed = time.perf_counter() - start
    await gateway.aclose()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return N / elapsed


async def reference(link: Path) -> float:
    import serial_asyncio_fast

    reader, writer = await serial_asyncio_fast.open_serial_connection(url=str(link),
                                                                      baudrate=38400)
    coding, clean = sds.choose_coding(TEXT)
    frames = [codec.cmgs("2011234", sds.encode_transfer(i % 256, clean, coding=coding,
                                                        report=sds.ReportRequest.RECEIVED))
              for i in range(N)]
    start = time.perf_counter()
    for frame in frames:
        writer.write(frame)
        while True:
            line = await reader.readline()
            if line.strip() in (b"OK", b"ERROR") or line.startswith(b"+CME"):
                break
    elapsed = time.perf_counter() - start
    writer.close()
    return N / elapsed


def decode_rate() -> float:
    text = "Länsstyrelsen: samverkanskonferens kl 15:30, ärende översvämning i Åmål. " * 3
    encoded = sds.encode_texts(text, 0x40, 600)
    data = b"".join(f"+CTSDSR: 12,2011234,0,2010001,0,{len(p) * 8}\r\n".encode()
                    + p.hex().upper().encode() + b"\r\n" for p in encoded.pdus)
    session = pei.PeiSession(clock=time.monotonic)
    rounds = 2000
    start = time.perf_counter()
    for _ in range(rounds):
        session.receive_data(data)
        session.events()
        session.data_to_send()
    return rounds * len(encoded.pdus) / (time.perf_counter() - start)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        network = SimulatedNetwork()
        network.add_terminal(2011234)
        radio = SimulatedRadio(network, 2010001, Path(tmp) / "pei0")
        radio.plug()
        theirs = await reference(Path(tmp) / "pei0")
        radio.unplug()
        radio.plug()
        mine = await ours(Path(tmp) / "pei0")
        radio.unplug()
        print(f"send over pty: ours={mine:.0f} SDS/s reference={theirs:.0f} SDS/s "
              f"ratio={mine / theirs:.2f}")
        print(f"decode (pure): {decode_rate():.0f} SDS parts/s")


if __name__ == "__main__":
    asyncio.run(main())
