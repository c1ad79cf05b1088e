"""wis-term over the degraded line: time to catch up 100 missed events.

The client signs in and follows a space through the line (tests/degraded_link: 9.6 kbit/s, 1 s
each way, 20 % loss; no outage during the measurement), quits; 100 entries are posted while it
is away; it starts again (session and cursor on disk) and the clock runs until its journal
holds all 100. Once per read path: the sync endpoint's compact encoding (when `zstandard` is
installed), the sync endpoint in JSON, and the per-space long-poll — the bare reference,
measured in the same run. Prints seconds, bytes that crossed the line towards the client, and
bytes per event; the ratio is against the long-poll.

    .venv/bin/python bench/term_catchup.py [--events 100] [--seed 12]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.degraded_link import WORST, degraded_line  # noqa: E402
from tests.e2e.conftest import start_server, stop_server  # noqa: E402
from tests.e2e.term_driver import Api, Term, journal  # noqa: E402


def catch_up(source: str, events: int, seed: int, work: Path) -> tuple[float, int, str]:
    with degraded_line(WORST, seed=seed) as line:
        server = start_server(work / f"srv-{source}", {"WIS_HOST": line.server_host})
        try:
            url = line.connect(int(server.base_url.rsplit(":", 1)[1]))
            lst = Api(server.base_url, "tib.lst", server.demo["tib.lst"])
            me = Api(server.base_url, "tib.sthlm", server.demo["tib.sthlm"])
            space = lst.post("/api/v1/spaces", {
                "title": "Ikapp", "type": "collaboration", "classification": "sekretess",
                "participants": [lst.me["actor"]["id"], me.me["actor"]["id"]]})["id"]
            state = work / f"term-{source}"
            argv = line.wrap([])
            term = Term(argv, state, url, extra_args=["--source", source])
            term.send("loggain tib.sthlm", server.demo["tib.sthlm"], f"följ {space}")
            term.wait_for(r"^Följer ", 120)
            lst.post(f"/api/v1/spaces/{space}/entries",
                     {"kind": "note", "classification": "public", "body": "start"})
            deadline = time.monotonic() + 120
            while len(journal(state)) < 1 and time.monotonic() < deadline:
                time.sleep(0.5)
            term.quit()
            for i in range(events):
                lst.post(f"/api/v1/spaces/{space}/entries", {
                    "kind": ("note", "decision", "measure", "need")[i % 4],
                    "classification": "public",
                    "body": f"Händelse {i}: plogning av infarter pågår, E4 norrgående öppen "
                            f"igen kl {i % 24:02d}.{i % 60:02d}, omledning via E18 upphör."})
            before = line.stats().get("bytes_to_client", 0)
            started = time.monotonic()
            term = Term(argv, state, url, extra_args=["--source", source])
            deadline = started + 600
            while len(journal(state)) < events + 1 and time.monotonic() < deadline:
                time.sleep(0.2)
            took = time.monotonic() - started
            got = len(journal(state)) - 1
            term.quit()
            moved = line.stats().get("bytes_to_client", 0) - before
            if got < events:
                raise SystemExit(f"{source}: only {got} of {events} events in 600 s")
            return took, moved, line.kind
        finally:
            stop_server(server)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    try:
        import zstandard  # noqa: F401

        sources = ["auto", "json", "longpoll"]
    except ImportError:
        sources = ["json", "longpoll"]
    names = {"auto": "sync (compact, zstd + dictionary)", "json": "sync (JSON, gzip)",
             "longpoll": "long-poll per space (reference)"}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for source in sources:
            results[source] = catch_up(source, args.events, args.seed, Path(tmp))
    reference = results["longpoll"][0]
    kind = next(iter(results.values()))[2]
    print(f"line: {kind}, {WORST.describe()} (no outage while catching up)")
    for source, (took, moved, _) in results.items():
        print(f"{names[source]:<36} catch-up of {args.events} events: {took:6.1f} s  "
              f"{moved / 1024:6.1f} kB to the client  {moved / args.events:5.0f} B/event  "
              f"ratio={took / reference:.2f}")


if __name__ == "__main__":
    main()
