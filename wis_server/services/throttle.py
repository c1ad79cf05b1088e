"""Failed-login throttling: sliding windows per (username, client address), per username and
per client address.

The pair window is tight (5 failures in 15 minutes), so guessing from one place stops fast
while someone failing from elsewhere cannot lock the duty officer out of their own desk. The
per-username window is wide (30) to slow guessing spread over many addresses; the per-client
window (100) stops one address spraying many names without punishing a whole office behind
one NAT for one user's typos. In memory, per process: several processes each throttle on their
own, which still bounds guessing to (processes × limit) per window. A successful sign-in
clears that username's windows.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .ports import Clock


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    limit: int
    window_s: float


DEFAULT_RULES = {
    "pair": ThrottleRule(5, 900),
    "user": ThrottleRule(30, 900),
    "client": ThrottleRule(100, 900),
}


class LoginThrottle:
    def __init__(self, clock: Clock, rules: dict[str, ThrottleRule] | None = None,
                 max_keys: int = 100_000) -> None:
        self.clock = clock
        self.rules = dict(DEFAULT_RULES if rules is None else rules)
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._max_keys = max_keys

    def _keys(self, username: str, client: str) -> list[tuple[str, str]]:
        name = username.lower()
        return [("pair", f"{name}\x00{client}"), ("user", name), ("client", client)]

    def retry_after(self, username: str, client: str) -> int:
        """Seconds until another attempt is allowed (0 = now)."""
        now = self.clock().timestamp()
        wait = 0.0
        for kind, key in self._keys(username, client):
            rule = self.rules[kind]
            window = self._window(kind, key, now)
            if len(window) >= rule.limit:
                wait = max(wait, window[0] + rule.window_s - now)
        return int(wait + 0.999) if wait > 0 else 0

    def failed(self, username: str, client: str) -> None:
        now = self.clock().timestamp()
        if len(self._failures) > self._max_keys:
            self._failures.clear()  # bounded memory under a spray of distinct names
        for kind, key in self._keys(username, client):
            self._window(kind, key, now).append(now)

    def succeeded(self, username: str, client: str) -> None:
        for kind, key in self._keys(username, client)[:2]:
            self._failures.pop((kind, key), None)

    def _window(self, kind: str, key: str, now: float) -> deque[float]:
        window = self._failures.setdefault((kind, key), deque())
        horizon = now - self.rules[kind].window_s
        while window and window[0] <= horizon:
            window.popleft()
        return window
