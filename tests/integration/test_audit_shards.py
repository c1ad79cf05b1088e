"""The sharded audit chain (issue 13 item 1): on PostgreSQL writers in different spaces append
to different shards and do not wait on one lock; `wis audit verify` still walks every record
(each shard gapless, linked, keyed, in the writer's encoding) and checks every anchor against
the shard heads it names; tampering in any shard, a deleted or moved record and a forged or
contradicted anchor are each named. SQLite keeps the one chain it always had."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import MetaData, Table, exc, text

from tests.helpers import raw_execute
from wis_server.classification.crypto import EnvelopeCipher
from wis_server.classification.keys import generate_keyring
from wis_server.domain.audit import ANCHOR_ACTION, GENESIS, AuditRecord, VerifyResult
from wis_server.services.maintenance import run_periodically
from wis_server.storage.audit import SHARDS, chain_hash, shard_of
from wis_server.storage.database import Database
from wis_server.storage.migrate import alembic_config, migrate
from wis_server.storage.tables import audit_log
from wis_server.storage.unit import Store

PG_ONLY = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
NOW = datetime(2026, 12, 2, 15, 0, 0, 123456, tzinfo=UTC)


def spaces_by_shard(count: int = 400) -> dict[int, list[str]]:
    """Space ids grouped by the shard their records go to."""
    found: dict[int, list[str]] = {}
    for n in range(count):
        sid = str(uuid.UUID(int=n + 1))
        found.setdefault(shard_of(AuditRecord("x", space_id=sid)), []).append(sid)
    return found


SPACES = spaces_by_shard()
S1, S1_TOO = SPACES[3][:2]  # shard 3, twice
S2 = SPACES[5][0]  # shard 5


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A store on the fresh, migrated, empty database (no server: nothing else appends)."""
    database = Database(database_url)
    try:
        yield Store(database, EnvelopeCipher(generate_keyring()), secrets.token_bytes(32))
    finally:
        await database.dispose()


async def verify(store: Store) -> VerifyResult:
    async with store.read() as tx:
        return await tx.audit.verify()


async def append(store: Store, action: str, space_id: str | None = None) -> int:
    async with store.write() as tx:
        return await tx.audit.append(AuditRecord(action, space_id=space_id,
                                                 detail={"n": action}), NOW)


async def anchor(store: Store) -> int | None:
    async with store.write() as tx:
        return await tx.audit.anchor(NOW)


async def rows(database_url: str, shard: int) -> list[tuple[Any, ...]]:
    """(seq, shard_seq, hash) of one shard's records, in order."""
    return await raw_execute(database_url, "SELECT seq, shard_seq, hash FROM audit_log "
                             "WHERE shard = $1 ORDER BY shard_seq", shard)


def test_shard_of_is_stable_and_spreads() -> None:
    # A stable hash of the space (not Python's salted hash()); else the actor, else the user.
    assert shard_of(AuditRecord("x", space_id=str(uuid.UUID(int=1)))) == shard_of(
        AuditRecord("y", actor_id="other", space_id=str(uuid.UUID(int=1))))
    assert shard_of(AuditRecord("x", actor_id="a-1")) == shard_of(
        AuditRecord("x", actor_id="a-1", user_id="u-9"))
    assert shard_of(AuditRecord("x")) == 0
    assert len(SPACES) == SHARDS


def test_shard_0_keeps_the_canonical_form_byte_for_byte() -> None:
    """A vector computed with the chain code before it was sharded: a record of shard 0 whose
    seq is its place hashes exactly as it always did; any other shard names itself."""
    record = AuditRecord("entry.read", "ok", "u-1", "a-1", "entry", "e-1", "s-1",
                         {"items": ["e-1"], "levels": ["hemlig"], "via": "stream", "å": "ä"})
    old = "2a50af81d2690a1f15a84120b7860f144856cea36e6bcb05e9128ffca7b57219"
    assert chain_hash(b"k" * 32, GENESIS, 7, NOW, record) == old
    assert chain_hash(b"k" * 32, GENESIS, 7, NOW, record, shard=0, global_seq=7) == old
    moved = {chain_hash(b"k" * 32, GENESIS, 7, NOW, record, shard=3, global_seq=7),
             chain_hash(b"k" * 32, GENESIS, 7, NOW, record, shard=0, global_seq=9),
             chain_hash(b"k" * 32, GENESIS, 7, NOW, record, shard=3, global_seq=9)}
    assert old not in moved and len(moved) == 3


