"""wis-term's offline outbox and state files: private (0700 directory, 0600 files), durable
before "queued" is said, in order, text dropped once confirmed, and nothing lost to SIGKILL."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from wis_term import store
from wis_term.outbox import CONFIRMED, PENDING, REJECTED, Outbox, request_for

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_items_are_private_ordered_and_keep_their_key(tmp_path: Path):
    box = Outbox(tmp_path / "state" / "outbox")
    a = box.add("entry", "space-1", {"kind": "note", "classification": "hemlig",
                                     "body": "Hemlig text"}, "anteckning")
    b = box.add("ack", "callout-9", {"answer": "acknowledge"}, "kvittens")
    assert mode(box.dir) == 0o700
    assert all(mode(p) == 0o600 for p in box.dir.iterdir())
    again = Outbox(box.dir)  # a restarted client reads the same queue
    assert [(i.n, i.key, i.state) for i in again.pending()] == \
        [(a.n, a.key, PENDING), (b.n, b.key, PENDING)]
    assert a.key != b.key and a.key.startswith("wis-term-")
    assert request_for(again.pending()[0]) == (
        "POST", "/api/v1/spaces/space-1/entries",
        {"kind": "note", "classification": "hemlig", "body": "Hemlig text"})
    assert request_for(again.pending()[1])[1] == "/api/v1/callouts/callout-9/acknowledgements"


def test_confirmed_items_lose_their_text_rejected_are_kept_with_the_reason(tmp_path: Path):
    box = Outbox(tmp_path / "outbox")
    a = box.add("entry", "s", {"kind": "note", "classification": "sekretess",
                               "body": "Namnlista hos regionen"}, "anteckning")
    b = box.add("entry", "s", {"kind": "note", "classification": "hemlig", "body": "x"}, "b")
    box.confirm(a, {"id": "e1", "seq": 7})
    box.reject(b, "classification_above_ceiling", 422)
    items = {i.n: i for i in Outbox(box.dir).items()}
    assert items[a.n].state == CONFIRMED and items[a.n].result == {"id": "e1", "seq": 7}
    assert items[b.n].state == REJECTED and items[b.n].result["code"] == \
        "classification_above_ceiling"
    assert Outbox(box.dir).pending() == []
    on_disk = b"".join(p.read_bytes() for p in box.dir.iterdir())
    assert b"Namnlista" not in on_disk


def test_an_existing_state_directory_open_to_others_is_closed(tmp_path: Path):
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    store.ensure_private_dir(loose)
    assert mode(loose) == 0o700


def test_token_file_holds_only_the_refresh_token(tmp_path: Path):
    tokens = store.TokenFile(store.ensure_private_dir(tmp_path / "st"))
    tokens.save("http://x", "tib.lst", "refresh-abc")
    assert mode(tokens.path) == 0o600
    assert tokens.load() == {"server": "http://x", "username": "tib.lst",
                             "refresh_token": "refresh-abc"}
    tokens.clear()
    assert tokens.load() is None


WRITER = """
import sys
from pathlib import Path
from wis_term.outbox import Outbox
box = Outbox(Path(sys.argv[1]))
for i in range(10_000):
    item = box.add("entry", "s", {"kind": "note", "classification": "public",
                                  "body": "post %d " % i + "x" * 2000}, "l")
    print(item.n, item.key, flush=True)
"""


def test_sigkill_loses_nothing_that_was_reported_queued(tmp_path: Path):
    """A writer prints each item's number once add() returned; it is killed mid-stream.
    Every reported item is on disk, whole, with its key; no torn file is taken for an item."""
    box_dir = tmp_path / "outbox"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "clients" / "fallback"), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(box_dir)],
                             stdout=subprocess.PIPE, text=True, env=env)
    reported: dict[int, str] = {}
    assert child.stdout is not None
    deadline = time.monotonic() + 30
    while len(reported) < 40 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        n, key = line.split()
        reported[int(n)] = key
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    for line in child.stdout:  # anything printed before the kill counts as reported
        n, key = line.split()
        reported[int(n)] = key
    assert len(reported) >= 40
    found = {i.n: i for i in Outbox(box_dir).items()}
    for n, key in reported.items():
        assert found[n].key == key
        assert found[n].payload["body"].startswith(f"post {n - 1} ")
    assert sorted(found) == list(range(1, len(found) + 1))
