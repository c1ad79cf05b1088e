"""The `wis` command as an operator runs it, in its own process, on both databases: init
(non-interactive, password from the environment only), migrate, actor add, user add, demo,
audit verify — and what they create works through the API."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import parse_demo_logins
from tests.helpers import clean_env, raw_execute, run_wis
from wis_server.api.app import create_app
from wis_server.classification.keys import load_keyring_file
from wis_server.config import load_settings


class InProcess:
    """`wis` run in this process (fast), with exactly the given environment."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
                 ) -> None:
        self.monkeypatch = monkeypatch
        self.capsys = capsys

    def __call__(self, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        from wis_server.cli import main

        for name in [n for n in os.environ if n.startswith("WIS_")]:
            self.monkeypatch.delenv(name)
        for name, value in env.items():
            if name.startswith("WIS_"):
                self.monkeypatch.setenv(name, value)
        self.capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse
            code = int(exit_.code or 0)
        out, err = self.capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)


@pytest.fixture
def wis(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> InProcess:
    return InProcess(monkeypatch, capsys)


def env_for(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    return clean_env(WIS_DATA_DIR=str(tmp_path / "data"), WIS_DATABASE_URL=database_url,
                     WIS_LOG_LEVEL="warning", **extra)


@asynccontextmanager
async def api_for(env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on what the CLI created (same database, same keyring file)."""
    settings = load_settings({**env, "WIS_COOKIE_SECURE": "false"})
    app = create_app(settings, load_keyring_file(Path(settings.keyring.file)))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", json={"username": username,
                                                      "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_init_actor_user_migrate_verify(tmp_path: Path, database_url: str,
                                        wis: InProcess) -> None:
    env = env_for(tmp_path, database_url)
    data = tmp_path / "data"

    # Refuses to create an admin without WIS_ADMIN_PASSWORD, and never takes it as an argument.
    done = wis(env, "init", "--admin-username", "root")
    assert done.returncode != 0
    assert "WIS_ADMIN_PASSWORD" in done.stderr
    done = wis(env, "init", "--admin-username", "root", "--admin-password", "x" * 16)
    assert done.returncode != 0

    # The real command, in its own process.
    password = "operatörens-lösenord-1"
    done = run_wis({**env, "WIS_ADMIN_PASSWORD": password}, "init", "--admin-username", "root")
    assert done.returncode == 0, done.stdout + done.stderr
    assert password not in done.stdout + done.stderr
    keyring = data / "keyring.json"
    assert stat.S_IMODE(os.stat(keyring).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    key_doc = keyring.read_text()
    # Init again keeps the keyring and the admin.
    done = wis({**env, "WIS_ADMIN_PASSWORD": password}, "init", "--admin-username", "root")
    assert done.returncode == 0 and "kept" in done.stdout
    assert keyring.read_text() == key_doc

    done = wis(env, "migrate")
    assert done.returncode == 0 and "migrated to" in done.stdout

    done = wis(env, "actor", "add", "--name", "Sundbybergs stad", "--short-name", "SBG",
               "--ceiling", "sekretess")
    assert done.returncode == 0, done.stderr
    done = wis(env, "actor", "add", "--name", "Sundbybergs stad", "--short-name", "SBG")
    assert done.returncode != 0
    done = wis(env, "user", "add", "--actor", "SBG", "--username", "tib.sbg",
               "--role", "editor", "--clearance", "sekretess")
    assert done.returncode != 0 and "WIS_USER_PASSWORD" in done.stderr  # no terminal to ask
    user_pw = "tjänsteman-i-beredskap"
    done = wis({**env, "WIS_USER_PASSWORD": user_pw}, "user", "add", "--actor", "SBG",
               "--username", "tib.sbg", "--role", "editor", "--clearance", "sekretess")
    assert done.returncode == 0, done.stderr
    assert user_pw not in done.stdout + done.stderr
    done = wis({**env, "WIS_USER_PASSWORD": user_pw}, "user", "add", "--actor", "SBG",
               "--username", "too.high", "--clearance", "hemlig")
    assert done.returncode != 0 and "ceiling" in done.stderr
    done = wis({**env, "WIS_USER_PASSWORD": user_pw}, "user", "add", "--actor", "NOPE",
               "--username", "x.y")
    assert done.returncode != 0 and "NOPE" in done.stderr

    async def check() -> None:
        async with api_for(env) as api:
            root = await sign_in(api, "root", password)
            me = (await api.get("/api/v1/me", headers=root)).json()
            assert me["role"] == "system_admin"
            actors = (await api.get("/api/v1/actors", headers=root)).json()["items"]
            assert {a["short_name"]: a["clearance_ceiling"] for a in actors}["SBG"] == \
                "sekretess"
            tib = await sign_in(api, "tib.sbg", user_pw)
            me = (await api.get("/api/v1/me", headers=tib)).json()
            assert (me["role"], me["clearance"], me["actor"]["short_name"]) == \
                ("editor", "sekretess", "SBG")
            r = await api.post("/api/v1/spaces", headers=tib, json={
                "title": "Vattenläcka", "type": "disruption", "classification": "sekretess"})
            assert r.status_code == 201
        # Passwords are stored as argon2id hashes only.
        rows = await raw_execute(database_url, "SELECT password_hash FROM users")
        assert rows and all(str(r[0]).startswith("$argon2id$") for r in rows)

    asyncio.run(check())
    done = wis(env, "audit", "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "intact" in done.stdout


def test_demo_loads_a_realistic_exercise(tmp_path: Path, database_url: str,
                                         wis: InProcess) -> None:
    env = env_for(tmp_path, database_url)
    assert wis(env, "init").returncode == 0
    done = run_wis(env, "demo")
    assert done.returncode == 0, done.stdout + done.stderr
    logins = parse_demo_logins(done.stdout)
    assert {"tib.lst", "rlc.polis", "tib.sthlm", "lasare.nacka"} <= set(logins)
    logins_file = tmp_path / "data" / "demo-logins.txt"
    assert stat.S_IMODE(os.stat(logins_file).st_mode) == 0o600

    again = wis(env, "demo")
    assert again.returncode != 0 and "already" in again.stderr
    again = wis(env, "demo", "--if-empty")
    assert again.returncode == 0 and parse_demo_logins(again.stdout) == logins

    async def check() -> None:
        async with api_for(env) as api:
            lst = await sign_in(api, "tib.lst", logins["tib.lst"])
            actors = (await api.get("/api/v1/actors", headers=lst)).json()["items"]
            shorts = {a["short_name"] for a in actors}
            assert {"LST", "RS", "POLIS", "SOS", "TRV", "SSBF", "STHLM"} <= shorts
            assert len(shorts) >= 8
            spaces = (await api.get("/api/v1/spaces", headers=lst)).json()["items"]
            exercise = [s for s in spaces if s["exercise"]]
            assert exercise and exercise[0]["type"] == "exercise"
            sid = exercise[0]["id"]
            entries = (await api.get(f"/api/v1/spaces/{sid}/entries",
                                     headers=lst)).json()["items"]
            assert {e["classification"] for e in entries} == {"public", "sekretess", "hemlig"}
            assert all(e["exercise"] for e in entries)
            report = (await api.get(f"/api/v1/spaces/{sid}/situation-reports/latest",
                                    headers=lst)).json()
            assert report["scope"] == "joint" and len(report["sections"]) >= 5
            # A reader at public clearance of another actor sees only part of it.
            nacka = await sign_in(api, "lasare.nacka", logins["lasare.nacka"])
            seen: Any = (await api.get(f"/api/v1/spaces/{sid}/entries",
                                       headers=nacka)).json()["items"]
            assert seen and {e["classification"] for e in seen} == {"public"}
            assert len(seen) < len(entries)

    asyncio.run(check())
    done = wis(env, "audit", "verify")
    assert done.returncode == 0, done.stdout + done.stderr


def test_bad_configuration_fails_cleanly(tmp_path: Path, database_url: str,
                                         wis: InProcess) -> None:
    env = env_for(tmp_path, database_url)
    # No keyring yet: commands that need keys say so.
    done = wis(env, "audit", "verify")
    assert done.returncode != 0 and "keyring" in done.stderr.lower()
    done = wis({**env, "WIS_PORT": "eighty"}, "migrate")
    assert done.returncode != 0 and "WIS_PORT" in done.stderr
    # A keyring others can read is refused.
    assert wis(env, "init").returncode == 0
    keyring = tmp_path / "data" / "keyring.json"
    os.chmod(keyring, 0o644)
    done = wis(env, "audit", "verify")
    assert done.returncode != 0 and "chmod 600" in done.stderr
    os.chmod(keyring, 0o600)
    assert wis(env, "audit", "verify").returncode == 0
    # Keys from the environment cannot be rotated in place, and a bad one is not echoed.
    env_keys = {**env, "WIS_KEYRING_PUBLIC": "1:" + "A" * 44}
    done = wis(env_keys, "keys", "rotate")
    assert done.returncode != 0 and "A" * 44 not in done.stderr


def test_zero_configuration_init_keeps_everything_private(tmp_path: Path) -> None:
    """The embedded default: SQLite and keyring under WIS_DATA_DIR, none of it readable by
    other local users."""
    env = clean_env(WIS_DATA_DIR=str(tmp_path / "var"), WIS_LOG_LEVEL="warning")
    done = run_wis(env, "init")
    assert done.returncode == 0, done.stdout + done.stderr
    data = tmp_path / "var"
    files = [p for p in data.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"wis.db", "keyring.json"}
    for f in files:
        assert stat.S_IMODE(os.stat(f).st_mode) & 0o077 == 0, (f.name, oct(f.stat().st_mode))
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700


def test_init_adds_a_vapid_key_to_an_older_keyring(tmp_path: Path) -> None:
    """`wis init` on a keyring written before Web Push existed adds a VAPID key, keeping
    every other key as it was."""
    import json

    env = clean_env(WIS_DATA_DIR=str(tmp_path / "var"), WIS_LOG_LEVEL="warning")
    assert run_wis(env, "init").returncode == 0
    path = tmp_path / "var" / "keyring.json"
    doc = json.loads(path.read_text())
    assert doc["vapid_private_pem"].startswith("-----BEGIN PRIVATE KEY-----")
    del doc["vapid_private_pem"]
    path.write_text(json.dumps(doc))
    done = run_wis(env, "init")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "added a Web Push VAPID key" in done.stdout
    again = json.loads(path.read_text())
    assert again["vapid_private_pem"].startswith("-----BEGIN PRIVATE KEY-----")
    assert {k: v for k, v in again.items() if k != "vapid_private_pem"} == doc
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