async def test_concurrent_writers_in_many_spaces_verify(store: Store, database_url: str) -> None:
    other = Store(store.database, EnvelopeCipher(generate_keyring()), store.audit_key)
    spaces = [ids[0] for ids in SPACES.values()]

    async def writer(n: int) -> None:
        for turn in range(4):
            await append(store if n % 2 else other, f"test.w{n}.{turn}",
                         spaces[(n + turn) % len(spaces)])

    await asyncio.gather(*(writer(n) for n in range(12)))
    first = await anchor(store)
    await asyncio.gather(*(writer(n) for n in range(12, 18)))
    second = await anchor(other)  # another process's anchor
    assert await anchor(other) is None  # nothing moved since
    result = await verify(store)
    assert result.ok, result.problem
    total = len(await raw_execute(database_url, "SELECT seq FROM audit_log"))
    assert result.checked == total
    assert sum(s.records for s in result.shards) == total
    if store.database.is_sqlite:
        assert first is None and second is None and result.anchors == 0
        assert [s.shard for s in result.shards] == [0]
        seqs = await raw_execute(database_url, "SELECT seq, shard, shard_seq FROM audit_log")
        assert all(seq == position and shard == 0 for seq, shard, position in seqs)
    else:
        assert first is not None and second is not None and result.anchors == 2
        assert len(result.shards) >= SHARDS // 2  # the writers spread over the shards
        for head in result.shards:
            shard_rows = await rows(database_url, head.shard)
            assert [r[1] for r in shard_rows] == list(range(1, len(shard_rows) + 1))
            assert (head.records, head.seq, head.hash) == (len(shard_rows), *shard_rows[-1][::2])


async def test_one_transaction_appends_to_one_shard(store: Store, database_url: str) -> None:
    """A transaction holds at most one shard's lock (holding two, two transactions could each
    wait for the other): its later records join the shard of its first."""
    async with store.write() as tx:
        a = await tx.audit.append(AuditRecord("test.first", space_id=S1), NOW)
        b = await tx.audit.append(AuditRecord("test.second", space_id=S2), NOW)
    found = dict(await raw_execute(database_url, "SELECT seq, shard FROM audit_log "
                                   "WHERE seq = $1 OR seq = $2", a, b))
    expected = 0 if store.database.is_sqlite else 3
    assert found == {a: expected, b: expected}
    # A following transaction starts afresh.
    seq = await append(store, "test.third", S2)
    ((shard,),) = await raw_execute(database_url, "SELECT shard FROM audit_log WHERE seq = $1",
                                    seq)
    assert shard == (0 if store.database.is_sqlite else 5)
    assert (await verify(store)).ok


@PG_ONLY
async def test_writers_in_different_shards_do_not_wait_for_each_other(
        store: Store, database_url: str) -> None:
    """Transaction A appends in one space and stays open; B appends in a space of another
    shard and commits while A is still open. B's `lock_timeout` makes any wait an error,
    so this holds by the order of events alone, not by how long anything takes: a writer in
    A's own shard (C) is refused for waiting."""
    async with store.write() as a:
        await a.audit.append(AuditRecord("test.a", space_id=S1), NOW)
        held = (await a.conn.execute(text(
            "SELECT classid, objid, objsubid FROM pg_locks WHERE locktype = 'advisory' "
            "AND granted AND pid = pg_backend_pid()"))).all()
        assert [tuple(r) for r in held] == [(0x5749_5341, 3, 2)]  # "WISA", shard 3, 2 keys
        async with store.write() as b:
            await b.conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            b_seq = await b.audit.append(AuditRecord("test.b", space_id=S2), NOW)
        # B committed: another connection sees it while A is open.
        assert await raw_execute(database_url, "SELECT action FROM audit_log WHERE seq = $1",
                                 b_seq) == [("test.b",)]
        with pytest.raises(exc.DBAPIError, match="lock timeout"):
            async with store.write() as c:
                await c.conn.execute(text("SET LOCAL lock_timeout = '200ms'"))
                await c.audit.append(AuditRecord("test.c", space_id=S1_TOO), NOW)
    result = await verify(store)
    assert result.ok, result.problem
    actions = [r[0] for r in await raw_execute(
        database_url, "SELECT action FROM audit_log WHERE action LIKE 'test.%' ORDER BY seq")]
    assert sorted(actions) == ["test.a", "test.b"]


async def fill(store: Store) -> None:
    """Records in shards 0, 3 and 5, interleaved, with an anchor between."""
    for n in range(4):
        await append(store, f"test.zero{n}")
        await append(store, f"test.s1.{n}", S1)
        await append(store, f"test.s2.{n}", S2)
        if n == 1:
            await anchor(store)


async def swap(database_url: str, sql: str, *args: Any) -> None:
    await raw_execute(database_url, sql, *args)


