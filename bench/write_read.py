"""Entry writes and timeline reads through the real HTTP stack, beside a bare reference.

For each database (SQLite always; PostgreSQL when WIS_BENCH_POSTGRES_URL or
WIS_TEST_POSTGRES_URL is set) this starts two servers in their own processes, both under
uvicorn on 127.0.0.1 with the same settings, on the same database:

  ours       create_app(): bearer token → principal → decide → seal → one transaction
             (entry + space event + data key + audience + idempotency key + audit) → re-read
  reference  a minimal Starlette app: INSERT one row / SELECT 100 rows into its own table,
             same SQLAlchemy async engine and driver (aiosqlite with the same WAL /
             synchronous=FULL / single-writer setup; asyncpg with the same pool size), no auth,
             policy, crypto, idempotency or audit

and drives both with the same load generator (common.py): N clients, closed loop, one
keep-alive connection each. Every comparison is printed on one line ending in ratio=ours/ref.

    .venv/bin/python bench/write_read.py            # 7 s per server per comparison, ~2.5 min
    .venv/bin/python bench/write_read.py --quick    # 3 s, ~1.5 min
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from common import (
    Request,
    ServerProcess,
    Stats,
    client_pool,
    free_port,
    postgres_url_from_env,
    ratio_line,
    run_load,
    scratch_postgres,
)

BODIES = [
    "Snöovädret har tilltagit under natten. E4 norr om Uppsala stängd i båda riktningar, "
    "Trafikverket leder om trafiken via väg 288. Räddningstjänsten bistår med bärgning.",
    "Elavbrott i Norrtälje kommun, cirka 4 200 abonnenter berörda. Ellevio beräknar att "
    "merparten har ström åter inom sex timmar. Kommunen öppnar trygghetspunkt i Rimbo sporthall.",
    "Beslut: samverkanskonferens var tredje timme, nästa kl 14.00. Länsstyrelsen sammankallar. "
    "Samtliga aktörer rapporterar lägesbild senast 13.30 enligt mall.",
    "Behov: tre bandvagnar med förare till Väddö under 48 timmar för transport av "
    "hemtjänstpersonal. Kontakt via TiB kommun.",
    "Inkommande från SOS Alarm: ökad belastning på 112, väntetid i snitt fyra minuter. "
    "Prioritering av larm om nedkylning och fastkörda fordon med barn.",
    "Åtgärd: Region Stockholm har aktiverat förstärkningsläge på två akutsjukhus. Planerade "
    "operationer skjuts upp. Patienttransporter samordnas via regionens TiB.",
]

SCRIPT = str(Path(__file__).resolve())
_ENV_KEYS = ("WIS_DATABASE_URL", "WIS_DATA_DIR", "WIS_KEYRING_FILE", "WIS_LOG_LEVEL",
             "WIS_CHANNELS")


# --- the servers (run in subprocesses: `write_read.py --serve ours|reference ...`) ----------


def reference_app(database_url: str) -> Any:
    """The bare reference: same route shapes, one INSERT / one SELECT, nothing else."""
    from sqlalchemy import (
        BigInteger,
        Column,
        DateTime,
        Index,
        Integer,
        MetaData,
        String,
        Table,
        Text,
        event,
        select,
    )
    from sqlalchemy.ext.asyncio import create_async_engine
    from starlette.applications import Starlette
    from starlette.requests import Request as HttpRequest
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from wis_server.storage.database import normalise_url

    url = normalise_url(database_url)
    metadata = MetaData()
    table = Table(
        "bench_ref_entries", metadata,
        Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
               autoincrement=True),
        Column("id", String(36), nullable=False),
        Column("space_id", String(36), nullable=False),
        Column("kind", String(16), nullable=False),
        Column("classification", String(16), nullable=False),
        Column("body", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Index("ix_bench_ref_space_seq", "space_id", "seq"),
    )
    sqlite = url.startswith("sqlite")
    lock = asyncio.Lock() if sqlite else None
    if sqlite:
        # The same durability and single-writer discipline as wis_server.storage.database.
        def pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        def engine_for(begin: str) -> Any:
            engine = create_async_engine(url)
            event.listen(engine.sync_engine, "connect", pragmas)
            event.listen(engine.sync_engine, "begin",
                         lambda conn: conn.exec_driver_sql(begin))
            return engine

        writer, reader = engine_for("BEGIN IMMEDIATE"), engine_for("BEGIN")
    else:
        writer = reader = create_async_engine(url, pool_size=10, max_overflow=10)

    async def post_entry(request: HttpRequest) -> JSONResponse:
        doc = json.loads(await request.body())
        row = {"id": str(uuid.uuid4()), "space_id": request.path_params["space_id"],
               "kind": doc["kind"], "classification": doc["classification"],
               "body": doc["body"], "created_at": datetime.now(UTC)}
        if lock is not None:
            async with lock, writer.begin() as conn:
                seq = (await conn.execute(table.insert().values(**row)
                                          .returning(table.c.seq))).scalar_one()
        else:
            async with writer.begin() as conn:
                seq = (await conn.execute(table.insert().values(**row)
                                          .returning(table.c.seq))).scalar_one()
        return JSONResponse({**row, "seq": seq, "created_at": row["created_at"].isoformat()},
                            status_code=201)

    async def list_entries(request: HttpRequest) -> JSONResponse:
        limit = int(request.query_params.get("limit", "100"))
        order = table.c.seq.desc() if request.query_params.get("order") == "desc" \
            else table.c.seq
        async with reader.begin() as conn:
            rows = (await conn.execute(
                select(table).where(table.c.space_id == request.path_params["space_id"])
                .order_by(order).limit(limit))).all()
        items = [{"id": r.id, "space_id": r.space_id, "seq": r.seq, "kind": r.kind,
                  "classification": r.classification, "body": r.body,
                  "created_at": r.created_at.isoformat()} for r in rows]
        return JSONResponse({"items": items, "head": max((r.seq for r in rows), default=0)})

    async def healthz(_request: HttpRequest) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def lifespan(_app: Any) -> Any:
        async with writer.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield
        await writer.dispose()
        if reader is not writer:
            await reader.dispose()

    from contextlib import asynccontextmanager

    return Starlette(routes=[
        Route("/api/v1/spaces/{space_id}/entries", post_entry, methods=["POST"]),
        Route("/api/v1/spaces/{space_id}/entries", list_entries, methods=["GET"]),
        Route("/healthz", healthz),
    ], lifespan=asynccontextmanager(lifespan))


def serve(kind: str, port: int, profile: str | None) -> None:
    """Subprocess entry: serve one app the way `wis serve` does."""
    import uvicorn

    if kind == "ours":
        from wis_server.api.app import create_app
        from wis_server.classification.keys import load_keyring_file
        from wis_server.config import load_settings
        from wis_server.observability import configure_logging

        settings = load_settings({k: os.environ[k] for k in _ENV_KEYS if k in os.environ})
        configure_logging(settings.log.level, settings.log.format)
        if os.environ.get("WIS_BENCH_COUNTS"):
            install_counters(os.environ["WIS_BENCH_COUNTS"])
        app = create_app(settings, load_keyring_file(settings.keyring.file))
    else:
        app = reference_app(os.environ["WIS_DATABASE_URL"])
    config = {"host": "127.0.0.1", "port": port, "ws": "websockets", "log_level": "warning",
              "server_header": False}
    if profile is None:
        uvicorn.run(app, **config)
        return
    import cProfile
    import signal

    # uvicorn re-raises SIGTERM after its graceful shutdown; exit through `finally` instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        uvicorn.run(app, **config)
    finally:
        profiler.disable()
        profiler.dump_stats(profile)


COUNTED = ("statements", "commits", "rollbacks", "checkouts", "hops")


def install_counters(path: str) -> None:
    """In our server only (the reference stays bare): count SQL statements (BEGIN included),
    commits, rollbacks, pool checkouts and aiosqlite worker-thread hops; SIGUSR1 writes the
    totals to `path` (replaced atomically) so the bench can diff them around a few requests."""
    import signal

    import aiosqlite.core
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    counts = dict.fromkeys(COUNTED, 0)
    counts["serial"] = 0

    def bump(name: str) -> Any:
        def listener(*_args: Any, **_kw: Any) -> None:
            counts[name] += 1
        return listener

    event.listen(Engine, "before_cursor_execute", bump("statements"))
    event.listen(Engine, "commit", bump("commits"))
    event.listen(Engine, "rollback", bump("rollbacks"))
    event.listen(Pool, "checkout", bump("checkouts"))
    original = aiosqlite.core.Connection._execute

    async def counted_execute(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        counts["hops"] += 1
        return await original(self, fn, *args, **kwargs)

    aiosqlite.core.Connection._execute = counted_execute  # type: ignore[method-assign]
    # Statements our storage sends to asyncpg directly (storage/direct.py) count as well.
    from wis_server.storage import direct

    direct_fetch = direct.fetch

    async def counted_fetch(*args: Any) -> Any:
        counts["statements"] += 1
        return await direct_fetch(*args)

    direct.fetch = counted_fetch  # type: ignore[assignment]

    def dump(*_args: Any) -> None:
        counts["serial"] += 1
        Path(path + ".tmp").write_text(json.dumps(counts))
        os.replace(path + ".tmp", path)

    signal.signal(signal.SIGUSR1, dump)


def _read_counts(path: str) -> dict[str, int]:
    try:
        with open(path, encoding="utf-8") as handle:
            found: dict[str, int] = json.load(handle)
            return found
    except FileNotFoundError:
        return {"serial": 0}


async def snapshot(server: ServerProcess, path: Path) -> dict[str, int]:
    import signal
    import time

    before = _read_counts(str(path))["serial"]
    server.process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = _read_counts(str(path))
        if found["serial"] > before:
            return found
        await asyncio.sleep(0.02)
    raise RuntimeError("the server did not write its counters")


async def count_line(label: str, args: argparse.Namespace, server: ServerProcess, path: Path,
                     make: Any, n: int = 20) -> str:
    """Per-request counts of `n` sequential requests (no contention, so no retries)."""
    before = await snapshot(server, path)
    async with client_pool(args.client, "127.0.0.1", server.port, 1) as clients:
        for index in range(n):
            request = make(index)
            status, body = await clients[0].send(request)
            if status != request.expect:
                raise RuntimeError(f"counted request failed: {status} {body[:200]!r}")
    after = await snapshot(server, path)
    per = " ".join(f"{name}={(after[name] - before[name]) / n:.1f}" for name in COUNTED)
    return f"# {label} per request (ours, {n} sequential): {per}"


# --- the scenario ---------------------------------------------------------------------------


class World:
    """What the load needs: spaces, one bearer token per writer, two readers' tokens."""

    def __init__(self) -> None:
        self.spaces: list[str] = []
        self.writer_tokens: list[str] = []
        self.reader_tokens: dict[str, str] = {}


