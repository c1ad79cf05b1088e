"""The `wis` command: init, migrate, serve, demo, actor add, user add, keys rotate,
audit verify, notify test. Passwords never come from the command line (environment or prompt
only)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from .bootstrap import Services, keyring_for, runtime
from .classification.crypto import RELOAD_EVERY_S, EnvelopeCipher
from .classification.keys import (
    Keyring,
    KeyringError,
    generate_keyring,
    keyring_from_env,
    load_keyring_file,
    save_keyring,
)
from .config import ConfigError, Settings, load_settings
from .domain.errors import WisError
from .domain.levels import Classification, Role
from .services.audit import AuditTrail
from .services.keys import rewrap_all
from .services.ports import system_clock
from .storage.database import Database
from .storage.unit import Store

DEMO_LOGINS_FILE = "demo-logins.txt"


class CliError(Exception):
    pass


def _print(*parts: object) -> None:
    print(*parts, flush=True)


def _keyring(settings: Settings) -> Keyring:
    try:
        return keyring_for(settings)
    except KeyringError as error:
        raise CliError(str(error)) from None


async def _with_services(settings: Settings,
                         work: Callable[[Services, Store], Awaitable[int]]) -> int:
    async with runtime(settings, _keyring(settings)) as rt:
        return await work(rt.services, rt.store)


# --- commands ------------------------------------------------------------------------------

def cmd_init(settings: Settings, args: argparse.Namespace) -> int:
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    keyring_path = Path(settings.keyring.file)
    if keyring_from_env(settings.keyring.reveal()) is not None:
        _print("keyring: from WIS_KEYRING_* environment variables")
    elif keyring_path.exists():
        existing = load_keyring_file(keyring_path)
        if existing.vapid_private_pem is None:  # written before Web Push existed
            save_keyring(existing.with_vapid_key(), keyring_path)
            _print(f"keyring: {keyring_path} (kept; added a Web Push VAPID key)")
        else:
            _print(f"keyring: {keyring_path} (kept)")
    else:
        save_keyring(generate_keyring(), keyring_path)
        _print(f"keyring: generated {keyring_path} (mode 0600) — back it up; without it the "
               "data cannot be read")
    return asyncio.run(_init_database(settings, args.admin_username))


async def _init_database(settings: Settings, admin_username: str | None) -> int:
    from .storage.migrate import migrate  # alembic: only the commands that migrate load it

    database = Database(settings.database.url.reveal())
    try:
        revision = await migrate(database)
    finally:
        await database.dispose()
    _print(f"database: migrated to {revision}")
    if not admin_username:
        return 0
    password = os.environ.get("WIS_ADMIN_PASSWORD", "")
    if not password:
        raise CliError("set WIS_ADMIN_PASSWORD to the first administrator's password")

    async def work(services: Services, store: Store) -> int:
        async with store.read() as tx:
            if await tx.users.credentials(admin_username) is not None:
                _print(f"admin: {admin_username} exists (kept)")
                return 0
            actor = await tx.actors.by_short_name("WIS")
        if actor is None:
            actor = await services.directory.create_actor(
                None, "WIS systemförvaltning", "WIS", Classification.PUBLIC)
        await services.directory.create_user(None, actor.id, admin_username, password,
                                             "Systemadministratör", Role.SYSTEM_ADMIN,
                                             Classification.PUBLIC)
        _print(f"admin: created system administrator {admin_username}")
        return 0

    return await _with_services(settings, work)


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from .storage.migrate import migrate

    async def run() -> int:
        database = Database(settings.database.url.reveal())
        try:
            _print(f"database: migrated to {await migrate(database)}")
        finally:
            await database.dispose()
        return 0

    return asyncio.run(run())


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from .api.app import create_app
    from .api.ws_protocol import WisWebSocketProtocol
    from .observability import configure_logging

    configure_logging(settings.log.level, settings.log.format)
    keyring = _keyring(settings)
    app = create_app(settings, keyring)
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    _print(f"WIS server on http://{host}:{port}/  (API docs: /api/docs)")
    # No permessage-deflate: compressing attacker-influenced public entries in the same
    # stream as classified ones would open a CRIME/BREACH-style length oracle.
    uvicorn.run(app, host=host, port=port, ws=WisWebSocketProtocol, log_level="warning",
                # Forwarded headers are read by the app, only from WIS_TRUSTED_PROXIES.
                proxy_headers=False, server_header=False,
                ws_per_message_deflate=False)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from .services.demo import load_demo

    logins_path = Path(settings.data_dir) / DEMO_LOGINS_FILE

    async def work(services: Services, store: Store) -> int:
        async with store.read() as tx:
            existing = await tx.actors.by_short_name("LST")
        if existing is not None:
            if args.if_empty:
                if logins_path.exists():
                    _print(logins_path.read_text(encoding="utf-8"))
                return 0
            raise CliError("demo data is already loaded")
        demo = await load_demo(services.directory, services.spaces, services.entries,
                               services.reports)
        lines = ["Demo logins (ÖVNING Snöstorm Stockholm):"]
        lines += [f"  {user:<20} {password}" for user, password in demo.passwords.items()]
        text = "\n".join(lines) + "\n"
        fd = os.open(logins_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        _print(text)
        return 0

    return asyncio.run(_with_services(settings, work))


def cmd_actor_add(settings: Settings, args: argparse.Namespace) -> int:
    async def work(services: Services, store: Store) -> int:
        actor = await services.directory.create_actor(
            None, args.name, args.short_name, Classification(args.ceiling))
        _print(f"actor {actor.short_name} created: {actor.id}")
        return 0

    return asyncio.run(_with_services(settings, work))


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> int:
    password = os.environ.get("WIS_USER_PASSWORD", "")
    if not password:
        if not sys.stdin.isatty():
            raise CliError("set WIS_USER_PASSWORD (no terminal to ask on)")
        password = getpass.getpass(f"Password for {args.username}: ")

    async def work(services: Services, store: Store) -> int:
        async with store.read() as tx:
            actor = await tx.actors.by_short_name(args.actor)
        if actor is None:
            raise CliError(f"no actor with short name {args.actor!r}")
        user = await services.directory.create_user(
            None, actor.id, args.username, password, args.display_name or args.username,
            Role(args.role), Classification(args.clearance))
        _print(f"user {user.username} created: {user.id}")
        return 0

    return asyncio.run(_with_services(settings, work))


def cmd_keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(settings.keyring.file)
    if keyring_from_env(settings.keyring.reveal()) is not None:
        if not args.rewrap_only:
            raise CliError("keys come from WIS_KEYRING_*: add a new version to each level's "
                           "variable, restart the servers, then run `wis keys rotate "
                           "--rewrap-only`")
        keyring = _keyring(settings)
    elif args.rewrap_only:
        keyring = _keyring(settings)
    else:
        old = load_keyring_file(path)
        keyring = old.with_new_versions()
        save_keyring(keyring, path)
        versions = ", ".join(f"{lvl.value} v{k.current}" for lvl, k in keyring.levels.items())
        _print(f"keyring: new key versions {versions}; old versions kept")

    settle = not args.rewrap_only and keyring_from_env(settings.keyring.reveal()) is None

    async def run() -> int:
        async with runtime(settings, keyring) as rt:
            store = rt.store
            done = await rewrap_all(store, EnvelopeCipher(keyring), system_clock,
                                    _progress_bar)
            sys.stderr.write("\n")
            if settle:
                # Running servers adopt a new keyring file within RELOAD_EVERY_S; data keys
                # they made with the old version meanwhile are picked up by a second pass.
                wait = RELOAD_EVERY_S + 1
                _print(f"waiting {wait:.0f} s for running servers to adopt the new keys …")
                await asyncio.sleep(wait)
                done += await rewrap_all(store, EnvelopeCipher(keyring), system_clock,
                                         _progress_bar)
                sys.stderr.write("\n")
        _print(f"re-wrapped {done} data keys")
        return 0

    return asyncio.run(run())


def _progress_bar(done: int, total: int) -> None:
    width = 40
    filled = width if total == 0 else int(width * done / total)
    sys.stderr.write(f"\rre-wrapping data keys [{'#' * filled}{'.' * (width - filled)}] "
                     f"{done}/{total}")
    sys.stderr.flush()


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    async def work(services: Services, store: Store) -> int:
        result = await AuditTrail(store).verify()
        if result.ok:
            anchors = f", {result.anchors} anchors matched" if result.anchors else ""
            _print(f"audit log intact: {result.checked} records verified{anchors}")
            if len(result.shards) > 1 or any(s.shard for s in result.shards):
                for s in result.shards:
                    _print(f"  shard {s.shard}: {s.records} records, head seq={s.seq} "
                           f"hash={s.hash}")
            _print(f"head: seq={result.head_seq} hash={result.head_hash}  (keep this line "
                   "elsewhere: it lets a later check detect records removed from the end)")
            for kept in args.expect_head or ():
                seq_text, _, digest = kept.partition(":")
                if not seq_text.isdigit() or not digest:
                    raise CliError("--expect-head takes SEQ:HASH as printed by an earlier run")
                ok = await _head_matches(store, int(seq_text), digest)
                if not ok:
                    _print(f"AUDIT LOG TAMPERED: record {seq_text} no longer has the hash "
                           "kept earlier (records removed from the end, or rewritten)")
                    return 1
                _print(f"head kept earlier (seq {seq_text}) still matches")
            return 0
        _print(f"AUDIT LOG TAMPERED: first bad record seq={result.first_bad_seq}: "
               f"{result.problem} ({result.checked} records before it verified)")
        return 1

    return asyncio.run(_with_services(settings, work))


async def _head_matches(store: Store, seq: int, digest: str) -> bool:
    async with store.read() as tx:
        records = await tx.audit.page(actor_id=None, after=seq - 1, limit=1)
    return bool(records) and records[0].seq == seq and records[0].hash == digest


def cmd_notify_test(settings: Settings, args: argparse.Namespace) -> int:
    from .domain.notifications import Channel
    from .services.notify_test import NotifyTestRefused, queue_test, send_test

    channel = Channel(args.channel)

    async def run() -> int:
        async with runtime(settings, _keyring(settings)) as rt:
            dispatch = rt.dispatch
            try:
                message_id = await queue_test(rt.store, rt.clock, args.user, channel,
                                              dispatch.enabled)
            except NotifyTestRefused as refused:
                raise CliError(str(refused)) from None
            _print(f"queued test message {message_id} to {args.user} over {channel.value}")
            outcome = await send_test(rt.store, rt.clock, message_id,
                                      dispatch.dispatcher.channels, dispatch.dispatcher.settings)
        for d in outcome.deliveries:
            line = f"delivery {d.id}: {d.channel.value} {d.status}"
            if d.error:
                line += f" ({d.error})"
            if d.status == "queued":
                line += " — not sent yet (another server process has it)"
            _print(line)
        _print("reached the channel" if outcome.reached else "NOT sent")
        return 0 if outcome.reached else 1

    return asyncio.run(run())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wis", description="WIS server")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create the keyring (if none), migrate, optional admin")
    p.add_argument("--admin-username", help="create this system administrator "
                   "(password from WIS_ADMIN_PASSWORD)")
    p.set_defaults(func=cmd_init)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    p = sub.add_parser("serve", help="run the server")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--proxy-headers", action="store_true",
                   help="ignored: set WIS_TRUSTED_PROXIES to the proxies' addresses instead")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="load the snowstorm exercise and print its logins")
    p.add_argument("--if-empty", action="store_true",
                   help="do nothing (but print the logins) if the demo is loaded")
    p.set_defaults(func=cmd_demo)

    actor = sub.add_parser("actor", help="actors").add_subparsers(dest="actor_cmd",
                                                                  required=True)
    p = actor.add_parser("add", help="add an actor")
    p.add_argument("--name", required=True)
    p.add_argument("--short-name", required=True)
    p.add_argument("--ceiling", choices=[c.value for c in Classification], default="public")
    p.set_defaults(func=cmd_actor_add)

    user = sub.add_parser("user", help="users").add_subparsers(dest="user_cmd", required=True)
    p = user.add_parser("add", help="add a user (password from WIS_USER_PASSWORD or prompt)")
    p.add_argument("--actor", required=True, help="the actor's short name")
    p.add_argument("--username", required=True)
    p.add_argument("--display-name")
    p.add_argument("--role", choices=[r.value for r in Role], default="reader")
    p.add_argument("--clearance", choices=[c.value for c in Classification], default="public")
    p.set_defaults(func=cmd_user_add)

    keys = sub.add_parser("keys", help="keys").add_subparsers(dest="keys_cmd", required=True)
    p = keys.add_parser("rotate", help="new key version per level; re-wrap all data keys")
    p.add_argument("--rewrap-only", action="store_true",
                   help="only re-wrap data keys under the current versions")
    p.set_defaults(func=cmd_keys_rotate)

    audit = sub.add_parser("audit", help="audit log").add_subparsers(dest="audit_cmd",
                                                                     required=True)
    p = audit.add_parser("verify", help="verify the hash chain")
    p.add_argument("--expect-head", metavar="SEQ:HASH", action="append",
                   help="also check that this earlier head record (any shard's) is still "
                        "there, unchanged; may be repeated")
    p.set_defaults(func=cmd_audit_verify)

    notify = sub.add_parser("notify", help="notifications").add_subparsers(
        dest="notify_cmd", required=True)
    p = notify.add_parser("test", help="send a test message to a user over a configured "
                          "channel, through the outbox, and print the delivery outcome")
    p.add_argument("--user", required=True, help="the user's username")
    p.add_argument("--channel", required=True, choices=["sms", "email", "push"])
    p.set_defaults(func=cmd_notify_test)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.umask(0o077)  # the database, logs and anything else we create: owner only
    try:
        settings = load_settings()
        return int(args.func(settings, args))
    except (CliError, ConfigError, KeyringError) as error:
        print(f"wis: {error}", file=sys.stderr)
        return 2
    except WisError as error:
        print(f"wis: {error.message} ({error.code})", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
