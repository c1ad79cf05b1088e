"""A real server process for end-to-end tests: `wis init`, `wis demo`, `wis serve` on a free
port with a fresh data directory (SQLite), as a user would run it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
WIS = [sys.executable, "-m", "wis_server.cli"]


@dataclass
class LiveServer:
    base_url: str
    data_dir: Path
    demo: dict[str, str]
    process: subprocess.Popen[bytes]
    env: dict[str, str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_demo_logins(text: str) -> dict[str, str]:
    logins = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].startswith("demo-"):
            logins[parts[0]] = parts[1]
    return logins


def start_server(data_dir: Path, extra_env: dict[str, str] | None = None) -> LiveServer:
    port = free_port()
    env = {**os.environ, "WIS_DATA_DIR": str(data_dir), "WIS_COOKIE_SECURE": "false",
           "WIS_LOG_LEVEL": "warning", **(extra_env or {})}
    env.pop("WIS_DATABASE_URL", None) if "WIS_DATABASE_URL" not in (extra_env or {}) else None
    subprocess.run([*WIS, "init"], env=env, check=True, capture_output=True, cwd=ROOT)
    demo = subprocess.run([*WIS, "demo", "--if-empty"], env=env, check=True,
                          capture_output=True, text=True, cwd=ROOT)
    log = open(data_dir / "server.log", "wb")
    process = subprocess.Popen([*WIS, "serve", "--port", str(port)], env=env, cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError((data_dir / "server.log").read_text())
        time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("server did not become ready")
    return LiveServer(base, data_dir, parse_demo_logins(demo.stdout), process, env)


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("live"))
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per browser-test module (launched by web_helpers.chromium)."""
    from .web_helpers import chromium

    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def people(live_server: LiveServer) -> dict[str, dict[str, Any]]:
    """username -> /me (plus 'password') of every demo login (web_helpers.demo_people)."""
    from .web_helpers import demo_people

    return demo_people(live_server.base_url, live_server.demo)
