"""Failed-login throttling: a sliding window per username and per client address.

In memory, per process: several processes each throttle on their own, which still bounds
guessing to (processes × limit) per window. Successful logins clear the username's window.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .ports import Clock


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    limit: int
    window_s: float


class LoginThrottle:
    def __init__(self, clock: Clock, *, per_user: ThrottleRule = ThrottleRule(5, 900),
                 per_client: ThrottleRule = ThrottleRule(50, 900), max_keys: int = 100_000
                 ) -> None:
        self.clock = clock
        self.rules = {"user": per_user, "client": per_client}
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._max_keys = max_keys

    def retry_after(self, username: str, client: str) -> int:
        """Seconds until another attempt is allowed (0 = now)."""
        now = self.clock().timestamp()
        wait = 0.0
        for kind, key in (("user", username.lower()), ("client", client)):
            rule = self.rules[kind]
            window = self._window(kind, key, now)
            if len(window) >= rule.limit:
                wait = max(wait, window[0] + rule.window_s - now)
        return int(wait + 0.999) if wait > 0 else 0

    def failed(self, username: str, client: str) -> None:
        now = self.clock().timestamp()
        if len(self._failures) > self._max_keys:
            self._failures.clear()  # bounded memory under a spray of distinct names
        for kind, key in (("user", username.lower()), ("client", client)):
            self._window(kind, key, now).append(now)

    def succeeded(self, username: str) -> None:
        self._failures.pop(("user", username.lower()), None)

    def _window(self, kind: str, key: str, now: float) -> deque[float]:
        window = self._failures.setdefault((kind, key), deque())
        horizon = now - self.rules[kind].window_s
        while window and window[0] <= horizon:
            window.popleft()
        return window
