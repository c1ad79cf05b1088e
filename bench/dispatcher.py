"""Dispatcher throughput: messages/s from the outbox through the memory channel, beside a bare
reference loop in the same run.

  dispatcher  N deliveries written by `services.outbox.enqueue` (one message, N recipients,
              public level, so the full text is rendered), then `Dispatcher.run_once` until
              the outbox is empty: claim under a lease, decide/decrypt (payload and address
              per delivery), channel policy, render, MemoryChannel.send, and one write
              transaction per delivery to record it (so a kill loses at most what is in flight).
  reference   the same N messages through channel policy → render → MemoryChannel.send in a
              plain loop: no database, no lease, no ledger.

Ends in ratio=<dispatcher/reference>. Numbers, not pass/fail.

    .venv/bin/python bench/dispatcher.py                       # SQLite in a temp dir
    .venv/bin/python bench/dispatcher.py --postgres postgresql://postgres@127.0.0.1/test
    .venv/bin/python bench/dispatcher.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wis_server.channels.dispatcher import Dispatcher, DispatchSettings
from wis_server.channels.memory import MemoryChannel
from wis_server.channels.ports import Message
from wis_server.channels.render import render
from wis_server.classification.channel_policy import ChannelKind, MessageContent, apply
from wis_server.classification.crypto import EnvelopeCipher
from wis_server.classification.keys import generate_keyring
from wis_server.domain.levels import Classification, Role, SpaceStatus, SpaceType
from wis_server.domain.model import Actor, Participant, Space, User
from wis_server.domain.notifications import Channel
from wis_server.domain.outbox import Address, Attempt, OutboxDraft, Recipient
from wis_server.services.outbox import OutboxService, enqueue
from wis_server.services.ports import system_clock
from wis_server.storage.database import Database
from wis_server.storage.migrate import migrate
from wis_server.storage.unit import Store

BODY = "Samverkanskonferens kl 04:00 med anledning av översvämningen i Kista. Ring in 08-123."


async def bench(url: str, n: int, label: str) -> None:
    database = Database(url)
    await migrate(database)
    keyring = generate_keyring()
    store = Store(database, EnvelopeCipher(keyring), keyring.audit_key)
    now = system_clock()
    actor, user = str(uuid.uuid4()), str(uuid.uuid4())
    space = Space(str(uuid.uuid4()), "Kista", "", SpaceType.DISRUPTION, Classification.PUBLIC,
                  SpaceStatus.OPEN, actor, user, (Participant(actor),))
    async with store.write() as tx:
        short = f"B{actor[:6]}"
        await tx.actors.add(Actor(actor, f"Aktör {short}", short, Classification.HEMLIG), now)
        await tx.users.add(User(user, actor, f"u{actor[:8]}", "TiB", Role.EDITOR,
                                Classification.HEMLIG), "x", now)
        await tx.spaces.add(space, now)
        await enqueue(tx, OutboxDraft(
            kind="bench", classification=Classification.PUBLIC, subject="Underrättelse",
            body=BODY, expires_at=now + timedelta(hours=1), space_id=space.id,
            link=f"/#/spaces/{space.id}", recipients=tuple(
                Recipient((Attempt(Channel.EMAIL, Address(to=f"u{i}@example.se"), 0),),
                          actor_id=actor, ref=f"r{i}") for i in range(n))), now, space)
    channel = MemoryChannel(ChannelKind.EMAIL, keep=n)
    dispatcher = Dispatcher(OutboxService(store, system_clock), {ChannelKind.EMAIL: channel},
                            system_clock, DispatchSettings(batch=100, concurrency=16))
    start = time.perf_counter()
    while await dispatcher.run_once():
        pass
    ours = time.perf_counter() - start
    assert len(channel.sent) == n, (len(channel.sent), n)
    await database.dispose()

    bare = MemoryChannel(ChannelKind.EMAIL, keep=n)
    content = MessageContent(level=Classification.PUBLIC, body=BODY, title="Underrättelse",
                             link="https://wis.example/#/spaces/x")
    start = time.perf_counter()
    for i in range(n):
        rendered = render(apply(ChannelKind.EMAIL, content), bare.capabilities)
        await bare.send(Message(f"d-{i}", f"u{i}@example.se", rendered))
    reference = time.perf_counter() - start
    print(f"{label:10} n={n:6}  dispatcher {n / ours:9.0f} msg/s   "
          f"reference {n / reference:9.0f} msg/s   ratio={reference / ours:.4f}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default="")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 500 if args.quick else 3000
    with tempfile.TemporaryDirectory() as tmp:
        await bench(f"sqlite:///{tmp}/bench.db", n, "sqlite")
    if args.postgres:
        import asyncpg

        name = f"wis_bench_{uuid.uuid4().hex[:8]}"
        admin = args.postgres.replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(admin)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        try:
            await bench(admin.rsplit("/", 1)[0] + "/" + name, n, "postgresql")
        finally:
            conn = await asyncpg.connect(admin)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