async def seed(settings: Any, keyring: Any, writers: int, spaces: int) -> World:
    """Migrate, then create actors, users and spaces through the services (fast argon2:
    the password path is not what is measured) and issue tokens with the TokenService."""
    from argon2 import PasswordHasher

    from wis_server.api.tokens import TokenService
    from wis_server.bootstrap import build_services
    from wis_server.classification.crypto import EnvelopeCipher
    from wis_server.domain.levels import Classification, Role, SpaceType
    from wis_server.domain.model import Participant
    from wis_server.services.passwords import Passwords
    from wis_server.services.ports import NullPublisher, system_clock
    from wis_server.storage.database import Database
    from wis_server.storage.migrate import migrate
    from wis_server.storage.unit import Store

    database = Database(settings.database.url.reveal())
    try:
        await migrate(database)
        services = build_services(
            Store(database, EnvelopeCipher(keyring), keyring.audit_key), settings,
            system_clock, NullPublisher(),
            Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)))
        tokens = TokenService(keyring, issuer=settings.auth.issuer, audience=settings.auth.audience,
                              ttl_s=3600)
        directory = services.directory
        sek = Classification.SEKRETESS
        actors = [await directory.create_actor(None, "Länsstyrelsen (bench)", "LST", sek),
                  await directory.create_actor(None, "Norrtälje kommun (bench)", "NTK", sek)]
        password = "bench-" + uuid.uuid4().hex
        world = World()
        users = []
        for i in range(writers):
            # Writer i writes to space i % spaces: its actor alternates every `spaces`
            # writers, so every space gets sekretess entries of both actors, and the
            # sekretess reader (first actor) sees some on every page it reads (each such
            # read is audited). Before, the first actor wrote to spaces 0 and 2 only.
            users.append(await directory.create_user(
                None, actors[(i // spaces) % 2].id, f"writer{i}", password, f"Skribent {i}",
                Role.EDITOR, sek))
        readers = {
            "sekretess": await directory.create_user(
                None, actors[0].id, "reader_sek", password, "Läsare S", Role.READER, sek),
            "public": await directory.create_user(
                None, actors[0].id, "reader_pub", password, "Läsare P", Role.READER,
                Classification.PUBLIC),
        }
        owner = await directory.principal(users[0].id)
        assert owner is not None
        for n in range(spaces):
            view = await services.spaces.create(
                owner, title=f"Snöoväder bench {n}", description="Benchmark space",
                type=SpaceType.DISRUPTION, classification=sek,
                participants=[Participant(a.id) for a in actors])
            world.spaces.append(view.space.id)
        now = system_clock()
        world.writer_tokens = [tokens.issue(u.id, u.actor_id, now) for u in users]
        world.reader_tokens = {k: tokens.issue(u.id, u.actor_id, now) for k, u in readers.items()}
        return world
    finally:
        await database.dispose()


def write_requests(world: World) -> Any:
    counter = itertools.count()
    posted: dict[int, int] = {}

    def make(index: int) -> Request:
        n = next(counter)
        # Each writer alternates its own posts between the levels. (A global alternation
        # fell in step with the clients, so odd-numbered writers wrote only sekretess.)
        mine = posted[index] = posted.get(index, -1) + 1
        doc = {"kind": "note", "classification": "public" if mine % 2 == 0 else "sekretess",
               "body": f"{BODIES[n % len(BODIES)]} (#{n})"}
        return Request(
            "POST", f"/api/v1/spaces/{world.spaces[index % len(world.spaces)]}/entries",
            json.dumps(doc).encode(), (
                ("Authorization", f"Bearer {world.writer_tokens[index]}"),
                ("Content-Type", "application/json"),
                ("Idempotency-Key", uuid.uuid4().hex)), expect=201)

    return make


def read_requests(world: World, reader: str) -> Any:
    rng = random.Random(7)
    token = world.reader_tokens[reader]

    def make(_index: int) -> Request:
        space = rng.choice(world.spaces)
        return Request("GET", f"/api/v1/spaces/{space}/entries?limit=100&order=desc",
                       headers=(("Authorization", f"Bearer {token}"),), expect=200)

    return make


async def compare(args: argparse.Namespace, servers: dict[str, ServerProcess], make: Any
                  ) -> tuple[Stats, Stats]:
    """Ours and the reference in alternating slices (`--rounds`), so load from anything else
    on the machine falls on both alike; each keeps its client pool across its slices."""
    slice_s = args.seconds / args.rounds
    ours, ref = servers["ours"], servers["reference"]
    async with client_pool(args.client, "127.0.0.1", ours.port, args.clients) as ours_pool, \
            client_pool(args.client, "127.0.0.1", ref.port, args.clients) as ref_pool:
        totals: dict[str, Stats] = {}
        for round_ in range(args.rounds):
            order = [("reference", ref_pool, ref), ("ours", ours_pool, ours)]
            if round_ % 2:
                order.reverse()
            for name, pool, server in order:
                stats = await run_load(pool, make, seconds=slice_s,
                                       warmup=args.warmup if round_ == 0 else 0.2,
                                       pid=server.process.pid)
                totals[name] = totals[name].merge(stats) if name in totals else stats
    return totals["ours"], totals["reference"]


async def top_up(args: argparse.Namespace, port: int, world: World, minimum: int) -> None:
    """Make sure every space has `minimum` entries so each read returns a full page."""
    make = write_requests(world)
    async with client_pool(args.client, "127.0.0.1", port, 1) as clients:
        for index in range(len(world.spaces)):
            for _ in range(minimum):
                request = make(index)
                status, body = await clients[0].send(request)
                if status != 201:
                    raise RuntimeError(f"top-up write failed: {status} {body[:200]!r}")


async def count_entries(url: str) -> tuple[int, int]:
    """Smallest per-space entry count in (ours, reference)."""
    from sqlalchemy import text

    from wis_server.storage.database import Database

    database = Database(url)
    try:
        async with database.read() as conn:
            ours = (await conn.execute(text(
                "SELECT COALESCE(MIN(n), 0) FROM (SELECT COUNT(*) AS n FROM entries "
                "GROUP BY space_id) t"))).scalar_one()
            ref = (await conn.execute(text(
                "SELECT COALESCE(MIN(n), 0) FROM (SELECT COUNT(*) AS n FROM bench_ref_entries "
                "GROUP BY space_id) t"))).scalar_one()
        return int(ours), int(ref)
    finally:
        await database.dispose()


async def check_page(args: argparse.Namespace, port: int, make: Any) -> str:
    """One read outside the measurement: the page is full and the bodies are plaintext."""
    async with client_pool(args.client, "127.0.0.1", port, 1) as clients:
        status, body = await clients[0].send(make(0))
    items = json.loads(body).get("items", []) if status == 200 else []
    plain = sum(1 for i in items if "(#" in i.get("body", ""))
    classified = sum(1 for i in items if i.get("classification") != "public")
    return f"{len(items)} items/page, {plain} decrypted, {classified} classified"


async def bench_engine(engine: str, url: str, args: argparse.Namespace, work: Path) -> None:
    from wis_server.classification.keys import generate_keyring, save_keyring
    from wis_server.config import load_settings

    keyring = generate_keyring()
    keyring_file = work / "keyring.json"
    save_keyring(keyring, keyring_file)
    env = {"WIS_DATABASE_URL": url, "WIS_DATA_DIR": str(work / "var"),
           "WIS_KEYRING_FILE": str(keyring_file), "WIS_LOG_LEVEL": "info"}
    counts = work / "counts.json"
    settings = load_settings(env)
    world = await seed(settings, keyring, args.clients, args.spaces)

    servers = {}
    try:
        for kind in ("ours", "reference"):
            argv = [SCRIPT, "--serve", kind]
            port = free_port()
            argv += ["--port", str(port)]
            if args.profile and kind == "ours":
                argv += ["--profile", str(Path(args.profile) / f"{engine}-ours.prof")]
            server_env = {**env, "WIS_BENCH_COUNTS": str(counts)} if kind == "ours" else env
            servers[kind] = ServerProcess(argv, port, server_env, str(work / f"{kind}.log"))
        for server in servers.values():
            await server.wait_ready()
        ours, ref = servers["ours"].port, servers["reference"].port

        ours_w, ref_w = await compare(args, servers, write_requests(world))
        print(ratio_line(f"{engine} write", ours_w, ref_w), flush=True)
        _note_errors(ours_w, ref_w)
        print(await count_line(f"{engine} write", args, servers["ours"], counts,
                               write_requests(world)), flush=True)

        minimum = 250  # public-only reader sees ~half: still a full page of 100
        have_ours, have_ref = await count_entries(url)
        if have_ours < minimum:
            await top_up(args, ours, world, minimum - have_ours)
        if have_ref < minimum:
            await top_up(args, ref, world, minimum - have_ref)

        for reader, label in (("sekretess", "sekretess-cleared reader, reads audited"),
                              ("public", "public-only reader")):
            reads = read_requests(world, reader)
            ours_r, ref_r = await compare(args, servers, reads)
            page = await check_page(args, ours, reads)
            print(f"# {engine} read as {label}: ours {page}", flush=True)
            print(ratio_line(f"{engine} read 100/page ({reader})", ours_r, ref_r), flush=True)
            _note_errors(ours_r, ref_r)
            print(await count_line(f"{engine} read ({reader})", args, servers["ours"], counts,
                                   reads), flush=True)
    except Exception:
        for kind, server in servers.items():
            log = work / f"{kind}.log"
            if server.process.poll() is not None and log.exists():
                print(f"# {kind} server log tail:\n" + log.read_text()[-2000:], file=sys.stderr)
        raise
    finally:
        for server in servers.values():
            server.stop()


def _note_errors(ours: Stats, ref: Stats) -> None:
    for name, stats in (("ours", ours), ("reference", ref)):
        if stats.errors:
            print(f"#   {name}: {stats.errors} failed requests, first: {stats.first_error}",
                  flush=True)


async def main(args: argparse.Namespace) -> int:
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    print(f"# write_read: {args.clients} clients, {args.seconds:g} s per server per phase "
          f"in {args.rounds} alternating slices after {args.warmup:g} s warm-up, "
          f"{args.spaces} spaces, client={args.client}; python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, SQLite {sqlite3.sqlite_version}",
          flush=True)
    print("# writes: 50% public / 50% sekretess, Idempotency-Key on each; reads: latest 100 "
          "entries (order=desc), decrypted", flush=True)
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
    for engine in engines:
        work = Path(tempfile.mkdtemp(prefix=f"wis_bench_{engine}_", dir=args.data_dir))
        try:
            if engine == "sqlite":
                await bench_engine(engine, f"sqlite:///{work / 'bench.db'}", args, work)
            elif engine == "postgres":
                admin = postgres_url_from_env()
                if not admin:
                    print("# postgres: skipped (set WIS_BENCH_POSTGRES_URL or "
                          "WIS_TEST_POSTGRES_URL to run it)", flush=True)
                    continue
                async with scratch_postgres(admin) as url:
                    await bench_engine(engine, url, args, work)
            else:
                raise SystemExit(f"unknown engine {engine!r}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=7.0,
                        help="measured seconds per server per comparison")
    parser.add_argument("--warmup", type=float, default=1.5, help="unmeasured seconds first")
    parser.add_argument("--quick", action="store_true", help="3 s phases, 0.5 s warm-up")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=4,
                        help="alternating ours/reference slices per comparison")
    parser.add_argument("--spaces", type=int, default=4, help="spaces the writers spread over")
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="load generator connections: raw asyncio (default) or httpx")
    parser.add_argument("--data-dir", default=None, help="where the SQLite file goes")
    parser.add_argument("--profile", default=None,
                        help="directory: run our server under cProfile, write <engine>-ours.prof")
    parser.add_argument("--serve", choices=("ours", "reference"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup, args.rounds = 3.0, 0.5, 2
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve:
        serve(arguments.serve, arguments.port, arguments.profile)
        sys.exit(0)
    sys.exit(asyncio.run(main(arguments)))
