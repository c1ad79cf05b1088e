"""Entries survive kill -9 (issue 13.1): the whole server (`wis serve`, a real process) is
SIGKILLed again and again under concurrent entry writes into two spaces — each POST under
its own Idempotency-Key — and restarted, at least CYCLES times within BUDGET_S. Every kill
lands after a random number of 2xx answers (at once, or a random few milliseconds later)
while the other writers' POSTs are in flight; nothing below depends on where in a request it
lands. The next server processes do their imports while the current one runs
(serve_standby.py); one starts the moment the current one is dead: the restart itself —
settings, keyring, app, lifespan, opening and recovering the database — is the real one.

Afterwards: every POST that got a 2xx answer is stored exactly once with the content sent;
every POST whose answer the kill took was retried with the same key after the restart and
then exists exactly once (whether the killed server had committed it or not); a repeat of an
answered POST after each restart names the same entry (the case "committed, answer lost",
made certain); each space's event seqs are gapless and unique, each entry has exactly one
event and one audit record; the audit chain, with its anchors, verifies (the check `wis
audit verify` runs); and a stream subscription from the start (and one resumed mid-log)
gives each readable entry exactly once, in order, before the next live one. SIGKILL loses no
page cache: this proves commit-before-answer and recovery (SQLite WAL, PostgreSQL), not the
fsync a power cut needs (SQLite's synchronous=FULL)."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import FAST_PASSWORDS, make_settings
from tests.e2e.conftest import LiveServer, free_port, stop_server
from tests.e2e.stream_client import StreamClient
from tests.helpers import ROOT, bearer, clean_env, is_sqlite, raw_execute
from wis_server.bootstrap import runtime
from wis_server.classification.keys import generate_keyring, save_keyring
from wis_server.domain.levels import Classification, Role
from wis_server.services.audit import AuditTrail

CYCLES = 8  # kill -9 and restart this many times ...
BUDGET_S = 120.0  # ... within this (the loop stops here; fewer cycles than CYCLES fail the test)
ANSWERS_BEFORE_KILL = (2, 20)  # a kill lands after a random number of 2xx answers in this range
KILL_DELAY_S = 0.02  # and, every other time, up to this much later (a moment inside a POST)
AHEAD = 2  # server processes importing ahead of the restarts that will need them
WAIT_S = 60.0  # bound of every other wait (readiness, draining, stream frames)
ENTRIES = "/api/v1/spaces/{}/entries"
PASSWORD = "pw-" + secrets.token_urlsafe(12)

# (username, actor, clearance, levels it writes): three writers of actor A, one of B
WRITERS = (("w.a1", "A", Classification.HEMLIG, ("public", "sekretess", "hemlig")),
           ("w.a2", "A", Classification.HEMLIG, ("public", "sekretess", "hemlig")),
           ("w.a3", "A", Classification.HEMLIG, ("public", "hemlig")),
           ("w.b1", "B", Classification.SEKRETESS, ("public", "sekretess")))


@dataclass
class Draft:
    """One entry a writer means to post exactly once, and what became of it."""

    writer: str
    space_id: str
    key: str
    level: str
    body: str
    lost: int = 0  # attempts whose answer never came (the server died under them)
    lost_at: int | None = None  # the kill (0, 1, ...) that first took an answer
    answer: dict[str, Any] | None = None  # the 201 body that finally came

    @property
    def entry(self) -> dict[str, Any]:
        assert self.answer is not None, f"{self.key} never got its 201"
        return self.answer


@dataclass
class Writer:
    username: str
    actor: str
    levels: tuple[str, ...]
    user_id: str = ""
    token: str = ""
    drafts: list[Draft] = field(default_factory=list)


@dataclass
class Load:
    """What the writers share with the killer: where the server is, and the 2xx count."""

    base_url: str
    space_ids: list[str]
    up: asyncio.Event = field(default_factory=asyncio.Event)
    stop: bool = False
    kills: int = 0
    answered: int = 0
    kill_at: int = 1 << 62  # armed by the killer
    kill_now: asyncio.Event = field(default_factory=asyncio.Event)
    unexpected: list[tuple[int, str]] = field(default_factory=list)  # non-201 answers

    def got_answer(self) -> None:
        self.answered += 1
        if self.answered >= self.kill_at:
            self.kill_now.set()


# --- the server process -------------------------------------------------------------------

class Standby:
    """A server process that does its imports, then waits for its `wis serve` line
    (tests/integration/serve_standby.py): the next ones are made while the current one runs."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.integration.serve_standby"], env=env, cwd=ROOT,
                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)

    def serve(self) -> LiveServer:
        """`wis serve` on a fresh port; returns once /readyz answers 200 (bounded)."""
        port = free_port()
        assert self.process.stdin is not None
        self.process.stdin.write(f"serve --host 127.0.0.1 --port {port}\n".encode())
        self.process.stdin.flush()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + WAIT_S
        with httpx.Client(base_url=base, timeout=2) as poll:  # one client: no TLS setup per poll
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"wis serve exited with {self.process.returncode}:\n"
                                         + self.log.read_text(errors="replace")[-4000:])
                try:
                    if poll.get("/readyz").status_code == 200:
                        return LiveServer(base, self.log.parent, {}, self.process, self.env)
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        self.process.kill()
        raise AssertionError("wis serve did not become ready:\n"
                             + self.log.read_text(errors="replace")[-4000:])

    def discard(self) -> None:
        """Not needed after all: end of input, and it exits."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def sigkill(server: LiveServer) -> None:
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=WAIT_S)


# --- the load -----------------------------------------------------------------------------

async def write_until_stopped(load: Load, w: Writer, rng: random.Random) -> None:
    """Post new entries one after the other; a POST without an answer is sent again with the
    same key and body (after the restart) until it gets its 201 — as a careful client does."""
    async with httpx.AsyncClient(timeout=WAIT_S) as client:
        n = 0
        while not load.stop:
            n += 1
            draft = Draft(w.username, rng.choice(load.space_ids),
                          f"{w.username}-{n}-{uuid.uuid4().hex[:8]}", rng.choice(w.levels),
                          f"{w.username} #{n} {secrets.token_hex(6)}")
            w.drafts.append(draft)
            deadline = time.monotonic() + WAIT_S
            while draft.answer is None:
                assert time.monotonic() < deadline, f"{draft.key} never got its 201"
                await asyncio.wait_for(load.up.wait(), WAIT_S)
                try:
                    r = await client.post(
                        load.base_url + ENTRIES.format(draft.space_id),
                        headers={**bearer(w.token), "Idempotency-Key": draft.key},
                        json={"kind": "note", "classification": draft.level,
                              "body": draft.body})
                except httpx.ConnectError:  # not sent: the server is (still) down
                    await asyncio.sleep(0.02)
                    continue
                except httpx.TransportError:  # sent, and the kill took the answer
                    draft.lost += 1
                    if draft.lost_at is None:  # the killer counted the kill before we run
                        draft.lost_at = max(load.kills - 1, 0)
                    await asyncio.sleep(0.02)
                    continue
                if r.status_code != 201:
                    load.unexpected.append((r.status_code, r.text[:300]))
                    await asyncio.sleep(0.05)
                    continue
                draft.answer = r.json()
                load.got_answer()


async def repeat_answered(load: Load, w: Writer) -> None:
    """After a restart, the writer's newest answered POST sent once more (a client unsure
    whether its answer arrived): the same entry comes back, nothing new is written."""
    done = [d for d in w.drafts if d.answer is not None]
    if not done:
        return
    d = done[-1]
    async with httpx.AsyncClient(base_url=load.base_url, timeout=WAIT_S) as client:
        r = await client.post(ENTRIES.format(d.space_id),
                              headers={**bearer(w.token), "Idempotency-Key": d.key},
                              json={"kind": "note", "classification": d.level, "body": d.body})
    assert r.status_code == 201, r.text
    assert (r.json()["id"], r.json()["seq"]) == (d.entry["id"], d.entry["seq"])


# --- setting up and reading back ----------------------------------------------------------

def settings(tmp_path: Path, url: str, keyring_file: Path) -> Any:
    return make_settings(tmp_path, url, WIS_KEYRING_FILE=str(keyring_file))


async def seed_people(tmp_path: Path, url: str, keyring_file: Path) -> dict[str, str]:
    """Actors A (hemlig ceiling) and B (sekretess) and the writers (editors), written as
    `wis actor add` / `wis user add` would, with cheap password hashes; the actors' ids."""
    keyring = generate_keyring()
    save_keyring(keyring, keyring_file)
    actors: dict[str, str] = {}
    async with runtime(settings(tmp_path, url, keyring_file), keyring,
                       passwords=FAST_PASSWORDS) as rt:
        directory = rt.services.directory
        for short, ceiling in (("A", Classification.HEMLIG), ("B", Classification.SEKRETESS)):
            actors[short] = (await directory.create_actor(None, f"Aktör {short}", short,
                                                          ceiling)).id
        for username, actor, clearance, _ in WRITERS:
            await directory.create_user(None, actors[actor], username, PASSWORD, username,
                                        Role.EDITOR, clearance)
    return actors


