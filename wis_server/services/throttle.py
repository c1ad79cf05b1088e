"""Failed-login throttling: sliding windows per (username, client address) and per client
address refuse; a per-username window only slows.

    reserve(name, client) ── refused? ──▶ 429 Retry-After (nothing recorded, nothing hashed)
        │ counts at once (before any await), so a concurrent burst is counted in full
        ▼
    delay_for(name) ── asyncio.sleep (no DB connection, no hashing slot held) ──▶ verify
        ▼
    failed()  → the reservation stays a failure      succeeded() → reservations dropped

The pair window is tight (5 failures in 15 minutes), so guessing from one place stops fast.
The per-client window (100) stops one address spraying many names without punishing a
whole office behind one NAT for one user's typos. Guessing one username from many addresses
never refuses: past a free allowance each attempt at that username waits a growing,
bounded delay, so a correct password from an address that has not itself failed past its
limit always signs in. In memory, per process, bounded: past `max_keys` the least recently
touched windows are evicted one by one (never all at once), and refused attempts add nothing.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

from .ports import Clock


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    limit: int
    window_s: float


DEFAULT_RULES = {
    "pair": ThrottleRule(5, 900),
    "client": ThrottleRule(100, 900),
    # Not a limit: failures past this many in the window start the per-username delay.
    "user": ThrottleRule(10, 900),
}
DELAY_BASE_S = 0.5
"""The first delay once a username is past its free allowance; it doubles every 5 failures."""
DELAY_MAX_S = 10.0
"""The delay never exceeds this, so the real user always gets in, at worst this much later."""
ALERT_EVERY = 10
"""Every this many failures in the username's window, the attempt is flagged for the audit."""


@dataclass(frozen=True, slots=True)
class Reservation:
    """One attempt counted in advance; `retry_after` > 0 means it was refused."""

    username: str
    client: str
    at: float
    retry_after: int = 0
    user_failures: int = 0  # failures for the username in its window before this attempt


class LoginThrottle:
    def __init__(self, clock: Clock, rules: dict[str, ThrottleRule] | None = None,
                 max_keys: int = 100_000) -> None:
        self.clock = clock
        self.rules = dict(DEFAULT_RULES if rules is None else rules)
        self._windows: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._max_keys = max_keys
        self._next_slot: dict[str, float] = {}
        self.delay_base_s = DELAY_BASE_S
        self.delay_max_s = DELAY_MAX_S

    def _keys(self, username: str, client: str) -> list[tuple[str, str]]:
        name = username.lower()
        return [("pair", f"{name}\x00{client}"), ("client", client), ("user", name)]

    def reserve(self, username: str, client: str) -> Reservation:
        """Count the attempt now (synchronously: no await between check and count)."""
        now = self.clock().timestamp()
        wait = 0.0
        for kind, key in self._keys(username, client)[:2]:
            rule = self.rules[kind]
            window = self._window(kind, key, now, create=False)
            if window is not None and len(window) >= rule.limit:
                wait = max(wait, window[0] + rule.window_s - now)
        if wait > 0:
            return Reservation(username, client, now, retry_after=int(wait + 0.999) or 1)
        user_window = self._window("user", username.lower(), now, create=False)
        before = len(user_window) if user_window is not None else 0
        for kind, key in self._keys(username, client):
            window = self._window(kind, key, now, create=True)
            assert window is not None
            window.append(now)
        return Reservation(username, client, now, user_failures=before)

    def retry_after(self, username: str, client: str) -> int:
        """Seconds until the pair or the client may try again (0 = now); records nothing."""
        now = self.clock().timestamp()
        wait = 0.0
        for kind, key in self._keys(username, client)[:2]:
            window = self._window(kind, key, now, create=False)
            if window is not None and len(window) >= self.rules[kind].limit:
                wait = max(wait, window[0] + self.rules[kind].window_s - now)
        return int(wait + 0.999) if wait > 0 else 0

    def delay_for(self, reservation: Reservation) -> float:
        """How long this attempt waits before it is verified: 0 within the username's free
        allowance, then growing; attempts at one username are spaced by that delay (so a
        distributed guesser gets about one guess per delay), but never wait more than
        DELAY_MAX_S."""
        free = self.rules["user"].limit
        over = reservation.user_failures - free
        if over < 0:
            return 0.0
        step = min(self.delay_max_s, self.delay_base_s * 2.0 ** (over // 5))
        name = reservation.username.lower()
        slot = max(reservation.at, self._next_slot.get(name, 0.0))
        self._next_slot[name] = slot + step
        if len(self._next_slot) > self._max_keys:
            self._next_slot.pop(next(iter(self._next_slot)))
        return float(min(self.delay_max_s, max(step, slot - reservation.at)))

    def alert(self, reservation: Reservation) -> bool:
        """Whether this failure crosses a multiple of ALERT_EVERY past the free allowance:
        the moment distributed guessing is worth an audit record for the actor's admins."""
        over = reservation.user_failures + 1 - self.rules["user"].limit
        return over > 0 and over % ALERT_EVERY == 1 % ALERT_EVERY

    def failed(self, reservation: Reservation) -> None:
        """The reserved attempt failed: it already counts; nothing more to record."""

    def succeeded(self, reservation: Reservation) -> None:
        """A correct password: forget the pair's failures and this attempt's reservations."""
        name = reservation.username.lower()
        self._windows.pop(("pair", f"{name}\x00{reservation.client}"), None)
        self.release(reservation)

    def release(self, reservation: Reservation) -> None:
        """Take back a reservation that turned out not to be a guess."""
        for kind, key in self._keys(reservation.username, reservation.client):
            window = self._windows.get((kind, key))
            if window is not None:
                try:
                    window.remove(reservation.at)
                except ValueError:
                    pass

    def _window(self, kind: str, key: str, now: float, *, create: bool) -> deque[float] | None:
        full_key = (kind, key)
        window = self._windows.get(full_key)
        if window is None:
            if not create:
                return None
            window = self._windows[full_key] = deque()
            while len(self._windows) > self._max_keys:
                self._windows.popitem(last=False)  # the least recently touched, one at a time
        else:
            self._windows.move_to_end(full_key)
        horizon = now - self.rules[kind].window_s
        while window and window[0] <= horizon:
            window.popleft()
        return window
