"""The outbox survives kill -9 (issue 10.4): a dispatcher process is SIGKILLed mid-dispatch,
again and again (at least 20 cycles, bounded in time), and restarted; a recording peer in its
own process fsyncs every message before it answers. Afterwards every delivery reached the
peer (nothing lost) and nothing reached it twice except a same-id resend of a message whose
answer the killed process never recorded — at most the sends in flight at each kill. And two
dispatcher processes on one PostgreSQL share one outbox without a single double send."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, raw_execute
from wis_server.classification.crypto import EnvelopeCipher
from wis_server.classification.keys import Keyring, generate_keyring, save_keyring
from wis_server.domain.levels import Classification, Role, SpaceStatus, SpaceType
from wis_server.domain.model import Actor, Participant, Space, User
from wis_server.domain.notifications import Channel
from wis_server.domain.outbox import Address, Attempt, OutboxDraft, Recipient
from wis_server.services.outbox import enqueue
from wis_server.storage.database import Database
from wis_server.storage.unit import Store

CYCLES = 20
BUDGET_S = 120.0  # the kill loop stops here even if fewer cycles ran (then the test fails)
CONCURRENCY = 4  # the worker's sends in flight (tests/integration/outbox_worker.py)


def new_keyring(keyring_file: Path) -> Keyring:
    keyring = generate_keyring()
    save_keyring(keyring, keyring_file)  # the worker processes load it from here
    return keyring


async def seed(url: str, keyring: Keyring, messages: int) -> list[str]:
    """A space and `messages` deliveries over SMS, written as the services write them."""
    database = Database(url)
    store = Store(database, EnvelopeCipher(keyring), keyring.audit_key)
    now = datetime.now(UTC)
    actor, user = str(uuid.uuid4()), str(uuid.uuid4())
    space = Space(str(uuid.uuid4()), "Storm", "", SpaceType.DISRUPTION, Classification.PUBLIC,
                  SpaceStatus.OPEN, actor, user, (Participant(actor),))
    try:
        async with store.write() as tx:
            short = f"K{actor[:8]}"
            await tx.actors.add(Actor(actor, f"Aktör {short}", short, Classification.HEMLIG),
                                now)
            await tx.users.add(User(user, actor, f"tib{actor[:8]}", "TiB", Role.EDITOR,
                                    Classification.HEMLIG), "x", now)
            await tx.spaces.add(space, now)
            await enqueue(tx, OutboxDraft(
                kind="test", classification=Classification.PUBLIC,
                subject="Informationsunderrättelse", body="Vattnet stiger vid Slussen",
                expires_at=now + timedelta(hours=1), space_id=space.id,
                recipients=tuple(Recipient(
                    (Attempt(Channel.SMS, Address(to=f"+4670{i:07d}"), 0),), actor_id=actor,
                    ref=f"cp{i}") for i in range(messages))), now, space)
        async with store.read() as tx:
            ids = [d.id for d in await tx.outbox.deliveries_of(
                [r[0] for r in await raw_ids(url)]) if d.recipient_actor_id == actor]
    finally:
        await database.dispose()
    return ids


async def raw_ids(url: str) -> list[tuple[Any, ...]]:
    return await raw_execute(url, "SELECT id FROM outbox_messages")


def start_peer(log: Path, delay_ms: float) -> tuple[subprocess.Popen[str], str]:
    peer = subprocess.Popen([sys.executable, "-m", "tests.integration.outbox_peer", str(log),
                             "--delay-ms", str(delay_ms)], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    assert peer.stdout is not None
    port = peer.stdout.readline().strip()
    assert port.isdigit(), "the peer did not start"
    return peer, f"http://127.0.0.1:{port}/sms"


def start_worker(url: str, keyring_file: Path, peer_url: str, name: str, lease_s: float
                 ) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIS_")}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.outbox_worker", url, str(keyring_file),
         peer_url, name, str(lease_s)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)


def wait_ready(worker: subprocess.Popen[str]) -> None:
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "ready", "the worker did not start"


def received(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_bytes().splitlines() if line.strip()]


async def queued(url: str) -> int:
    rows = await raw_execute(url, "SELECT count(*) FROM deliveries WHERE status <> 'sent'")
    return int(rows[0][0])


async def wait_until_all_sent(url: str, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while await queued(url):
        assert time.monotonic() < deadline, "deliveries were never all sent"
        await asyncio.sleep(0.2)


def check_received(log: Path, ids: list[str]) -> dict[str, int]:
    """Nothing lost, nothing different under one id; returns the copies per delivery id."""
    copies: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for doc in received(log):
        copies[doc["delivery_id"]].append((doc["to"], doc["text"]))
    assert set(copies) == set(ids), "a delivery never reached the peer (or an unknown one did)"
    for delivery_id, seen in copies.items():
        assert len(set(seen)) == 1, f"{delivery_id}: a resend differed from the first send"
    return {k: len(v) for k, v in copies.items()}


def kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


async def test_sigkill_in_a_loop_loses_nothing_and_sends_nothing_twice(
        database_url: str, tmp_path: Path) -> None:
    keyring_file = tmp_path / "keyring.json"
    ids = await seed(database_url, new_keyring(keyring_file), messages=500)
    log = tmp_path / "peer.jsonl"
    peer, peer_url = start_peer(log, delay_ms=25)
    rng = random.Random(1010)
    kills = 0
    started = time.monotonic()
    try:
        while kills < CYCLES + 5 and time.monotonic() - started < BUDGET_S:
            before = len(received(log))
            worker = start_worker(database_url, keyring_file, peer_url, f"w{kills}", 1.0)
            try:
                wait_ready(worker)
                # wait for the first message of this cycle (or the end of the outbox), then
                # kill at a random moment while it dispatches
                deadline = time.monotonic() + 30
                while len(received(log)) == before and await queued(database_url):
                    assert time.monotonic() < deadline, "the worker sent nothing"
                    await asyncio.sleep(0.01)
                await asyncio.sleep(rng.uniform(0, 0.3))
            finally:
                kill(worker)
            kills += 1
            if not await queued(database_url):
                break
        in_flight_at_kills = kills
        final = start_worker(database_url, keyring_file, peer_url, "final", 1.0)
        try:
            wait_ready(final)
            await wait_until_all_sent(database_url)
        finally:
            kill(final)
    finally:
        kill(peer)
    copies = check_received(log, ids)
    resent = sum(n - 1 for n in copies.values())
    print(f"kills={kills} messages={len(ids)} same-id resends={resent}")
    assert kills >= CYCLES, f"only {kills} kill cycles within {BUDGET_S} s"
    # a resend happens only for a send whose answer the killed process never recorded
    assert resent <= in_flight_at_kills * CONCURRENCY
    rows = await raw_execute(database_url, "SELECT count(*) FROM deliveries WHERE "
                             "status = 'sent' AND provider_ref IS NOT NULL")
    assert int(rows[0][0]) == len(ids)


# SKIP LOCKED sharing is PostgreSQL's (SQLite has one writer): no SQLite case exists.
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_processes_on_one_postgresql_share_the_outbox_without_double_sends(
        database_url: str, tmp_path: Path) -> None:
    keyring_file = tmp_path / "keyring.json"
    log = tmp_path / "peer.jsonl"
    peer, peer_url = start_peer(log, delay_ms=20)
    workers: list[subprocess.Popen[str]] = []
    try:
        # the outbox is filled only after both processes poll it, so both compete for it
        keyring = new_keyring(keyring_file)
        workers = [start_worker(database_url, keyring_file, peer_url, name, 60.0)
                   for name in ("one", "two")]
        for worker in workers:
            wait_ready(worker)
        ids = await seed(database_url, keyring, messages=400)
        await wait_until_all_sent(database_url)
    finally:
        for worker in workers:
            kill(worker)
        kill(peer)
    copies = check_received(log, ids)
    assert set(copies.values()) == {1}, "a delivery was sent twice"
    by_worker = await raw_execute(database_url, "SELECT claimed_by, count(*) FROM deliveries "
                                  "GROUP BY claimed_by")
    print("deliveries per process:", dict(by_worker))
