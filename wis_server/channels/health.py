"""Channel health, for /readyz and the admins' channel view: what each channel did lately
(sent, failed, error rate, last success and failure), its circuit breaker, and what an
adapter reports of itself (the Rakel terminal's connection and queue; the phone provider's
last webhook). Never content, never addresses.

    dispatcher ──record(kind, ok, code)──▶ HealthRegistry ◀──note(kind, "webhook")── adapters
                 breaker(kind).allow()          │          ◀──add_source(kind, detail)──
                                                ▼
                                  snapshot() ─▶ /readyz details, GET /api/v1/admin/channels

Adapters that are not driven by the dispatcher (webhooks, inbound loops) call `note`; one
whose own state matters (the Rakel gateway) registers a `detail` callable at start-up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .breaker import BreakerPolicy, CircuitBreaker

RECENT = 100  # the error rate is over this many latest attempts


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


@dataclass(slots=True)
class ChannelStats:
    sent: int = 0
    failed: int = 0  # the channel itself failed (counted by the breaker)
    rejected: int = 0  # the recipient's address or the message was refused (permanent)
    failed_over: int = 0  # handed on to the next channel without trying (breaker open)
    last_ok_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None  # a stable code, never a message
    recent: deque[bool] = field(default_factory=lambda: deque(maxlen=RECENT))
    notes: dict[str, tuple[int, datetime]] = field(default_factory=dict)

    def error_rate(self) -> float | None:
        if not self.recent:
            return None
        return round(sum(1 for ok in self.recent if not ok) / len(self.recent), 3)


class HealthRegistry:
    """One per runtime (the composition root builds it and gives it to the dispatcher)."""

    def __init__(self, clock: Callable[[], datetime], policy: BreakerPolicy | None = None
                 ) -> None:
        self.clock = clock
        self.policy = policy or BreakerPolicy()
        self._stats: dict[str, ChannelStats] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        self._sources: dict[str, Callable[[], Mapping[str, object]]] = {}

    def _of(self, channel: str) -> ChannelStats:
        return self._stats.setdefault(channel, ChannelStats())

    def breaker(self, channel: str) -> CircuitBreaker:
        found = self._breakers.get(channel)
        if found is None:
            found = self._breakers[channel] = CircuitBreaker(self.clock, self.policy)
        return found

    def record(self, channel: str, *, ok: bool, code: str | None = None,
               channel_fault: bool = True) -> None:
        """One send's outcome. `channel_fault`: the failure was the channel's (it counts
        towards the breaker and the error rate), not the recipient's."""
        stats, now = self._of(channel), self.clock()
        if ok:
            stats.sent += 1
            stats.last_ok_at = now
            stats.recent.append(True)
            self.breaker(channel).success()
            return
        stats.last_error_at, stats.last_error = now, code
        if channel_fault:
            stats.failed += 1
            stats.recent.append(False)
            self.breaker(channel).failure()
        else:
            stats.rejected += 1

    def failed_over(self, channel: str) -> None:
        self._of(channel).failed_over += 1

    def note(self, channel: str, what: str) -> None:
        """Something a channel received or did outside the dispatcher, e.g. the phone
        provider's webhook (`note("phone", "webhook")`): counted, with its last time."""
        stats = self._of(channel)
        count, _ = stats.notes.get(what, (0, self.clock()))
        stats.notes[what] = (count + 1, self.clock())

    def add_source(self, channel: str, detail: Callable[[], Mapping[str, object]]) -> None:
        """An adapter's own state (e.g. the Rakel gateway's `health().as_dict`)."""
        self._sources[channel] = detail

    def snapshot(self, channels: frozenset[str] | None = None) -> dict[str, dict[str, object]]:
        """Per channel (the enabled ones, and any that reported): JSON-ready."""
        names = set(self._stats) | set(self._sources) | set(channels or ())
        result: dict[str, dict[str, object]] = {}
        for name in sorted(names):
            stats = self._of(name)
            doc: dict[str, object] = {
                "enabled": channels is None or name in channels,
                "sent": stats.sent, "failed": stats.failed, "rejected": stats.rejected,
                "failed_over": stats.failed_over, "error_rate": stats.error_rate(),
                "last_ok_at": _iso(stats.last_ok_at),
                "last_error_at": _iso(stats.last_error_at), "last_error": stats.last_error,
                "breaker": self.breaker(name).view().as_dict(),
            }
            for what, (count, at) in sorted(stats.notes.items()):
                doc[f"{what}_count"] = count
                doc[f"last_{what}_at"] = _iso(at)
            source = self._sources.get(name)
            if source is not None:
                try:
                    doc["adapter"] = dict(source())
                except Exception:  # a broken reporter must not break /readyz
                    doc["adapter"] = {"error": "unavailable"}
            result[name] = doc
        return result
