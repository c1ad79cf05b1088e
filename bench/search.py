"""Log search at scale: seed one space with N entries (default 10,000) and time the log's
filters and its text search through the services (no HTTP), on SQLite and PostgreSQL.

    .venv/bin/python bench/search.py                 # 10,000 entries, SQLite (+ PostgreSQL
    .venv/bin/python bench/search.py --entries 2000  #  when WIS_BENCH/TEST_POSTGRES_URL is set)

Half the entries are `public`, half `sekretess`; one in 500 contains the rare word. Prints one
line per query: the median and worst of `--repeat` runs, and how many entries came back.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import postgres_url_from_env, scratch_postgres

BODIES = (
    "Vattennivån i Norrtäljeån stiger, räddningstjänsten bevakar bron vid Hantverkaregatan.",
    "Elavbrott i norra Roslagen, cirka 2 300 kunder berörda enligt Ellevio.",
    "Trafikverket stänger väg 76 norr om Älmsta på grund av nedfallna träd.",
    "Kommunens krisledningsgrupp samlas 08:00; pressinformation 10:30.",
)
RARE = "översvämningsbarriär"


async def run(url: str, work: Path, args: argparse.Namespace, engine: str) -> None:
    from argon2 import PasswordHasher

    from wis_server.bootstrap import build_services
    from wis_server.classification.crypto import EnvelopeCipher
    from wis_server.classification.keys import generate_keyring
    from wis_server.classification.policy import default_audience
    from wis_server.config import load_settings
    from wis_server.domain.levels import Classification, EntryKind, Role, SpaceType
    from wis_server.domain.model import Entry, Participant
    from wis_server.domain.records import EntryLabelFilter
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
        services = build_services(
            Store(database, EnvelopeCipher(keyring), keyring.audit_key), settings,
            system_clock, NullPublisher(),
            Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)))
        directory, sek = services.directory, Classification.SEKRETESS
        actor = await directory.create_actor(None, "Länsstyrelsen (bench)", "LST", sek)
        password = "bench-search-" + os.urandom(6).hex()
        editor = await directory.create_user(None, actor.id, "editor", password, "Redaktör",
                                             Role.EDITOR, sek)
        readers = {
            "sekretess": await directory.create_user(None, actor.id, "rsek", password,
                                                     "Läsare S", Role.READER, sek),
            "public": await directory.create_user(None, actor.id, "rpub", password,
                                                  "Läsare P", Role.READER,
                                                  Classification.PUBLIC)}
        author = await directory.principal(editor.id)
        assert author is not None
        view = await services.spaces.create(
            author, title="Storm (bench)", description="", type=SpaceType.DISRUPTION,
            classification=sek, participants=[Participant(actor.id)])
        space_id = view.space.id
        started = time.perf_counter()
        kinds = list(EntryKind)
        store = services.entries.store
        # Seeded through the storage layer, 500 entries per transaction (posting one by one
        # through the service costs a durable commit each: minutes, and not what is measured).
        for first in range(0, args.entries, 500):
            async with store.write() as tx:
                for n in range(first, min(first + 500, args.entries)):
                    body = f"{BODIES[n % len(BODIES)]} (#{n})"
                    if n % 500 == 250:
                        body += f" {RARE}"
                    level = Classification.PUBLIC if n % 2 == 0 else sek
                    now = system_clock()
                    entry_id = str(uuid.uuid4())
                    seq = await tx.spaces.append_event(space_id, "entry.created", entry_id, now)
                    await tx.entries.add(Entry(
                        entry_id, space_id, seq, kinds[n % len(kinds)], level, body,
                        default_audience(level, actor.id), author.user_id, actor.id,
                        author.display_name, created_at=now))
        seeded = time.perf_counter() - started
        print(f"# {engine}: seeded {args.entries} entries in {seeded:.1f} s", flush=True)

        cases: list[tuple[str, dict[str, Any]]] = [
            ("latest 100 (no filter)", {}),
            ("kind=decision, 100", {"labels": EntryLabelFilter(kind=EntryKind.DECISION)}),
            ("q=common word, 100", {"text": "Trafikverket"}),
            (f"q=rare word (full scan, {args.entries // 500} hits)", {"text": RARE}),
            ("q=absent word (full scan, 0 hits)", {"text": "jordskalv"}),
            ("q=absent + kind=decision", {"text": "jordskalv",
                                          "labels": EntryLabelFilter(kind=EntryKind.DECISION)}),
        ]
        for reader_name, reader in readers.items():
            principal = await directory.principal(reader.id)
            assert principal is not None
            for label, extra in cases:
                times, found = [], 0
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    items, _head = await services.entries.page(
                        principal, space_id, limit=100, descending=True, **extra)
                    times.append(time.perf_counter() - t0)
                    found = len(items)
                print(f"{engine} {reader_name:9} {label:42} "
                      f"median={statistics.median(times) * 1000:8.1f}ms "
                      f"max={max(times) * 1000:8.1f}ms items={found}", flush=True)
    finally:
        await database.dispose()


async def main(args: argparse.Namespace) -> int:
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        work = Path(tempfile.mkdtemp(prefix=f"wis_bench_search_{engine}_"))
        try:
            if engine == "sqlite":
                await run(f"sqlite:///{work / 'bench.db'}", work, args, engine)
            elif engine == "postgres":
                admin = postgres_url_from_env()
                if not admin:
                    print("# postgres: skipped (set WIS_BENCH_POSTGRES_URL or "
                          "WIS_TEST_POSTGRES_URL)", flush=True)
                    continue
                async with scratch_postgres(admin) as url:
                    await run(url, work, args, engine)
            else:
                raise SystemExit(f"unknown engine {engine!r}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--engines", default="sqlite,postgres")
    sys.exit(asyncio.run(main(parser.parse_args())))
