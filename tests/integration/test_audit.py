"""The audit log: every write, admin action and read of sekretess/hemlig content leaves a
record (without content); `wis audit verify` passes an intact chain and names the first bad
record after a row is changed, deleted or reordered with raw SQL; actor admins read only their
actor's trail, system admins all, everyone else gets 404."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import World
from tests.helpers import (
    assert_problem,
    create_space,
    marker,
    post_entry,
    raw_execute,
    run_wis,
)
from wis_server.classification.keys import save_keyring
from wis_server.domain.audit import GENESIS
from wis_server.domain.levels import Classification, Role

ROOT = Path(__file__).resolve().parents[2]


async def all_records(world: World, who: str = "auditor", **params: Any
                      ) -> list[dict[str, Any]]:
    """The trail as `who` sees it; the default, a hemlig-cleared system administrator of A
    (which takes part in every space these tests make), is shown every record in full."""
    if who == "auditor" and who not in world.people:
        await world.add_person("auditor", "A", Role.SYSTEM_ADMIN, Classification.HEMLIG)
    records: list[dict[str, Any]] = []
    after = 0
    while True:
        r = await world.client.get("/api/v1/audit", headers=world[who].auth,
                                   params={"after": after, "limit": 1000, **params})
        assert r.status_code == 200, r.text
        page = r.json()["items"]
        if not page:
            return records
        records += page
        after = page[-1]["seq"]


async def activity(world: World) -> tuple[dict[str, Any], list[str]]:
    """A bit of everything; returns ids and the content markers used."""
    c, ids = world.client, world.actors
    markers: list[str] = []

    def m(label: str) -> str:
        value = marker(label)
        markers.append(value)
        return value

    a = world["a_editor"]
    space = await create_space(c, a, participants=[ids["B"]], title=m("title"),
                               description=m("desc"))
    sid = space["id"]
    public = await post_entry(c, a, sid, level="public", body=m("pub"))
    sek = await post_entry(c, a, sid, level="sekretess", body=m("sek"),
                           audience=[ids["A"], ids["B"]])
    hem = await post_entry(c, a, sid, level="hemlig", body=m("hem"))
    r = await c.patch(f"/api/v1/spaces/{sid}", headers=a.auth, json={"title": m("title2")})
    assert r.status_code == 200
    r = await c.patch(f"/api/v1/spaces/{sid}/entries/{public['id']}", headers=a.auth,
                      json={"audience": [ids["A"]]})
    assert r.status_code == 200, r.text
    r = await c.post(f"/api/v1/spaces/{sid}/situation-reports", headers=a.auth, json={
        "scope": "joint", "sections": [
            {"key": "event", "classification": "public", "body": m("ev")},
            {"key": "needs", "classification": "hemlig", "body": m("needs")}]})
    assert r.status_code == 201
    report_id = r.json()["id"]
    # Reads by a user of B (who may read the sekretess entry only).
    b = world["b_editor"]
    assert (await c.get(f"/api/v1/spaces/{sid}/entries/{sek['id']}",
                        headers=b.auth)).status_code == 200
    r = await c.get(f"/api/v1/spaces/{sid}/entries", headers=b.auth)
    assert r.status_code == 200
    assert (await c.get(f"/api/v1/spaces/{sid}/situation-reports/latest",
                        headers=a.auth)).status_code == 200
    # Admin actions.
    r = await c.post("/api/v1/actors", headers=world["sys"].auth, json={
        "name": "Aktör D", "short_name": "D", "clearance_ceiling": "sekretess"})
    assert r.status_code == 201
    # (A public-cleared admin may not raise anyone above public — issue 7 — so: lower.)
    r = await c.patch(f"/api/v1/users/{world['b_speaker'].user_id}",
                      headers=world["b_admin"].auth, json={"clearance": "public"})
    assert r.status_code == 200
    r = await c.post(f"/api/v1/actors/{ids['B']}/users", headers=world["b_admin"].auth, json={
        "username": "b_new", "password": m("password"), "display_name": "Ny",
        "role": "reader", "clearance": "public"})
    assert r.status_code == 201
    r = await c.post(f"/api/v1/users/{r.json()['id']}/password",
                     headers=world["b_admin"].auth, json={"password": m("password2")})
    assert r.status_code == 204
    # Sign-ins, good and bad.
    assert (await c.post("/api/v1/auth/token", json={
        "username": "a_reader", "password": world["a_reader"].password})).status_code == 200
    assert (await c.post("/api/v1/auth/token", json={
        "username": "a_reader", "password": m("wrongpw")})).status_code == 401
    return {"space": sid, "public": public["id"], "sek": sek["id"], "hem": hem["id"],
            "report": report_id}, markers


async def test_writes_admin_actions_and_classified_reads_are_audited(world: World) -> None:
    made, markers = await activity(world)
    records = await all_records(world)
    by_action: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        by_action.setdefault(rec["action"], []).append(rec)
    for action in ("actor.create", "user.create", "user.update", "user.password_reset",
                   "space.create", "space.update", "entry.create", "entry.audience_change",
                   "situation_report.publish", "entry.read", "situation_report.read",
                   "auth.sign_in"):
        assert action in by_action, (action, sorted(by_action))
    created = {r["target_id"] for r in by_action["entry.create"]}
    assert {made["public"], made["sek"], made["hem"]} <= created
    assert all(r["space_id"] == made["space"] for r in by_action["entry.create"])
    assert made["space"] in {r["target_id"] for r in by_action["space.create"]}
    assert made["report"] in {r["target_id"] for r in by_action["situation_report.publish"]}

    # Classified reads name the items read; public-only reads leave no read record.
    b_actor = world["b_editor"].actor_id
    b_reads = [r for r in by_action["entry.read"] if r["user_id"] == world["b_editor"].user_id]
    assert b_reads and all(r["actor_id"] == b_actor for r in b_reads)
    read_items = {i for r in b_reads for i in r["detail"]["items"]}
    assert made["sek"] in read_items
    assert made["public"] not in read_items and made["hem"] not in read_items
    for r in by_action["entry.read"]:
        assert "public" not in r["detail"]["levels"]
    assert any(r["target_type"] == "situation_report"
               for r in by_action["situation_report.read"])

    outcomes = {r["outcome"] for r in by_action["auth.sign_in"]}
    assert outcomes == {"ok", "denied"}

    # No content anywhere in the trail (details, targets, anything).
    text = json.dumps(records, ensure_ascii=False)
    for m in markers:
        assert m not in text, m
    # Each record carries its chain hash.
    assert all(len(r["hash"]) == 64 for r in records)
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))


async def test_public_reads_are_not_audited_but_classified_ones_are(world: World) -> None:
    c = world.client
    space = await create_space(c, world["a_editor"], participants=[])
    e = await post_entry(c, world["a_editor"], space["id"], level="public", body="p")
    before = len(await all_records(world))
    await c.get(f"/api/v1/spaces/{space['id']}/entries/{e['id']}",
                headers=world["a_reader"].auth)
    await c.get(f"/api/v1/spaces/{space['id']}/entries", headers=world["a_reader"].auth)
    assert len(await all_records(world)) == before
    h = await post_entry(c, world["a_editor"], space["id"], level="hemlig", body="h")
    before = len(await all_records(world))
    await c.get(f"/api/v1/spaces/{space['id']}/entries/{h['id']}",
                headers=world["a_editor"].auth)
    after = await all_records(world)
    assert len(after) == before + 1
    assert after[-1]["action"] == "entry.read" and after[-1]["detail"]["items"] == [h["id"]]
    # A refused read (404) is not a read of content (only a refusal, see test_audit_probing).
    await c.get(f"/api/v1/spaces/{space['id']}/entries/{h['id']}",
                headers=world["a_reader"].auth)
    later = (await all_records(world))[len(after):]
    assert [x["action"] for x in later] == ["access.refused"]


async def test_who_may_read_the_audit_trail(world: World) -> None:
    await activity(world)
    ids = world.actors
    everything = await all_records(world)
    actors_seen = {r["actor_id"] for r in everything}
    assert {ids["A"], ids["B"]} <= actors_seen

    a_trail = await all_records(world, "a_admin")
    assert a_trail and {r["actor_id"] for r in a_trail} == {ids["A"]}
    assert len(a_trail) == sum(1 for r in everything if r["actor_id"] == ids["A"])
    b_trail = await all_records(world, "b_admin", actor_id=ids["B"])
    assert b_trail and {r["actor_id"] for r in b_trail} == {ids["B"]}
    sys_b = await all_records(world, "sys", actor_id=ids["B"])
    assert sys_b == b_trail

    r = await world.client.get("/api/v1/audit", headers=world["a_admin"].auth,
                               params={"actor_id": ids["B"]})
    assert assert_problem(r, 403)["code"] == "not_audit_reader"
    for who in ("a_editor", "a_reader", "b_editor", "b_speaker", "b_reader", "c_editor"):
        r = await world.client.get("/api/v1/audit", headers=world[who].auth)
        assert assert_problem(r, 403)["code"] == "not_audit_reader"
        r = await world.client.get("/api/v1/audit", headers=world[who].auth,
                                   params={"actor_id": world[who].actor_id})
        assert assert_problem(r, 403)["code"] == "not_audit_reader"
    assert_problem(await world.client.get("/api/v1/audit"), 401)
    # Paging works and is ordered.
    r = await world.client.get("/api/v1/audit", headers=world["sys"].auth,
                               params={"after": 2, "limit": 3})
    assert [x["seq"] for x in r.json()["items"]] == [3, 4, 5]


# --- tamper detection ---------------------------------------------------------------------

def wis(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_wis(env, *args)


def cli_env(world: World, database_url: str, tmp_path: Path) -> dict[str, str]:
    keyring_path = tmp_path / "cli" / "keyring.json"
    save_keyring(world.app.state.keyring, keyring_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIS_")}
    env.update({"WIS_DATA_DIR": str(tmp_path / "cli"), "WIS_DATABASE_URL": database_url,
                "WIS_KEYRING_FILE": str(keyring_path), "WIS_LOG_LEVEL": "warning"})
    return env


async def verify(world: World) -> Any:
    return await world.app.state.services.audit.verify()


async def next_in_shard(database_url: str, at_least: int) -> tuple[int, int]:
    """The first record from seq `at_least` on that has a successor in its shard's chain,
    and that successor's seq (on SQLite, one chain: the next seq). A deleted record is found
    missing where its shard's chain goes on."""
    ((seq, after),) = await raw_execute(
        database_url, "SELECT a.seq, b.seq FROM audit_log a JOIN audit_log b ON "
        "b.shard = a.shard AND b.shard_seq = a.shard_seq + 1 WHERE a.seq >= $1 "
        "ORDER BY a.seq LIMIT 1", at_least)
    return seq, after