async def sign_in(base: str, username: str, password: str) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=base) as client:
        r = await client.post("/api/v1/auth/token",
                              json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        me = await client.get("/api/v1/me", headers=bearer(r.json()["access_token"]))
        assert me.status_code == 200, me.text
    return str(r.json()["access_token"]), str(me.json()["id"])


async def entries_as(base: str, token: str, space_id: str) -> list[dict[str, Any]]:
    """The whole log as this user may read it, page by page (bounded)."""
    out: list[dict[str, Any]] = []
    after = 0
    async with httpx.AsyncClient(base_url=base, timeout=WAIT_S) as client:
        for _ in range(1000):
            r = await client.get(ENTRIES.format(space_id), headers=bearer(token),
                                 params={"after": after, "limit": 500})
            assert r.status_code == 200, r.text
            items = r.json()["items"]
            if not items:
                return out
            out += items
            after = items[-1]["seq"]
    raise AssertionError("the log never ended")


async def stream_entry_ids(client: StreamClient, space_id: str, sentinel: str) -> list[str]:
    """The entry ids the subscription delivered, in order, up to the sentinel entry."""
    await client.until(lambda f: f.get("type") == "event" and f["event"] == "entry.created"
                       and f["data"].get("id") == sentinel, WAIT_S)
    events = [f for f in client.events(space_id) if f["event"] == "entry.created"]
    seqs = [f["seq"] for f in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "stream out of order"
    return [f["data"]["id"] for f in events]


# --- the test -----------------------------------------------------------------------------

async def test_sigkill_under_entry_writes_loses_nothing_and_writes_nothing_twice(
        database_url: str, tmp_path: Path) -> None:
    seed = secrets.randbits(32)
    print(f"random seed {seed}")
    rng = random.Random(seed)
    keyring_file = tmp_path / "keyring.json"
    actors = await seed_people(tmp_path, database_url, keyring_file)
    env = clean_env(WIS_DATA_DIR=str(tmp_path / "var"), WIS_DATABASE_URL=database_url,
                    WIS_KEYRING_FILE=str(keyring_file), WIS_COOKIE_SECURE="false",
                    WIS_LOG_LEVEL="warning",
                    # an audit anchor (PostgreSQL's sharded chain) every half second, so kills
                    # land around anchors too
                    WIS_MAINTENANCE_EVERY_S="0.5")
    writers = [Writer(username, actor, levels) for username, actor, _, levels in WRITERS]
    log = tmp_path / "server.log"
    server = Standby(env, log).serve()
    # The next servers, importing while this one runs: one per restart, AHEAD at a time.
    standbys: deque[Standby] = deque()
    spawned = 0

    def refill() -> None:
        nonlocal spawned
        while len(standbys) < AHEAD and spawned < CYCLES:
            standbys.append(Standby(env, log))
            spawned += 1

    refill()
    try:
        for w in writers:
            w.token, w.user_id = await sign_in(server.base_url, w.username, PASSWORD)
        space_ids = []
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            for title in ("Storm", "Översvämning"):  # two spaces: two audit shards, likely
                r = await client.post("/api/v1/spaces", headers=bearer(writers[0].token),
                                      json={"title": title, "description": "",
                                            "type": "disruption", "classification": "hemlig",
                                            "participants": [actors["A"], actors["B"]]})
                assert r.status_code == 201, r.text
                space_ids.append(str(r.json()["id"]))

        load = Load(server.base_url, space_ids)
        load.up.set()
        tasks = [asyncio.create_task(write_until_stopped(load, w, random.Random(rng.random())))
                 for w in writers]
        heads_at_kill: list[dict[str, int]] = []  # per kill: each space's last seq
        restarts: list[float] = []
        started = time.monotonic()
        try:
            while load.kills < CYCLES and time.monotonic() - started < BUDGET_S:
                load.kill_now.clear()
                load.kill_at = load.answered + rng.randint(*ANSWERS_BEFORE_KILL)
                await asyncio.wait_for(load.kill_now.wait(), WAIT_S)
                if rng.random() < 0.5:  # else in the loop step of the answer
                    await asyncio.sleep(rng.uniform(0, KILL_DELAY_S))
                sigkill(server)  # the other writers' POSTs are in flight
                load.kills += 1
                load.up.clear()
                heads_at_kill.append({i: int((await raw_execute(
                    database_url, "SELECT last_seq FROM spaces WHERE id = $1", i))[0][0])
                    for i in space_ids})
                restarting = time.monotonic()
                server = await asyncio.to_thread(standbys.popleft().serve)
                restarts.append(time.monotonic() - restarting)
                refill()
                load.base_url = server.base_url
                await asyncio.gather(*(repeat_answered(load, w) for w in writers))
                load.up.set()
            elapsed = time.monotonic() - started
        finally:
            load.stop = True
            load.up.set()
            done, pending = await asyncio.wait(tasks, timeout=WAIT_S)
            for task in pending:
                task.cancel()
        for task in done:
            task.result()  # a writer's failed assertion surfaces here
        assert not pending, "writers did not finish their last POST"
        drafts = [d for w in writers for d in w.drafts]
        lost = [d for d in drafts if d.lost]
        cycles = load.kills
        print(f"{cycles} kills in {elapsed:.1f} s (a restart until /readyz: "
              f"{sum(restarts) / max(len(restarts), 1):.1f} s on average); {len(drafts)} "
              f"entries in {len(space_ids)} spaces; {len(lost)} POSTs lost their answer and "
              "were retried")
        assert cycles >= CYCLES, f"only {cycles} kill cycles within {BUDGET_S} s"
        assert not load.unexpected, f"answers other than 201: {load.unexpected[:5]}"
        # Every POST as answered: the content sent, by its author, at its level.
        for w in writers:
            for d in w.drafts:
                assert (d.entry["body"], d.entry["classification"], d.entry["author"]["id"]
                        ) == (d.body, d.level, w.user_id), d.key
        ids = [d.entry["id"] for d in drafts]
        assert len(set(ids)) == len(ids), "two POSTs were answered with one entry"
        # A retried POST that the killed server had committed is the earlier entry (its seq
        # is at or below the head at the kill); the others were written after the restart.
        replayed = sum(1 for d in lost if d.lost_at is not None
                       and d.entry["seq"] <= heads_at_kill[d.lost_at][d.space_id])
        print(f"of the retried POSTs, {replayed} had been committed before the kill "
              "(answered from the idempotency record), the rest were written on retry")

        # Read back through the API by a user of each actor: exactly once, as sent.
        by_id = {d.entry["id"]: d for d in drafts}
        actor_of = {w.username: w.actor for w in writers}
        readers = {"A": writers[0], "B": writers[3]}
        visible: dict[tuple[str, str], list[str]] = {}  # (actor, space): entry ids in order
        for space_id in space_ids:
            for actor, reader in readers.items():
                items = await entries_as(server.base_url, reader.token, space_id)
                seen = Counter(item["body"] for item in items)
                assert not [b for b, n in seen.items() if n > 1], "an entry is stored twice"
                expected = {d.entry["id"] for d in drafts if d.space_id == space_id and (
                    d.level == "public" or actor_of[d.writer] == actor)}
                assert {item["id"] for item in items} == expected, f"{actor} reads others"
                for item in items:
                    d = by_id[item["id"]]
                    assert (item["body"], item["classification"], item["seq"]) == (
                        d.body, d.level, d.entry["seq"])
                visible[actor, space_id] = [item["id"] for item in items]

        # The stream from the start, and resumed mid-log, gives each entry once, in order
        # (in the first space; the other's log is the same code).
        space_id = space_ids[0]
        middle = by_id[visible["A", space_id][len(visible["A", space_id]) // 2]].entry
        from_start_a = await StreamClient.open(server, readers["A"].token)
        resumed_a = await StreamClient.open(server, readers["A"].token)
        from_start_b = await StreamClient.open(server, readers["B"].token)
        try:
            await from_start_a.subscribe(space_id, 0)
            await resumed_a.subscribe(space_id, middle["seq"])
            await from_start_b.subscribe(space_id, 0)
            async with httpx.AsyncClient(base_url=server.base_url) as client:
                r = await client.post(ENTRIES.format(space_id), headers=bearer(writers[0].token),
                                      json={"kind": "note", "classification": "public",
                                            "body": "after the stream subscribed"})
                assert r.status_code == 201, r.text
                sentinel = r.json()["id"]
            for stream, want in (
                    (from_start_a, visible["A", space_id]),
                    (resumed_a, [i for i in visible["A", space_id]
                                 if by_id[i].entry["seq"] > middle["seq"]]),
                    (from_start_b, visible["B", space_id])):
                assert await stream_entry_ids(stream, space_id, sentinel) == [*want, sentinel]
        finally:
            for stream in (from_start_a, resumed_a, from_start_b):
                await stream.close()
    finally:
        for standby in standbys:
            standby.discard()
        if server.process.poll() is None:
            stop_server(server)

    # The store itself: one entry row, one event and one audit record per POST; seqs gapless.
    for space_id in space_ids:
        sent = {i: d.entry["seq"] for i, d in by_id.items() if d.space_id == space_id}
        if space_id == space_ids[0]:
            sent[sentinel] = -1  # posted after the streams subscribed; its seq is not known
        entry_rows = await raw_execute(
            database_url, "SELECT id, seq FROM entries WHERE space_id = $1", space_id)
        assert len(entry_rows) == len(sent)
        assert {r[0]: int(r[1]) for r in entry_rows if r[0] != sentinel} == {
            i: seq for i, seq in sent.items() if i != sentinel}
        events = await raw_execute(database_url, "SELECT seq, kind, ref_id FROM space_events "
                                   "WHERE space_id = $1 ORDER BY seq", space_id)
        head = int((await raw_execute(
            database_url, "SELECT last_seq FROM spaces WHERE id = $1", space_id))[0][0])
        assert [int(e[0]) for e in events] == list(range(1, head + 1)), "space seqs: a gap"
        created = {e[2]: int(e[0]) for e in events if e[1] == "entry.created"}
        assert created == {r[0]: int(r[1]) for r in entry_rows}, "an entry without its event"
        audited = Counter(r[0] for r in await raw_execute(
            database_url, "SELECT target_id FROM audit_log WHERE action = 'entry.create' "
            "AND space_id = $1", space_id))
        assert audited == Counter(r[0] for r in entry_rows), "not one audit record per entry"
    keys = await raw_execute(database_url, "SELECT key, resource_id FROM idempotency_keys "
                             "WHERE resource_type = 'entry'")
    assert dict(keys) == {d.key: d.entry["id"] for d in drafts}
    if is_sqlite(database_url):  # WAL is a property of the file (synchronous=FULL is not)
        assert (await raw_execute(database_url, "PRAGMA journal_mode"))[0][0] == "wal"
    async with runtime(settings(tmp_path, database_url, keyring_file)) as rt:
        verified = await AuditTrail(rt.store).verify()  # what `wis audit verify` runs
    assert verified.ok, verified
    print(f"audit: {verified.checked} records in {len(verified.shards)} shards verified, "
          f"{verified.anchors} anchors matched")
