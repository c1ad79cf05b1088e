"""HTTP over a bad line: one keep-alive HTTP/1.1 connection per worker (httpx), the fewest
headers that work (no User-Agent, Accept or Connection: HTTP/1.1 keeps alive by default),
compact JSON, gzip accepted, time-outs from the measured round trip (linkstate.RttEstimator)
and retries with backoff and jitter. Every answer and every failure updates the shared
LinkState, which the state line shows."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .linkstate import LinkState, backoff_delay

RETRY_STATUS = frozenset({408, 425, 429, 502, 503, 504})


class LinkDown(Exception):
    """No answer after the allowed attempts (time-outs, refused or reset connections)."""


class Stopped(Exception):
    """The program is shutting down."""


@dataclass(slots=True)
class Reply:
    status: int
    data: Any
    headers: httpx.Headers
    raw: bytes = b""

    @property
    def code(self) -> str:
        if isinstance(self.data, dict):
            return str(self.data.get("code", ""))
        return ""


class Shared:
    """What every worker's connection shares: the link model (under a lock), the stop flag
    and the jitter source."""

    def __init__(self, base_url: str, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.state = LinkState()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.listeners: list[Callable[[], None]] = []

    def changed(self) -> None:
        for listener in list(self.listeners):
            listener()

    def sleep(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise Stopped


class Link:
    """One worker's connection. Not shared between threads."""

    def __init__(self, shared: Shared, transport: httpx.BaseTransport | None = None) -> None:
        self.shared = shared
        self.client = httpx.Client(base_url=shared.base_url, follow_redirects=False,
                                   transport=transport,
                                   limits=httpx.Limits(max_connections=1,
                                                       max_keepalive_connections=1,
                                                       keepalive_expiry=300))
        for name in ("user-agent", "accept", "connection"):
            self.client.headers.pop(name, None)
        self.client.headers["accept-encoding"] = "gzip"

    def close(self) -> None:
        self.client.close()

    def once(self, method: str, path: str, *, body: Any = None,
             params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
             wait_s: float = 0.0, max_timeout_s: float | None = None,
             min_timeout_s: float | None = None) -> Reply:
        """One attempt. Raises httpx.TransportError when no answer came."""
        shared = self.shared
        with shared.lock:
            connect_s, read_s = shared.state.rtt.timeouts(wait_s)
        if max_timeout_s is not None:
            connect_s, read_s = min(connect_s, max_timeout_s), min(read_s, max_timeout_s)
        if min_timeout_s is not None:
            read_s = max(read_s, min_timeout_s)
        content = None
        hdrs = dict(headers or {})
        if body is not None:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            hdrs["content-type"] = "application/json"
        timeout = httpx.Timeout(connect=connect_s, read=read_s, write=read_s, pool=connect_s)
        started = time.monotonic()
        try:
            response = self.client.request(method, path, content=content, params=params,
                                           headers=hdrs, timeout=timeout)
            raw = response.read()
        except httpx.TransportError:
            with shared.lock:
                changed = shared.state.failed(shared.clock())
            if changed:
                shared.changed()
            raise
        elapsed = time.monotonic() - started
        # A long-poll's time includes the server's wait: no round-trip sample from it.
        sample = elapsed if wait_s == 0 else None
        sent = len(content or b"") + len(path) + 64
        received = int(response.headers.get("content-length", len(raw)))
        with shared.lock:
            changed = shared.state.succeeded(shared.clock(), sample, sent, received)
        if changed:
            shared.changed()
        data: Any = None
        if raw and "json" in response.headers.get("content-type", ""):
            try:
                data = json.loads(raw)
            except ValueError:
                data = None
        return Reply(response.status_code, data, response.headers, raw)

    def request(self, method: str, path: str, *, body: Any = None,
                params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                wait_s: float = 0.0, deadline_s: float | None = 120.0,
                on_retry: Callable[[int], None] | None = None) -> Reply:
        """Retry until an answer that is not a transient refusal, or until `deadline_s`
        (None: until stopped). Safe only for idempotent requests: GETs, and POSTs that carry
        an Idempotency-Key or are idempotent by nature."""
        shared = self.shared
        give_up = None if deadline_s is None else time.monotonic() + deadline_s
        attempt = 0
        while True:
            if shared.stop.is_set():
                raise Stopped
            try:
                reply = self.once(method, path, body=body, params=params, headers=headers,
                                  wait_s=wait_s)
                if reply.status not in RETRY_STATUS:
                    return reply
                delay = _retry_after(reply) or backoff_delay(attempt, shared.rng)
            except httpx.TransportError:
                delay = backoff_delay(attempt, shared.rng)
            attempt += 1
            if give_up is not None and time.monotonic() + delay > give_up:
                raise LinkDown(f"{method} {path}: no answer after {attempt} attempts")
            if on_retry:
                on_retry(attempt)
            shared.sleep(delay)


def _retry_after(reply: Reply) -> float | None:
    raw = reply.headers.get("retry-after", "")
    return float(raw) if raw.isdigit() else None
