"""A circuit breaker per channel (DESIGN §7): after `failures` channel-level failures within
`window`, the channel is marked down and the dispatcher fails its deliveries over to each
recipient's next channel at once, instead of holding a slot on a dead channel; after
`cool_down` one probe is let through, and its success brings the channel back.

    closed ──(N failures in the window)──▶ open ──(cool-down passed)──▶ half-open
      ▲                                     ▲                               │ one probe
      └──────────── probe succeeded ────────┴──────── probe failed ◀────────┘

Pure: the clock is injected (the dispatcher's, so a simulated clock drives the probes too);
no I/O, no asyncio. Only failures of the channel itself count (timeouts, unreachable
provider, terminal down), never a bad address or a refused level.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum


class BreakerState(str, Enum):
    CLOSED = "closed"  # traffic flows
    OPEN = "open"  # down: deliveries fail over at once
    HALF_OPEN = "half_open"  # one probe is under way


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failures: int = 5
    window: timedelta = timedelta(seconds=60)
    cool_down: timedelta = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class BreakerView:
    """What /readyz and the admins see (never content)."""

    state: BreakerState
    recent_failures: int
    opened_at: datetime | None
    trips: int  # how often it opened since start
    fast_failed: int  # deliveries failed over without trying, while open

    def as_dict(self) -> dict[str, object]:
        return {"state": self.state.value, "recent_failures": self.recent_failures,
                "opened_at": self.opened_at.isoformat() if self.opened_at else None,
                "trips": self.trips, "fast_failed": self.fast_failed}


class CircuitBreaker:
    def __init__(self, clock: Callable[[], datetime], policy: BreakerPolicy | None = None
                 ) -> None:
        self.clock = clock
        self.policy = policy or BreakerPolicy()
        self._failures: deque[datetime] = deque()
        self._state = BreakerState.CLOSED
        self._opened_at: datetime | None = None
        self._probe_at: datetime | None = None
        self._trips = 0
        self._fast_failed = 0

    @property
    def state(self) -> BreakerState:
        return self._state

    def allow(self) -> bool:
        """May a send be tried now? While open, False (counted); once the cool-down has
        passed, True for exactly one probe (and again if a probe never reported back within
        another cool-down)."""
        now = self.clock()
        if self._state is BreakerState.CLOSED:
            return True
        since = self._probe_at or self._opened_at
        assert since is not None
        if now - since >= self.policy.cool_down:
            self._state = BreakerState.HALF_OPEN
            self._probe_at = now
            return True
        self._fast_failed += 1
        return False

    def success(self) -> None:
        """The channel took a message: a probe's success closes the breaker."""
        if self._state is not BreakerState.CLOSED:
            self._state = BreakerState.CLOSED
            self._opened_at = self._probe_at = None
        self._failures.clear()

    def failure(self) -> None:
        """The channel itself failed (not the recipient's address)."""
        now = self.clock()
        if self._state is BreakerState.HALF_OPEN:
            self._open(now)
            return
        if self._state is BreakerState.OPEN:
            return
        self._failures.append(now)
        self._prune(now)
        if len(self._failures) >= self.policy.failures:
            self._open(now)

    def view(self) -> BreakerView:
        self._prune(self.clock())
        return BreakerView(self._state, len(self._failures), self._opened_at, self._trips,
                           self._fast_failed)

    def _open(self, now: datetime) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = now
        self._probe_at = None
        self._failures.clear()
        self._trips += 1

    def _prune(self, now: datetime) -> None:
        while self._failures and now - self._failures[0] > self.policy.window:
            self._failures.popleft()
