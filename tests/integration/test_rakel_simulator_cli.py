"""`python -m wis_server.channels.rakel.simulator` as the demo runs it: a separate process on a
pty, virtual terminals that answer a call-out with `OK <code>`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from wis_server.channels.ports import Message, Rendered
from wis_server.channels.rakel import gateway as g
from wis_server.channels.rakel.settings import RakelSettings

BOUND = 30.0


async def test_simulator_process_answers_a_call_out(tmp_path: Path) -> None:
    link = tmp_path / "pei0"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wis_server.channels.rakel.simulator", "--link", str(link),
        "--issi", "2010001", "--terminal", "2011234", "--group", "9001=2011234",
        "--auto-ack", stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    gateway = g.RakelGateway(RakelSettings(device=str(link), issi="2010001"))
    task: asyncio.Task[None] | None = None
    try:
        banner = await asyncio.wait_for(process.stdout.readline(), BOUND)
        assert banner.decode().startswith("simulated Rakel terminal 2010001")
        task = asyncio.create_task(gateway.run())
        await asyncio.wait_for(gateway.wait_state("ready"), BOUND)
        text = "Kallelse: samverkanskonferens 14:00. Svara OK 7Q4K för att kvittera"
        receipt = await asyncio.wait_for(
            gateway.send(Message("co-1", "issi:2011234", Rendered("", text))), BOUND)
        assert receipt.delivery_id == "co-1"
        line = await asyncio.wait_for(process.stdout.readline(), BOUND)
        assert line.decode().strip() == f"SDS to 2011234: {text}"

        async def reply() -> g.InboundSds:
            async for event in gateway.inbound():
                if isinstance(event, g.InboundSds):
                    return event
            raise AssertionError("inbound ended")
        answer = await asyncio.wait_for(reply(), BOUND)
        assert (answer.sender, answer.text) == ("2011234", "OK 7Q4K")
    finally:
        await gateway.aclose()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        process.terminate()
        await asyncio.wait_for(process.wait(), BOUND)


async def test_simulator_runs_the_server_as_its_child_and_stops_with_it(tmp_path: Path) -> None:
    """`make run`: the command after `--` gets WIS_RAKEL_DEVICE/WIS_RAKEL_ISSI pointing at the
    radio; when it exits the simulator exits too, with its exit status."""
    link = tmp_path / "pei0"
    child = ("import os, sys; print('child', os.environ['WIS_RAKEL_DEVICE'], "
             "os.environ['WIS_RAKEL_ISSI'], os.path.exists(os.environ['WIS_RAKEL_DEVICE']), "
             "flush=True); sys.exit(3)")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wis_server.channels.rakel.simulator", "--link", str(link),
        "--issi", "2010001", "--terminal", "2011234", "--", sys.executable, "-c", child,
        stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(process.communicate(), BOUND)
    lines = out.decode().splitlines()
    assert f"child {link} 2010001 True" in lines  # the stable link, not its pty
    assert process.returncode == 3
    assert not link.exists()  # the pty went with it
