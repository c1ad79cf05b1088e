"""Sans-I/O link model: round-trip estimate (RFC 6298: SRTT, RTTVAR, RTO) for adaptive
time-outs, retry delays with exponential backoff and full jitter, and the link's state as the
user sees it (online/offline since when, quality, last successful contact). Pure: the caller
passes the clock's readings in, so every rule is tested without a network."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

INITIAL_RTO_S = 3.0  # RFC 6298 says 1 s; a satellite or 9.6 kbit/s line needs more at first
MIN_RTO_S = 1.0
MAX_RTO_S = 60.0
ALPHA = 1 / 8
BETA = 1 / 4


@dataclass(slots=True)
class RttEstimator:
    """Smoothed round trip and its variation; `rto` is the time-out for a small request."""

    srtt: float | None = None
    rttvar: float = 0.0

    def sample(self, rtt_s: float) -> None:
        if rtt_s < 0:
            return
        if self.srtt is None:
            self.srtt, self.rttvar = rtt_s, rtt_s / 2
            return
        self.rttvar = (1 - BETA) * self.rttvar + BETA * abs(self.srtt - rtt_s)
        self.srtt = (1 - ALPHA) * self.srtt + ALPHA * rtt_s

    @property
    def rto(self) -> float:
        if self.srtt is None:
            return INITIAL_RTO_S
        return min(MAX_RTO_S, max(MIN_RTO_S, self.srtt + 4 * self.rttvar))

    def timeouts(self, server_wait_s: float = 0.0) -> tuple[float, float]:
        """(connect, read) time-outs. httpx's read time-out is inactivity between bytes, so a
        long but trickling answer on a slow line never trips it; a long-poll adds its wait."""
        rto = self.rto
        if self.srtt is None:  # nothing measured yet: be generous, the line may be awful
            return rto, 3 * rto + server_wait_s
        # Three round trips: on a lossy line one lost segment costs a retransmission time-out,
        # and giving up on an answer that was merely late wastes the whole request.
        return rto, max(rto, 3 * self.srtt) + server_wait_s


def backoff_delay(attempt: int, rng: random.Random, base_s: float = 1.0,
                  cap_s: float = 30.0) -> float:
    """Full jitter ("Exponential Backoff And Jitter", AWS architecture blog): uniform in
    [base/2, min(cap, base·2^attempt)] so clients that lost the link together do not return
    in lockstep, and never zero so a dead link is not hammered."""
    ceiling = min(cap_s, base_s * (2 ** max(0, attempt)))
    return rng.uniform(min(base_s / 2, ceiling), ceiling)


OFFLINE_AFTER_FAILURES = 2
WINDOW = 20


@dataclass(slots=True)
class LinkState:
    """What the state line shows. `now` is wall-clock seconds (time.time()) so that "offline
    since 03:12" is a local time of day; round trips come from a monotonic clock elsewhere."""

    rtt: RttEstimator = field(default_factory=RttEstimator)
    online: bool = False
    offline_since: float | None = None
    last_contact: float | None = None
    consecutive_failures: int = 0
    recent: deque[bool] = field(default_factory=lambda: deque(maxlen=WINDOW))
    bytes_sent: int = 0
    bytes_received: int = 0

    def succeeded(self, now: float, rtt_s: float | None, sent: int = 0,
                  received: int = 0) -> bool:
        """A request got an answer (any HTTP status). Returns whether the state changed."""
        if rtt_s is not None:
            self.rtt.sample(rtt_s)
        self.recent.append(True)
        self.bytes_sent += sent
        self.bytes_received += received
        self.last_contact = now
        self.consecutive_failures = 0
        changed = not self.online
        self.online, self.offline_since = True, None
        return changed

    def failed(self, now: float) -> bool:
        """A request got no answer (time-out, refused, reset). Returns whether the state
        changed. One lost request on a lossy line is not yet "offline"."""
        self.recent.append(False)
        self.consecutive_failures += 1
        if self.offline_since is None and (not self.online or
                                           self.consecutive_failures >= OFFLINE_AFTER_FAILURES):
            # "Offline since" the last answer we had (or now, if there never was one).
            self.offline_since = self.last_contact or now
            self.online = False
            return True
        return False

    @property
    def loss_ratio(self) -> float:
        if not self.recent:
            return 0.0
        return sum(1 for ok in self.recent if not ok) / len(self.recent)

    @property
    def quality(self) -> str:
        """none | poor | fair | good (texts.py names them in Swedish and English)."""
        if not self.online:
            return "none"
        srtt = self.rtt.srtt or 0.0
        loss = self.loss_ratio
        if srtt < 0.5 and loss < 0.05:
            return "good"
        if srtt < 3.0 and loss < 0.25:
            return "fair"
        return "poor"
