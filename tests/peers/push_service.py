"""The npm package `web-push-testing` (a push service that verifies the VAPID JWT against the
subscription's applicationServerKey and decrypts aes128gcm), run as a child process of the
test on a free port of 127.0.0.1 (push_service.js starts the package's own server there).
Installed into tests/peers/node_modules by `npm ci` (`make peers`, run by .ci/run and make test)."""

from __future__ import annotations

import os
import selectors
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

PEERS = Path(__file__).resolve().parent
PACKAGE = PEERS / "node_modules" / "web-push-testing"
SERVER_JS = PEERS / "push_service.js"  # the package's server, bound to 127.0.0.1 only


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PushService:
    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, tries: int = 5) -> PushService:
        node = shutil.which("node")
        if node is None or not PACKAGE.exists():
            raise RuntimeError("web-push-testing is not installed: run `npm ci` in tests/peers "
                               "(Node >= 20), as .ci/run and `make test` do")
        for _ in range(tries):  # a port taken between the probe and node's bind: try another
            self.port = _free_port()
            self.process = subprocess.Popen([node, str(SERVER_JS), str(self.port)], cwd=PEERS,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                            env={**os.environ, "NODE_ENV": "test"})
            if self._wait_ready(30):
                return self
            self.stop()
        raise RuntimeError("web-push-testing did not start")

    def _wait_ready(self, seconds: float) -> bool:
        assert self.process is not None and self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline, seen = time.monotonic() + seconds, b""
        while time.monotonic() < deadline:  # bounded: wait for its "Server running" line
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                return False  # exited (e.g. EADDRINUSE)
            seen += chunk
            if b"Server running on port" in seen:
                return True
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    # The peer's own API (its README): subscribe, expire, read what it decrypted.
    def subscribe(self, application_server_key: str) -> dict[str, Any]:
        answer = httpx.post(f"{self.url}/subscribe",
                            json={"applicationServerKey": application_server_key}, timeout=20)
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()["data"]
        return data

    def expire(self, client_hash: str) -> None:
        httpx.post(f"{self.url}/expire-subscription/{client_hash}", timeout=20
                   ).raise_for_status()

    def notifications(self, client_hash: str) -> list[str]:
        answer = httpx.post(f"{self.url}/get-notifications", json={"clientHash": client_hash},
                            timeout=20)
        answer.raise_for_status()
        messages: list[str] = answer.json()["data"]["messages"]
        return messages