@PG_ONLY
async def test_tampering_with_a_record_of_another_shard_is_named(
        store: Store, database_url: str) -> None:
    await fill(store)
    assert (await verify(store)).ok
    seq = (await rows(database_url, 3))[2][0]
    await raw_execute(database_url, "UPDATE audit_log SET outcome = 'forged' WHERE seq = $1",
                      seq)
    result = await verify(store)
    assert not result.ok and result.first_bad_seq == seq, result
    assert "does not match its hash" in result.problem
    await raw_execute(database_url, "UPDATE audit_log SET outcome = 'ok' WHERE seq = $1", seq)
    # Renumbered in the global order (its seq is in its hash; the cursor order is kept).
    top = (await raw_execute(database_url, "SELECT max(seq) FROM audit_log"))[0][0]
    last_seq = (await rows(database_url, 3))[-1][0]
    await raw_execute(database_url, "UPDATE audit_log SET seq = $1 WHERE seq = $2", top + 5,
                      last_seq)
    result = await verify(store)
    assert not result.ok and result.first_bad_seq == top + 5, result


@PG_ONLY
async def test_deleting_a_middle_record_of_a_shard_names_the_next(
        store: Store, database_url: str) -> None:
    await fill(store)
    shard_rows = await rows(database_url, 5)  # 4 records; the anchor named the second
    await raw_execute(database_url, "DELETE FROM audit_log WHERE seq = $1", shard_rows[2][0])
    result = await verify(store)
    assert not result.ok and result.first_bad_seq == shard_rows[3][0], result
    assert "expected shard 5 record 3, found 4" in result.problem
    # Before the anchor: the anchor, earlier in the walk than the next record, names it.
    await raw_execute(database_url, "DELETE FROM audit_log WHERE seq = $1", shard_rows[1][0])
    result = await verify(store)
    assert not result.ok and result.first_bad_seq < shard_rows[3][0], result
    assert "shard 5 record 2, named by this anchor, is missing" in result.problem


@PG_ONLY
async def test_moving_a_record_to_another_shard_is_named(store: Store, database_url: str
                                                         ) -> None:
    """Re-filed as the next record of another shard, linked to that shard's head: its hash
    names its shard, so it fails there (shard 5 → 3, and 5 → 0)."""
    await fill(store)
    ((seq, position, prev),) = await raw_execute(
        database_url, "SELECT seq, shard_seq, prev_hash FROM audit_log WHERE shard = 5 "
        "ORDER BY seq DESC LIMIT 1")
    assert seq == (await raw_execute(database_url, "SELECT max(seq) FROM audit_log"))[0][0]
    for target in (3, 0):
        head = (await rows(database_url, target))[-1]
        await raw_execute(database_url, "UPDATE audit_log SET shard = $1, shard_seq = $2, "
                          "prev_hash = $3 WHERE seq = $4", target, head[1] + 1, head[2], seq)
        result = await verify(store)
        assert not result.ok and result.first_bad_seq == seq, result
        assert "does not match its hash" in result.problem
        await raw_execute(database_url, "UPDATE audit_log SET shard = 5, shard_seq = $1, "
                          "prev_hash = $2 WHERE seq = $3", position, prev, seq)
        assert (await verify(store)).ok


@PG_ONLY
async def test_forged_and_contradicted_anchors_are_named(store: Store, database_url: str) -> None:
    await fill(store)
    ((anchor_seq, detail),) = await raw_execute(
        database_url, "SELECT seq, CAST(detail AS TEXT) FROM audit_log WHERE action = $1",
        ANCHOR_ACTION)
    heads = json.loads(detail)["heads"]
    assert [h[:2] for h in heads] == [[3, 2], [5, 2]]
    assert (await verify(store)).anchors == 1

    # An anchor rewritten to name fewer records of shard 5 (to hide a later cut): forged.
    forged = json.dumps({"heads": [heads[0], [5, 1, heads[1][2]]]})
    await raw_execute(database_url, "UPDATE audit_log SET detail = $1 WHERE seq = $2", forged,
                      anchor_seq)
    result = await verify(store)
    assert not result.ok and result.first_bad_seq == anchor_seq
    assert "does not match its hash" in result.problem
    await raw_execute(database_url, "UPDATE audit_log SET detail = $1 WHERE seq = $2", detail,
                      anchor_seq)

    # A made-up anchor (a key guessed, linked into shard 0): fails its hash.
    zero = await rows(database_url, 0)
    guess = secrets.token_bytes(32)
    fake = AuditRecord(ANCHOR_ACTION, detail={"heads": []})
    top = (await raw_execute(database_url, "SELECT max(seq) FROM audit_log"))[0][0] + 1
    digest = chain_hash(guess, zero[-1][2], len(zero) + 1, NOW, fake, global_seq=top)
    async with store.write() as tx:
        await tx.conn.execute(audit_log.insert().values(
            seq=top, shard=0, shard_seq=len(zero) + 1, at=NOW, action=ANCHOR_ACTION,
            outcome="ok", detail={"heads": []}, prev_hash=zero[-1][2], hash=digest))
    result = await verify(store)
    assert not result.ok and result.first_bad_seq == top
    await raw_execute(database_url, "DELETE FROM audit_log WHERE seq = $1", top)
    assert (await verify(store)).ok

    # Shard 5 cut back to before what the anchor named: each shard still chains, but the
    # anchor names a record no longer there.
    shard_rows = await rows(database_url, 5)
    await raw_execute(database_url, "DELETE FROM audit_log WHERE shard = 5 AND shard_seq >= 2")
    result = await verify(store)
    assert not result.ok and result.first_bad_seq == anchor_seq, result
    assert "shard 5 record 2, named by this anchor, is missing" in result.problem
    assert len(shard_rows) == 4


