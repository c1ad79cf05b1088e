"""Driving a real `wis-term` process through its stdin/stdout (the way a user over a serial
line would), and the direct API calls the others in a scenario make. Shared by the degraded
line test and bench/term_catchup.py."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


class Term:
    def __init__(self, argv: list[str], state: Path, server_url: str,
                 env: dict[str, str] | None = None, extra_args: list[str] | None = None) -> None:
        full_env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "clients" / "fallback"), os.environ.get("PYTHONPATH", "")]),
            "PYTHONUNBUFFERED": "1", **(env or {})}
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [*argv, sys.executable, "-m", "wis_term", "--server", server_url, "--state",
             str(state), *(extra_args or [])], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1, env=full_env, cwd=ROOT)
        self.lines: list[tuple[float, str]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.cond:
                self.lines.append((time.monotonic() - self.started, line.rstrip("\n")))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def send(self, *lines: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("".join(line + "\n" for line in lines))
        self.process.stdin.flush()

    def wait_for(self, pattern: str, timeout: float, start: int = 0) -> re.Match[str]:
        """The first output line from index `start` on that matches; bounded in time."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for _, line in self.lines[start:]:
                    if m := regex.search(line):
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not left):
                    raise TimeoutError(f"no {pattern!r} within {timeout} s; last lines:\n"
                                       + "\n".join(x for _, x in self.lines[-25:]))
                self.cond.wait(min(left, 1.0))

    def text(self) -> list[str]:
        with self.cond:
            return [x for _, x in self.lines]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def quit(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            try:
                self.send("avsluta")
                self.process.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(10)


class Api:
    """A person calling the server directly (not through the degraded line)."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30)
        self.credentials = {"username": username, "password": password}
        self.lock = threading.Lock()
        self._sign_in()
        self.me = self.get("/api/v1/me")

    def _sign_in(self) -> None:
        r = self.client.post("/api/v1/auth/token", json=self.credentials)
        r.raise_for_status()
        self.client.headers["authorization"] = f"Bearer {r.json()['access_token']}"

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; signs in again once when the (short-lived) access token expired."""
        with self.lock:
            r = self.client.request(method, path, **kwargs)
            if r.status_code == 401:
                self._sign_in()
                r = self.client.request(method, path, **kwargs)
            return r

    def get(self, path: str, **params: Any) -> Any:
        r = self._call("GET", path, params=params)
        r.raise_for_status()
        return r.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        r = self._call("POST", path, json=body)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def entries(self, space_id: str) -> list[dict[str, Any]]:
        """Every entry of the space this person may read, oldest first."""
        out: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self.get(f"/api/v1/spaces/{space_id}/entries", after=after, limit=500)
            out += page["items"]
            if len(page["items"]) < 500:
                return out
            after = page["items"][-1]["seq"]

    def close(self) -> None:
        self.client.close()


def journal(state: Path) -> list[tuple[str, int, str]]:
    """The client's journal of shown entries: (space id, seq, entry id) in the order shown."""
    import json

    path = state / "seen.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        rows.append((rec["s"], rec["q"], rec["i"]))
    return rows
