"""A simulated Rakel terminal that speaks PEI on a pty, and the network around it.

    gateway ──serial──▶ pty slave (a stable symlink) │ pty master ◀── SimulatedRadio
                                                                     │ SDS between ISSIs
                                                     SimulatedNetwork: virtual terminals,
                                                     talkgroups, reports, inboxes

It answers like a real terminal: OK / ERROR / +CME ERROR (35 syntax, 36 data without
AT+CMGS, 37 no data), `+CMGS: (…),(8-<max bits>)` to the size query, `+CMGS: <instance>` then
OK, later the unsolicited `+CMGS: <instance>,4,<ref>`; incoming SDS as `+CTSDSR` + hex, if told
in the middle of a command's response and with the length quirk (a bit count 4 short of the
data). Virtual terminals answer a receipt-report request with an SDS-REPORT. It can be told to
drop, delay or refuse messages, to stop answering, and to unplug (close the pty) and come
back on a new pty behind the same link path.

    python -m wis_server.channels.rakel.simulator --link var/pei0 --issi 2010001 \
        --terminal 2011234 --terminal 2011235 --group 9001=2011234,2011235 --auto-ack \
        [-- wis serve]

With a command after `--` (as `make run` does) the simulator starts it with WIS_RAKEL_DEVICE
and WIS_RAKEL_ISSI pointing at itself and exits when it exits (SIGINT/SIGTERM stop it first),
so the radio never outlives the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import sys
import tty
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from . import sds

CTRL_Z, ESC = 0x1A, 0x1B
_CMGS = re.compile(r"^AT\+CMGS=(\d+),(\d+)$", re.IGNORECASE)
_ACK_CODE = re.compile(r"\bOK ([A-Z0-9]{4,12})\b")


@dataclass(slots=True)
class VirtualTerminal:
    """A radio somewhere in the network: it keeps what it received, reassembled."""

    issi: int
    inbox: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    reports: bool = True  # answers a receipt-report request
    auto_ack: bool = False  # answers "… OK <code> …" with "OK <code>"
    _parts: dict[tuple[int, int], dict[int, str]] = field(default_factory=dict)


class SimulatedNetwork:
    def __init__(self) -> None:
        self.terminals: dict[int, VirtualTerminal] = {}
        self.groups: dict[int, set[int]] = {}
        self.delivered = asyncio.Event()  # set whenever a text completes at a terminal

    def add_terminal(self, issi: int, *, reports: bool = True,
                     auto_ack: bool = False) -> VirtualTerminal:
        terminal = VirtualTerminal(issi, reports=reports, auto_ack=auto_ack)
        self.terminals[issi] = terminal
        return terminal

    def add_group(self, gssi: int, members: set[int]) -> None:
        self.groups[gssi] = set(members)

    def receive(self, issi: int, pdu: bytes, sender: int) -> list[str]:
        """A virtual terminal gets `pdu`; returns the texts it completed."""
        terminal = self.terminals[issi]
        parsed = sds.parse_sds_tl(pdu)
        if not isinstance(parsed, sds.TextTransfer):
            return []
        if parsed.concat is None:
            done = [parsed.text]
        else:
            key = (sender, parsed.concat.reference)
            parts = terminal._parts.setdefault(key, {})
            parts[parsed.concat.part] = parsed.text
            done = []
            if len(parts) == parsed.concat.total:
                del terminal._parts[key]
                done = ["".join(parts[n] for n in range(1, parsed.concat.total + 1))]
        terminal.inbox.extend(done)
        if done:
            self.delivered.set()
        return done


class SimulatedRadio:
    """The gateway's own terminal, on a pty whose slave is reachable at `link`."""

    def __init__(self, network: SimulatedNetwork, issi: int, link: Path, *,
                 max_bits: int = 1184, quirk: bool = False, prompt: bool = False) -> None:
        self.network = network
        self.issi = issi
        self.link = Path(link)
        self.max_bits = max_bits
        self.quirk = quirk  # state 4 bits fewer than the data carries
        self.prompt = prompt  # send "> " after AT+CMGS=… like a GSM modem
        self.mute = False  # read and ignore everything: a hung terminal
        self.delay_s = 0.0  # answer every command this much later
        self.refuse: deque[int] = deque()  # +CME ERROR codes for the next AT+CMGS
        self.drop = 0  # accept but never deliver the next N messages
        self.mid_command: deque[bytes] = deque()  # URCs to put between +CMGS: and OK
        self.commands: list[str] = []  # every command line received (tests read it)
        self.sent_pdus: list[tuple[int, bytes]] = []  # (destination, PDU) accepted
        self._master: int | None = None
        self._slave: int | None = None
        self._buffer = bytearray()
        self._awaiting_data: tuple[int, int] | None = None
        self._service = 12
        self._instance = 0
        self._out = bytearray()
        self.routed = True  # AT+CTSP received since the last (re)start: SDS reach the PEI
        self.routed_event = asyncio.Event()
        self.plugged = asyncio.Event()
        self.opened = asyncio.Event()  # the gateway sent its first byte on this pty
        self.accepted = asyncio.Event()  # set whenever an AT+CMGS is accepted

    # -- the cable --

    def plug(self) -> None:
        loop = asyncio.get_running_loop()
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._buffer.clear()
        self._awaiting_data = None
        self._out.clear()
        tmp = self.link.with_name(self.link.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(self.link)
        loop.add_reader(master, self._readable)
        self.opened.clear()
        self.plugged.set()

    def unplug(self) -> None:
        """Pull the cable: the gateway's side sees the line go away."""
        self.plugged.clear()
        if self._master is not None:
            loop = asyncio.get_running_loop()
            loop.remove_reader(self._master)
            loop.remove_writer(self._master)
            os.close(self._master)
            self._master = None
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()

    # -- talking to the gateway --

    def inject_text(self, sender: int, text: str, *, destination: int | None = None,
                    report: bool = False, ref: int = 0x10, max_bits: int | None = None,
                    mid_command: bool = False) -> list[bytes]:
        """A terminal `sender` sends `text` to us (or to a talkgroup we are in)."""
        request = sds.ReportRequest.RECEIVED if report else sds.ReportRequest.NONE
        encoded = sds.encode_texts(text, ref, max_bits or self.max_bits, report=request)
        urcs = [self._ctsdsr(12, sender, destination or self.issi, pdu)
                for pdu in encoded.pdus]
        if not self.routed:
            return list(encoded.pdus)  # kept in the terminal: the PEI never sees it
        for urc in urcs:
            if mid_command:
                self.mid_command.append(urc)
            else:
                self._write(urc)
        return list(encoded.pdus)

    def restart(self) -> None:
        """The terminal reboots behind an unbroken line: boot noise, and it forgets the
        PEI routing, so incoming SDS stay in the terminal until AT+CTSP is sent again."""
        self.routed = False
        self.routed_event.clear()
        self._service = 12
        self._write(b"\x00\xff\r\n")

    def inject_noise(self, data: bytes) -> None:
        """Serial noise on the line (a loose connector, a baud-rate glitch)."""
        self._write(data)

    def inject_status(self, sender: int, value: int) -> None:
        self._write(self._ctsdsr(13, sender, self.issi, sds.encode_status(value)))

    def _ctsdsr(self, ai: int, sender: int, destination: int, pdu: bytes) -> bytes:
        bits = len(pdu) * 8 - (4 if self.quirk else 0)
        kind = 1 if destination in self.network.groups else 0
        return (f"+CTSDSR: {ai},{sender},0,{destination},{kind},{bits}\r\n".encode()
                + pdu.hex().upper().encode() + b"\r\n")

    def _write(self, data: bytes) -> None:
        if self._master is None:
            return
        self._out += data
        self._flush()

    def _flush(self) -> None:
        if self._master is None:
            return
        loop = asyncio.get_running_loop()
        while self._out:
            try:
                written = os.write(self._master, self._out)
            except BlockingIOError:
                loop.add_writer(self._master, self._flush)
                return
            except OSError:
                self._out.clear()
                return
            del self._out[:written]
        loop.remove_writer(self._master)

    def _answer(self, data: bytes) -> None:
        if self.delay_s > 0:
            asyncio.get_running_loop().call_later(self.delay_s, self._write, data)
        else:
            self._write(data)

    def _readable(self) -> None:
        assert self._master is not None
        try:
            chunk = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError:  # EIO: nobody has the slave open (it stays open on our side)
            chunk = b""
        if not chunk:
            return
        self.opened.set()
        if self.mute:
            return
        self._buffer += chunk
        self._process()

    def _process(self) -> None:
        while self._buffer:
            if self._awaiting_data is not None:
                end = next((i for i, b in enumerate(self._buffer) if b in (CTRL_Z, ESC)), -1)
                if end < 0:
                    return
                data, terminator = bytes(self._buffer[:end]), self._buffer[end]
                del self._buffer[:end + 1]
                dest, bits = self._awaiting_data
                self._awaiting_data = None
                if terminator == ESC:
                    self._answer(b"\r\nOK\r\n")
                else:
                    self._user_data(dest, bits, data.strip())
                continue
            cut = [p for p in (self._buffer.find(b"\r"), self._buffer.find(b"\n"),
                               self._buffer.find(bytes([CTRL_Z]))) if p >= 0]
            if not cut:
                return
            end = min(cut)
            raw = bytes(self._buffer[:end])
            stray_data = self._buffer[end] == CTRL_Z
            del self._buffer[:end + 1]
            line = raw.decode("latin-1").strip()
            if stray_data:
                self._answer(b"\r\n+CME ERROR: 36\r\n")  # user data without AT+CMGS
                continue
            if line:
                self._command(line)

    def _command(self, line: str) -> None:
        self.commands.append(line)
        upper = line.upper()
        match = _CMGS.match(line)
        if match:
            self._awaiting_data = (int(match.group(1)), int(match.group(2)))
            if self.prompt:
                self._write(b"\r\n> ")
            return
        if upper == "AT+CMGS=?":
            self._answer(f"\r\n+CMGS: (0-16777215),(8-{self.max_bits})\r\n\r\nOK\r\n".encode())
        elif upper.startswith("AT+CTSP="):
            self.routed = True
            self.routed_event.set()
            self._answer(b"\r\nOK\r\n")
        elif upper in ("AT", "ATE0", "ATE1", "AT+CTOM=0"):
            self._answer(b"\r\nOK\r\n")
        elif upper.startswith("AT+CTSDS="):
            service = upper[9:].split(",")[0]
            if service in ("12", "13"):
                self._service = int(service)
                self._answer(b"\r\nOK\r\n")
            else:
                self._answer(b"\r\n+CME ERROR: 4\r\n")
        elif upper.startswith("AT"):
            self._answer(b"\r\nERROR\r\n")
        else:
            self._answer(b"\r\n+CME ERROR: 35\r\n")  # not a command at all: syntax error

    def _user_data(self, dest: int, bits: int, data: bytes) -> None:
        if not data:
            self._answer(b"\r\n+CME ERROR: 37\r\n")
            return
        try:
            text = data.decode("ascii")
            pdu = bytes.fromhex(text)
        except ValueError:
            self._answer(b"\r\n+CME ERROR: 35\r\n")
            return
        if bits != len(pdu) * 8 or bits > self.max_bits:
            self._answer(b"\r\n+CME ERROR: 35\r\n")
            return
        if self.refuse:
            self._answer(f"\r\n+CME ERROR: {self.refuse.popleft()}\r\n".encode())
            return
        self._instance = (self._instance + 1) % 256
        instance = self._instance
        response = f"\r\n+CMGS: {instance}\r\n".encode()
        while self.mid_command:
            response += self.mid_command.popleft()
        response += b"\r\nOK\r\n"
        self._answer(response)
        self.sent_pdus.append((dest, pdu))
        self.accepted.set()
        if self.drop:
            self.drop -= 1
            return
        asyncio.get_running_loop().call_soon(self._over_air, instance, dest, pdu)

    def _over_air(self, instance: int, dest: int, pdu: bytes) -> None:
        ref = pdu[2] if len(pdu) > 2 else 0
        if self._service == 13:
            self._write(f"\r\n+CMGS: {instance},4,0\r\n".encode())
            terminal = self.network.terminals.get(dest)
            if terminal is not None and len(pdu) == 2:
                terminal.statuses.append(int.from_bytes(pdu, "big"))
                self.network.delivered.set()
            return
        members = ([dest] if dest in self.network.terminals
                   else sorted(self.network.groups.get(dest, ())))
        if not members:
            self._write(f"\r\n+CMGS: {instance},5,{ref}\r\n".encode())
            return
        self._write(f"\r\n+CMGS: {instance},4,{ref}\r\n".encode())
        try:
            parsed = sds.parse_sds_tl(pdu)
        except sds.SdsError:
            return
        for issi in members:
            done = self.network.receive(issi, pdu, self.issi)
            terminal = self.network.terminals[issi]
            individual = dest == issi
            if (individual and terminal.reports and isinstance(parsed, sds.TextTransfer)
                    and parsed.report_request != sds.ReportRequest.NONE):
                self._write(self._ctsdsr(12, issi, self.issi, sds.encode_report(ref)))
            for text in done:
                code = _ACK_CODE.search(text)
                if terminal.auto_ack and code:
                    self.inject_text(issi, f"OK {code.group(1)}", ref=(ref + 100) % 256)


async def _main(args: argparse.Namespace) -> None:
    network = SimulatedNetwork()
    for issi in args.terminal:
        network.add_terminal(int(issi), auto_ack=args.auto_ack)
    for spec in args.group:
        gssi, _, members = spec.partition("=")
        network.add_group(int(gssi), {int(m) for m in members.split(",") if m})
    radio = SimulatedRadio(network, args.issi, Path(args.link), max_bits=args.max_bits,
                           quirk=args.quirk)
    radio.plug()
    print(f"simulated Rakel terminal {args.issi} on {args.link}", flush=True)
    child = await _start(args) if args.command else None
    printing = asyncio.create_task(_print_inboxes(network))
    try:
        if child is None:
            await printing
            return
        code = await child.wait()  # the server stopped: so does the radio
        print(f"simulated Rakel terminal: the server exited ({code}); stopping", flush=True)
        args.exit_code = code
    finally:
        printing.cancel()
        if child is not None and child.returncode is None:
            child.terminate()
            try:
                await asyncio.wait_for(child.wait(), 10.0)
            except TimeoutError:
                child.kill()
                await child.wait()
        radio.unplug()


async def _print_inboxes(network: SimulatedNetwork) -> None:
    seen = {issi: 0 for issi in network.terminals}
    while True:
        network.delivered.clear()
        await network.delivered.wait()
        for issi, terminal in network.terminals.items():
            for text in terminal.inbox[seen[issi]:]:
                print(f"SDS to {issi}: {text}", flush=True)
            seen[issi] = len(terminal.inbox)


async def _start(args: argparse.Namespace) -> asyncio.subprocess.Process:
    """The command after `--` (the server), with WIS_RAKEL_DEVICE / WIS_RAKEL_ISSI pointing
    at this radio; SIGTERM/SIGINT to the simulator stop the child first (`make run`)."""
    env = {**os.environ, "WIS_RAKEL_DEVICE": args.device,  # the stable link, not its pty
           "WIS_RAKEL_ISSI": str(args.issi)}
    child = await asyncio.create_subprocess_exec(*args.command, env=env)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, child.terminate)
    return child


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--link", default="var/pei0", help="path of the pty symlink")
    parser.add_argument("--issi", type=int, default=2010001, help="the gateway radio's ISSI")
    parser.add_argument("--terminal", action="append", default=[], help="a virtual ISSI")
    parser.add_argument("--group", action="append", default=[], help="GSSI=ISSI,ISSI,...")
    parser.add_argument("--max-bits", type=int, default=1184)
    parser.add_argument("--quirk", action="store_true", help="understate SDS bit counts")
    parser.add_argument("--auto-ack", action="store_true",
                        help="virtual terminals answer 'OK <code>' to call-outs")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="after `--`: a command (the server) to run with "
                             "WIS_RAKEL_DEVICE/WIS_RAKEL_ISSI set to this radio; the "
                             "simulator exits when it does")
    args = parser.parse_args(argv)
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    args.exit_code = 0
    args.device = os.path.abspath(args.link)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args))
    if args.exit_code:
        sys.exit(args.exit_code)


if __name__ == "__main__":
    main()