async def test_verify_detects_changed_deleted_and_reordered_rows(
        world: World, database_url: str, tmp_path: Path) -> None:
    await activity(world)
    env = cli_env(world, database_url, tmp_path)
    n = len(await all_records(world))
    assert n >= 20
    k = n // 2

    done = wis(env, "audit", "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{n} records" in done.stdout

    def bad(expected_seq: int) -> None:
        result = wis(env, "audit", "verify")
        assert result.returncode != 0, result.stdout
        assert f"seq={expected_seq}" in result.stdout + result.stderr, result.stdout

    # Changed: one column of one record.
    (original,) = await raw_execute(database_url,
                                    "SELECT outcome FROM audit_log WHERE seq = $1", k)
    await raw_execute(database_url, "UPDATE audit_log SET outcome = 'forged' WHERE seq = $1", k)
    bad(k)
    result = await verify(world)
    assert not result.ok and result.first_bad_seq == k and result.checked == k - 1
    await raw_execute(database_url, "UPDATE audit_log SET outcome = $1 WHERE seq = $2",
                      original[0], k)
    assert (await verify(world)).ok

    # Changed detail (e.g. hiding which items were read).
    (detail,) = await raw_execute(database_url,
                                  "SELECT CAST(detail AS TEXT) FROM audit_log WHERE seq = $1",
                                  k + 1)
    await raw_execute(database_url, "UPDATE audit_log SET detail = '{}' WHERE seq = $1", k + 1)
    result = await verify(world)
    assert not result.ok and result.first_bad_seq == k + 1
    await raw_execute(database_url, "UPDATE audit_log SET detail = $1 WHERE seq = $2",
                      detail[0], k + 1)
    assert (await verify(world)).ok

    # Reordered: two neighbouring records swap places (their seq is in their hash whichever
    # shard they are in).
    await raw_execute(database_url, "UPDATE audit_log SET seq = -1 WHERE seq = $1", k)
    await raw_execute(database_url, "UPDATE audit_log SET seq = $1 WHERE seq = $2", k, k + 1)
    await raw_execute(database_url, "UPDATE audit_log SET seq = $1 WHERE seq = -1", k + 1)
    result = await verify(world)
    assert not result.ok and result.first_bad_seq == k
    # (swap back)
    await raw_execute(database_url, "UPDATE audit_log SET seq = -1 WHERE seq = $1", k)
    await raw_execute(database_url, "UPDATE audit_log SET seq = $1 WHERE seq = $2", k, k + 1)
    await raw_execute(database_url, "UPDATE audit_log SET seq = $1 WHERE seq = -1", k + 1)
    assert (await verify(world)).ok

    # Deleted: a record in the middle (named: where its shard's chain goes on); and the
    # first one.
    middle, after_middle = await next_in_shard(database_url, k)
    first, after_first = await next_in_shard(database_url, 1)
    await raw_execute(database_url, "DELETE FROM audit_log WHERE seq = $1", middle)
    bad(after_middle)
    await raw_execute(database_url, "DELETE FROM audit_log WHERE seq = $1", first)
    result = await verify(world)
    assert not result.ok and result.first_bad_seq == min(after_first, after_middle)


async def test_rewriting_the_chain_without_the_audit_key_is_detected(
        world: World, database_url: str) -> None:
    """An attacker with database access recomputes every hash after their change — with any
    key but the keyring's (which is not in the database)."""
    from wis_server.storage.audit import chain_hash

    await activity(world)
    rows = await raw_execute(database_url, "SELECT seq FROM audit_log ORDER BY seq")
    k = len(rows) // 2
    await raw_execute(database_url, "UPDATE audit_log SET outcome = 'forged' WHERE seq = $1", k)
    stored = []
    async with world.app.state.store.read() as tx:
        async for s in tx.audit.scan():
            stored.append(s)
    guess = secrets.token_bytes(32)
    # (the whole shard's chain from the changed record on, in whichever shard it is)
    changed = next(s for s in stored if s.seq == k)
    shard = [s for s in stored if s.shard == changed.shard]
    at = shard.index(changed)
    prev = shard[at - 1].hash if at else GENESIS
    for s in shard[at:]:
        digest = chain_hash(guess, prev, s.position, s.at, s.record, shard=s.shard,
                            global_seq=s.seq)
        await raw_execute(database_url, "UPDATE audit_log SET prev_hash = $1, hash = $2 "
                          "WHERE seq = $3", prev, digest, s.seq)
        prev = digest
    result = await verify(world)
    assert not result.ok and result.first_bad_seq == k


async def test_verify_on_an_empty_and_on_an_intact_log(world: World, database_url: str,
                                                       tmp_path: Path) -> None:
    result = await verify(world)
    assert result.ok
    await activity(world)
    records = await all_records(world)
    result = await verify(world)
    assert result.ok and result.checked == len(records)


async def test_records_removed_from_the_end_are_detected_with_a_kept_head(
        world: World, database_url: str, tmp_path: Path) -> None:
    await activity(world)
    env = cli_env(world, database_url, tmp_path)
    result = await verify(world)
    assert result.ok
    head = f"{result.head_seq}:{result.head_hash}"
    done = wis(env, "audit", "verify", "--expect-head", head)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"hash={result.head_hash}" in done.stdout
    # Truncate the tail: the chain itself is still consistent...
    await raw_execute(database_url, "DELETE FROM audit_log WHERE seq >= $1", result.head_seq - 2)
    assert (await verify(world)).ok
    # ...but the head kept elsewhere no longer matches.
    done = wis(env, "audit", "verify", "--expect-head", head)
    assert done.returncode != 0
    assert "TAMPERED" in done.stdout


async def test_classified_reads_through_the_long_poll_are_audited(world: World) -> None:
    c = world.client
    space = await create_space(c, world["a_editor"], participants=[world.actors["B"]])
    h = await post_entry(c, world["a_editor"], space["id"], level="hemlig", body=marker("lp"))
    p = await post_entry(c, world["a_editor"], space["id"], level="public", body=marker("lp"))
    before = await all_records(world)
    r = await c.get(f"/api/v1/spaces/{space['id']}/events", params={"after": 0},
                    headers=world["a_editor"].auth)
    assert r.status_code == 200 and h["body"] in r.text
    # Stream and long-poll reads are flushed to the trail in batches (about every second).
    for _ in range(50):
        new = (await all_records(world))[len(before):]
        reads = [x for x in new if x["action"].endswith(".read")
                 and x["user_id"] == world["a_editor"].user_id]
        if reads:
            break
        await asyncio.sleep(0.1)
    read_items = {i for x in reads for i in x["detail"].get("items", [])} | {
        x["target_id"] for x in reads}
    assert h["id"] in read_items, new
    assert p["id"] not in read_items
    # A reader who is shown nothing classified leaves no read record.
    before = await all_records(world)
    r = await c.get(f"/api/v1/spaces/{space['id']}/events", params={"after": 0},
                    headers=world["b_reader"].auth)
    assert r.status_code == 200 and h["body"] not in r.text
    await asyncio.sleep(1.5)
    new = (await all_records(world))[len(before):]
    assert not [x for x in new if x["user_id"] == world["b_reader"].user_id
                and x["action"].endswith(".read")]


async def test_a_record_rewritten_with_a_duplicated_key_fails_verify(
        world: World, database_url: str, tmp_path: Path) -> None:
    """`{"level":"public","audience":"all",…original…}`: SQL tools read the first key, a
    lenient verifier the last (the original, so the hash still matched). Only the writer's
    own encoding verifies: duplicated keys, other spacing or escaping are tampering."""
    made, _ = await activity(world)
    env = cli_env(world, database_url, tmp_path)
    rows = await raw_execute(database_url, "SELECT seq, CAST(detail AS TEXT) FROM audit_log "
                             "WHERE action = 'entry.create' AND target_id = $1", made["hem"])
    ((seq, original),) = rows
    assert json.loads(original)["level"] == "hemlig"
    assert wis(env, "audit", "verify").returncode == 0

    def bad() -> None:
        result = wis(env, "audit", "verify")
        assert result.returncode != 0, result.stdout
        assert f"seq={seq}" in result.stdout + result.stderr, result.stdout

    forged = '{"level": "public", "audience": "all", ' + original[1:]
    for rewritten in (forged, original.replace(": ", ":"), original + " ",
                      original.replace('"hemlig"', '"\\u0068emlig"')):
        assert json.loads(rewritten)["level"] in ("public", "hemlig")
        await raw_execute(database_url, "UPDATE audit_log SET detail = $1 WHERE seq = $2",
                          rewritten, seq)
        bad()
        result = await verify(world)
        assert not result.ok and result.first_bad_seq == seq and "canonical" in result.problem
    await raw_execute(database_url, "UPDATE audit_log SET detail = $1 WHERE seq = $2",
                      original, seq)
    assert (await verify(world)).ok
