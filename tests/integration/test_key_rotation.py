"""Key rotation: `wis keys rotate` (a separate process) and the service function add a key
version per level and re-wrap every data key; all old data stays readable through the API of
a server that keeps running throughout and reloads the keyring file by itself."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import World
from tests.helpers import create_space, marker, post_entry, raw_execute, run_wis
from wis_server.classification.crypto import EnvelopeCipher
from wis_server.classification.keys import (
    Keyring,
    generate_keyring,
    load_keyring_file,
    save_keyring,
)
from wis_server.services.keys import rewrap_all
from wis_server.storage.database import Database
from wis_server.storage.unit import Store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    """Overrides the shared fixture: the app gets a keyring loaded from a file, as in
    production, so it can pick up a rotation done by another process."""
    path = tmp_path / "keys" / "keyring.json"
    save_keyring(generate_keyring(), path)
    return load_keyring_file(path)


def keyring_path(world: World) -> Path:
    source = world.app.state.keyring.source
    assert source.startswith("file:")
    return Path(source.removeprefix("file:"))


def cli_env(world: World, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIS_")}
    path = keyring_path(world)
    env.update({"WIS_DATA_DIR": str(path.parent), "WIS_DATABASE_URL": database_url,
                "WIS_KEYRING_FILE": str(path)})
    return env


async def versions(database_url: str) -> dict[int, int]:
    rows = await raw_execute(database_url,
                             "SELECT kek_version, COUNT(*) FROM data_keys GROUP BY kek_version")
    return {int(v): int(n) for v, n in rows}


async def fill(world: World) -> tuple[str, list[tuple[str, str]], str]:
    c, ids = world.client, world.actors
    space = await create_space(c, world["a_editor"], participants=[ids["B"]])
    sid = space["id"]
    entries = []
    for level in ("public", "sekretess", "hemlig"):
        for _ in range(3):
            body = marker(level)
            e = await post_entry(c, world["a_editor"], sid, level=level, body=body,
                                 audience=[ids["A"], ids["B"]] if level == "sekretess" else None)
            entries.append((e["id"], body))
    section = marker("section")
    r = await c.post(f"/api/v1/spaces/{sid}/situation-reports", headers=world["a_editor"].auth,
                     json={"scope": "joint", "sections": [
                         {"key": "event", "classification": "hemlig", "body": section}]})
    assert r.status_code == 201
    return sid, entries, section


async def assert_all_readable(world: World, sid: str, entries: list[tuple[str, str]],
                              section: str) -> None:
    c = world.client
    r = await c.get(f"/api/v1/spaces/{sid}/entries", headers=world["a_editor"].auth)
    assert r.status_code == 200, r.text
    assert [(e["id"], e["body"]) for e in r.json()["items"]] == entries
    for entry_id, body in entries:
        r = await c.get(f"/api/v1/spaces/{sid}/entries/{entry_id}",
                        headers=world["a_editor"].auth)
        assert r.status_code == 200 and r.json()["body"] == body
    r = await c.get(f"/api/v1/spaces/{sid}", headers=world["b_reader"].auth)
    assert r.status_code == 200
    r = await c.get(f"/api/v1/spaces/{sid}/situation-reports/latest",
                    headers=world["a_editor"].auth)
    assert r.json()["sections"][0]["body"] == section


async def test_cli_rotate_rewraps_everything_and_the_app_keeps_reading(
        world: World, database_url: str) -> None:
    sid, entries, section = await fill(world)
    total = sum((await versions(database_url)).values())
    assert await versions(database_url) == {1: total}
    env = cli_env(world, database_url)

    done = run_wis(env, "keys", "rotate")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "re-wrapping data keys [" in done.stderr          # the progress bar
    assert f"{total}/{total}" in done.stderr
    assert f"re-wrapped {total} data keys" in done.stdout
    assert await versions(database_url) == {2: total}

    path = keyring_path(world)
    assert os.stat(path).st_mode & 0o777 == 0o600
    rotated = load_keyring_file(path)
    for keys in rotated.levels.values():
        assert keys.current == 2 and set(keys.versions) == {1, 2}
    old = world.app.state.keyring
    for level, keys in old.levels.items():
        assert rotated.levels[level].versions[1] == keys.versions[1]   # old version kept
        assert rotated.levels[level].versions[2] != keys.versions[1]
    assert rotated.audit_key == old.audit_key
    assert [k.kid for k in rotated.signing] == [k.kid for k in old.signing]

    # The running app never saw the new versions in memory; it reloads the file itself.
    await assert_all_readable(world, sid, entries, section)
    e = await post_entry(world.client, world["a_editor"], sid, level="hemlig", body="after")
    rows = await raw_execute(database_url, "SELECT d.kek_version FROM data_keys d JOIN entries "
                             "e ON e.data_key_id = d.id WHERE e.id = $1", e["id"])
    assert rows == [(2,)]

    # Re-wrap only: nothing left to do.
    done = run_wis(env, "keys", "rotate", "--rewrap-only")
    assert done.returncode == 0, done.stderr
    assert "re-wrapped 0 data keys" in done.stdout
    # The audit trail records the rotation, without key material.
    r = await world.client.get("/api/v1/audit", headers=world["sys"].auth,
                               params={"limit": 1000})
    rewraps = [x for x in r.json()["items"] if x["action"] == "keys.rewrap"]
    assert rewraps and rewraps[0]["detail"]["rewrapped"] == total


async def test_service_rewrap_all_with_progress(world: World, database_url: str) -> None:
    sid, entries, section = await fill(world)
    total = sum((await versions(database_url)).values())
    path = keyring_path(world)
    new = load_keyring_file(path).with_new_versions()
    save_keyring(new, path)

    calls: list[tuple[int, int]] = []
    database = Database(database_url)
    try:
        store = Store(database, EnvelopeCipher(new), new.audit_key)
        n = await rewrap_all(store, EnvelopeCipher(new), world.app.state.clock,
                             lambda done, of: calls.append((done, of)), batch_size=4)
        assert n == total
        # Idempotent: a second run has nothing to do.
        assert await rewrap_all(store, EnvelopeCipher(new), world.app.state.clock) == 0
    finally:
        await database.dispose()
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert len(calls) >= total // 4
    assert await versions(database_url) == {2: total}
    await assert_all_readable(world, sid, entries, section)

    # A rotation twice over still reads everything, and old versions can be read even by a
    # cipher that only knows the newest keyring.
    newer = new.with_new_versions()
    save_keyring(newer, path)
    database = Database(database_url)
    try:
        store = Store(database, EnvelopeCipher(newer), newer.audit_key)
        assert await rewrap_all(store, EnvelopeCipher(newer), world.app.state.clock) == total
    finally:
        await database.dispose()
    assert await versions(database_url) == {3: total}
    await assert_all_readable(world, sid, entries, section)


async def test_data_keys_not_rewrapped_stay_readable(world: World, database_url: str) -> None:
    """Between adding a version and re-wrapping (or if re-wrapping is interrupted), data under
    the old version must still read."""
    sid, entries, section = await fill(world)
    path = keyring_path(world)
    save_keyring(load_keyring_file(path).with_new_versions(), path)
    world.app.state.cipher.refresh_keyring(force=True)
    assert await versions(database_url) == {1: sum((await versions(database_url)).values())}
    await assert_all_readable(world, sid, entries, section)
    e = await post_entry(world.client, world["a_editor"], sid, level="public", body="new")
    rows = await raw_execute(database_url, "SELECT d.kek_version FROM data_keys d JOIN entries "
                             "e ON e.data_key_id = d.id WHERE e.id = $1", e["id"])
    assert rows == [(2,)]


# --- a real server process ----------------------------------------------------------------

def test_running_server_keeps_serving_through_a_rotation(tmp_path: Path) -> None:
    from tests.e2e.conftest import WIS, start_server, stop_server

    server = start_server(tmp_path / "live", {"WIS_LOG_LEVEL": "info"})
    try:
        base = server.base_url
        password = server.demo["tib.lst"]
        token = httpx.post(base + "/api/v1/auth/token", json={
            "username": "tib.lst", "password": password}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        spaces = httpx.get(base + "/api/v1/spaces", headers=auth).json()["items"]
        exercise = next(s for s in spaces if s["exercise"])
        url = f"{base}/api/v1/spaces/{exercise['id']}/entries"
        before = httpx.get(url, headers=auth).json()["items"]
        assert {e["classification"] for e in before} == {"public", "sekretess", "hemlig"}
        report = httpx.get(f"{base}/api/v1/spaces/{exercise['id']}/situation-reports/latest",
                           headers=auth).json()

        statuses: list[int] = []
        stop = threading.Event()

        def poll() -> None:
            with httpx.Client(timeout=10) as client:
                n = 0
                while not stop.is_set():
                    statuses.append(client.get(url, headers=auth).status_code)
                    n += 1
                    if n % 5 == 0:  # and keep writing: new data keys appear mid-rotation
                        statuses.append(client.post(url, headers=auth, json={
                            "kind": "note", "classification": "sekretess",
                            "body": f"under rotation {n}"}).status_code - 1)
                    time.sleep(0.02)

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            done = subprocess.run([*WIS, "keys", "rotate"], env=server.env, cwd=ROOT,
                                  capture_output=True, text=True, timeout=120)
        finally:
            time.sleep(0.2)
            stop.set()
            poller.join()
        assert done.returncode == 0, done.stdout + done.stderr
        assert "re-wrapping data keys [" in done.stderr
        assert statuses and set(statuses) == {200}, statuses  # (201 - 1 for the writes)

        import sqlite3

        conn = sqlite3.connect(server.data_dir / "wis.db")
        try:
            kek_versions = {v for (v,) in conn.execute("SELECT kek_version FROM data_keys")}
        finally:
            conn.close()
        assert kek_versions == {2}

        after = httpx.get(url, headers=auth, params={"limit": 500}).json()["items"]
        assert [(e["id"], e["body"]) for e in after][:len(before)] == \
            [(e["id"], e["body"]) for e in before]
        assert len(after) > len(before)
        report_after = httpx.get(
            f"{base}/api/v1/spaces/{exercise['id']}/situation-reports/latest",
            headers=auth).json()
        assert report_after["sections"] == report["sections"]
        r = httpx.post(url, headers=auth, json={"kind": "note", "classification": "hemlig",
                                                "body": "efter rotation"})
        assert r.status_code == 201, r.text
        assert httpx.get(f"{url}/{r.json()['id']}", headers=auth).json()["body"] == \
            "efter rotation"

        # The server's log (JSON lines) never carries content, even of refused requests.
        secret = marker("logged")
        r = httpx.post(url, headers=auth, json={"kind": "note", "classification": "hemlig",
                                                "body": secret})
        assert r.status_code == 201
        httpx.get(f"{url}/{r.json()['id']}", headers=auth)
        for bad in ({"kind": "x", "classification": "hemlig", "body": secret},
                    {"kind": "note", "classification": "hemlig", "body": secret, secret: 1}):
            assert httpx.post(url, headers=auth, json=bad).status_code == 422
        httpx.post(base + "/api/v1/auth/token", json={"username": secret, "password": secret})
    finally:
        stop_server(server)
    assert server.process.returncode is not None
    log = (server.data_dir / "server.log").read_text(encoding="utf-8")
    assert '"request_id"' in log and '"user_id"' in log  # the access log is there...
    assert secret not in log                               # ...without content
    assert "Vällingby" not in log and "sabotage" not in log  # demo content


