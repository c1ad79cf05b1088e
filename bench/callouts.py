"""Time from a call-out to every first message queued: 100 actors × 3 contact points.

Creating a call-out writes, in ONE transaction, the call-out (sealed message and conference),
its targets and contact points with their codes, each actor's first message as an outbox row
with its delivery, the space event and the audit record — so when `create` returns, every
first message is queued (the dispatcher sends from there). Then "escalate now" queues every
contact point of every actor at once (300 deliveries).

Beside it a bare reference measured in the same run on the same database: the same number of
outbox rows written straight through the storage layer in one transaction (no call-out, no
policy, no audit, no event). Lines end in ratio=ours/reference.

    .venv/bin/python bench/callouts.py                 # SQLite; PostgreSQL too when
    .venv/bin/python bench/callouts.py --repeat 5      # WIS_BENCH_POSTGRES_URL or
                                                       # WIS_TEST_POSTGRES_URL is set
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from common import postgres_url_from_env, scratch_postgres


async def run(url: str, work: Path, args: argparse.Namespace, engine: str) -> None:
    from argon2 import PasswordHasher

    from wis_server.bootstrap import build_services
    from wis_server.classification.crypto import EnvelopeCipher
    from wis_server.classification.keys import generate_keyring
    from wis_server.config import load_settings
    from wis_server.domain.callouts import Conference
    from wis_server.domain.levels import Classification, ContactKind, Role, SpaceType
    from wis_server.domain.model import ContactPoint, Participant
    from wis_server.domain.notifications import Channel
    from wis_server.domain.outbox import Address, Attempt, OutboxDraft, Recipient
    from wis_server.services.passwords import Passwords
    from wis_server.services.ports import NullPublisher, system_clock
    from wis_server.storage.database import Database
    from wis_server.storage.migrate import migrate
    from wis_server.storage.unit import Store

    keyring = generate_keyring()
    settings = load_settings({"WIS_DATABASE_URL": url, "WIS_DATA_DIR": str(work / "var")})
    database = Database(settings.database.url.reveal())
    try:
        await migrate(database)
        store = Store(database, EnvelopeCipher(keyring), keyring.audit_key)
        services = build_services(
            store, settings, system_clock, NullPublisher(),
            Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)))
        directory = services.directory
        pub = Classification.PUBLIC
        owner = await directory.create_actor(None, "Länsstyrelsen (bench)", "LSTB", pub)
        editor = await directory.create_user(None, owner.id, "editor", "bench-" +
                                             os.urandom(8).hex(), "TiB", Role.EDITOR, pub)
        actors = []
        for n in range(args.actors):
            points = (ContactPoint(ContactKind.SMS, f"+4670{n:07d}", 1, "TiB"),
                      ContactPoint(ContactKind.EMAIL, f"tib{n}@aktor{n}.example", 2, "TiB"),
                      ContactPoint(ContactKind.SMS, f"+4673{n:07d}", 3, "Reserv"))
            actor = await directory.create_actor(None, f"Aktör {n}", f"A{n:04d}", pub, points)
            actors.append(actor.id)
        principal = await directory.principal(editor.id)
        assert principal is not None
        view = await services.spaces.create(
            principal, title="Storm (bench)", description="", type=SpaceType.DISRUPTION,
            classification=pub, participants=[Participant(a) for a in [owner.id, *actors]])
        space_id = view.space.id
        conference = Conference(system_clock() + timedelta(minutes=30), "+46 8 555 123", "4711")

        create, escalate, reference, reference_all = [], [], [], []
        for i in range(args.repeat):
            t0 = time.perf_counter()
            callout = await services.callouts.create(
                principal, space_id, actor_ids=actors, list_id=None,
                message=f"Storm över Mälardalen, samverkanskonferens ({i})",
                conference=conference, deadline_minutes=None)
            create.append(time.perf_counter() - t0)
            assert all(t.state.value == "notified" for t in callout.targets)
            t0 = time.perf_counter()
            await services.callouts.escalate_now(principal, callout.id)
            escalate.append(time.perf_counter() - t0)

            for count, sink in ((args.actors, reference), (args.actors * 3, reference_all)):
                t0 = time.perf_counter()
                async with store.write() as tx:
                    now = system_clock()
                    for n in range(count):
                        await tx.outbox.add(OutboxDraft(
                            kind="bench", classification=pub, subject="AKTIVERING",
                            body="AKTIVERING. Svara OK 123456 för att kvittera.",
                            expires_at=now + timedelta(hours=2), space_id=space_id,
                            recipients=(Recipient((Attempt(Channel.SMS, Address(
                                to=f"+4670{n:07d}"), 0),), actor_id=actors[n % len(actors)],
                                ref=str(n)),)), now)
                sink.append(time.perf_counter() - t0)

        def line(label: str, ours: list[float], ref: list[float]) -> None:
            o, r = statistics.median(ours) * 1000, statistics.median(ref) * 1000
            print(f"{engine:8} {label:58} {o:8.1f} ms   reference {r:8.1f} ms   "
                  f"ratio={o / r:.2f}", flush=True)

        line(f"call-out → {args.actors} first messages queued ({args.actors}×3 points)",
             create, reference)
        line(f"escalate now → {args.actors * 3} messages queued", escalate, reference_all)
    finally:
        await database.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--actors", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"# bench/callouts.py: {args.actors} actors × 3 contact points, median of "
          f"{args.repeat}; reference = the same outbox rows written bare in one transaction")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        await run(f"sqlite:///{work / 'bench.db'}", work, args, "sqlite")
        pg = postgres_url_from_env()
        if pg:
            async with scratch_postgres(pg) as url:
                await run(url, work, args, "postgres")


if __name__ == "__main__":
    asyncio.run(main())