@PG_ONLY
async def test_an_anchor_naming_a_record_walked_past_is_looked_up(
        store: Store, database_url: str) -> None:
    """A record with a lower seq than the anchor may commit after the anchor read the heads
    (its writer drew its seq first): the anchor names the record before it, and the verifier
    finds that one among the records it walked."""
    await append(store, "test.one", S1)
    async with store.write() as late:
        late_seq = await late.audit.append(AuditRecord("test.late", space_id=S1), NOW)
        async with store.write() as tx:  # the anchor, while `late` is still open
            anchor_seq = await tx.audit.anchor(NOW)
    assert anchor_seq is not None and late_seq < anchor_seq
    ((detail,),) = await raw_execute(database_url, "SELECT CAST(detail AS TEXT) FROM "
                                     "audit_log WHERE seq = $1", anchor_seq)
    assert [h[:2] for h in json.loads(detail)["heads"]] == [[3, 1]]
    result = await verify(store)
    assert result.ok and result.anchors == 1, result


async def test_a_chain_written_before_0009_still_verifies(database_url: str) -> None:
    """Records written by the one-chain code (at revision 0006: no shard columns) verify as
    they are after migration 0009, and new records (sharded on PostgreSQL) follow them."""
    database = Database(database_url)
    try:
        await migrate_down(database, "0006")
        old = Table("audit_log", MetaData(), *(c._copy() for c in audit_log.columns
                                                if c.name not in ("shard", "shard_seq")))
        key = secrets.token_bytes(32)
        prev = GENESIS
        async with database.write() as conn:
            for seq in range(1, 8):
                record = AuditRecord(f"test.old{seq}", actor_id="a-1", space_id=S1,
                                     detail={"n": seq, "å": "ä"})
                digest = chain_hash(key, prev, seq, NOW, record)
                await conn.execute(old.insert().values(
                    seq=seq, at=NOW, user_id=None, actor_id="a-1", action=record.action,
                    target_type=None, target_id=None, space_id=S1, outcome="ok",
                    detail=record.detail, prev_hash=prev, hash=digest))
                prev = digest
        assert await migrate(database) == "0009"
        store = Store(database, EnvelopeCipher(generate_keyring()), key)
        result = await verify(store)
        assert result.ok and result.checked == 7 and result.head_hash == prev, result
        assert [(s.shard, s.records) for s in result.shards] == [(0, 7)]
        new = [await append(store, "test.new", sid) for sid in (S1, S2, None)]
        assert new[0] == 8  # the global seq carries on from the old chain
        result = await verify(store)
        assert result.ok and result.checked == 10, result
        shards = {s.shard: s.records for s in result.shards}
        assert shards == ({0: 10} if database.is_sqlite else {0: 8, 3: 1, 5: 1})
    finally:
        await database.dispose()


async def migrate_down(database: Database, to: str) -> None:
    def _downgrade(sync_conn: Any) -> None:
        config = alembic_config()
        config.attributes["connection"] = sync_conn
        command.downgrade(config, to)

    async with database.write() as conn:
        await conn.run_sync(_downgrade)


@PG_ONLY
async def test_housekeeping_anchors_what_moved(store: Store, database_url: str) -> None:
    """The maintenance loop anchors after each sleep, and only when a shard head moved."""
    await append(store, "test.one", S1)
    loop = asyncio.create_task(run_periodically(store, lambda: NOW, every_s=0))
    try:
        for _ in range(500):  # bounded: at most ~10 s
            if await raw_execute(database_url, "SELECT seq FROM audit_log WHERE action = $1",
                                 ANCHOR_ACTION):
                break
            await asyncio.sleep(0.02)
        for _ in range(5):  # a few more rounds, with nothing moved
            await asyncio.sleep(0.02)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    anchors = await raw_execute(database_url, "SELECT CAST(detail AS TEXT) FROM audit_log "
                                "WHERE action = $1", ANCHOR_ACTION)
    assert len(anchors) == 1 and [h[:2] for h in json.loads(anchors[0][0])["heads"]] == [[3, 1]]
    result = await verify(store)
    assert result.ok and result.anchors == 1
