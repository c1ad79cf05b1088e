"""The circuit breaker per channel and the health registry: pure, on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wis_server.channels.breaker import BreakerPolicy, BreakerState, CircuitBreaker
from wis_server.channels.health import HealthRegistry

T0 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


POLICY = BreakerPolicy(failures=3, window=timedelta(seconds=60),
                       cool_down=timedelta(seconds=30))


def test_opens_after_n_failures_within_the_window_and_refuses_until_the_cool_down() -> None:
    clock = Clock()
    b = CircuitBreaker(clock, POLICY)
    for _ in range(2):
        b.failure()
        assert b.state is BreakerState.CLOSED and b.allow()
    b.failure()
    assert b.state is BreakerState.OPEN
    assert not b.allow()
    clock.advance(29)
    assert not b.allow()
    assert b.view().fast_failed == 2 and b.view().trips == 1


def test_failures_spread_wider_than_the_window_do_not_open_it() -> None:
    clock = Clock()
    b = CircuitBreaker(clock, POLICY)
    for _ in range(5):
        b.failure()
        b.failure()
        clock.advance(61)  # the two before fall out of the window
    assert b.state is BreakerState.CLOSED
    assert b.view().recent_failures == 0


def test_a_success_clears_the_count() -> None:
    b = CircuitBreaker(Clock(), POLICY)
    b.failure()
    b.failure()
    b.success()
    b.failure()
    b.failure()
    assert b.state is BreakerState.CLOSED


def test_one_probe_after_the_cool_down_its_success_closes_its_failure_reopens() -> None:
    clock = Clock()
    b = CircuitBreaker(clock, POLICY)
    for _ in range(3):
        b.failure()
    clock.advance(30)
    assert b.allow()  # the probe
    assert b.state is BreakerState.HALF_OPEN
    assert not b.allow()  # only one probe at a time
    b.failure()  # the probe failed: down again, for another cool-down
    assert b.state is BreakerState.OPEN and b.view().trips == 2
    assert not b.allow()
    clock.advance(30)
    assert b.allow()
    b.success()
    assert b.state is BreakerState.CLOSED and b.allow() and b.view().opened_at is None


def test_a_probe_that_never_reports_back_is_replaced_after_another_cool_down() -> None:
    clock = Clock()
    b = CircuitBreaker(clock, POLICY)
    for _ in range(3):
        b.failure()
    clock.advance(30)
    assert b.allow()
    clock.advance(29)
    assert not b.allow()
    clock.advance(1)
    assert b.allow()


def test_registry_counts_rates_breakers_notes_and_adapter_detail() -> None:
    clock = Clock()
    health = HealthRegistry(clock, POLICY)
    health.record("sms", ok=True)
    health.record("sms", ok=False, code="invalid_address", channel_fault=False)
    for _ in range(3):
        health.record("email", ok=False, code="channel_unavailable")
    health.failed_over("email")
    clock.advance(5)
    health.note("phone", "webhook")
    health.note("phone", "webhook")
    health.add_source("rakel", lambda: {"connected": False, "queue_length": 0})
    snap = health.snapshot(frozenset({"sms", "email", "rakel", "push"}))
    assert snap["sms"]["sent"] == 1 and snap["sms"]["rejected"] == 1
    assert snap["sms"]["error_rate"] == 0.0  # a refused address is not the channel's fault
    assert snap["sms"]["breaker"]["state"] == "closed"
    email = snap["email"]
    assert email["failed"] == 3 and email["error_rate"] == 1.0
    assert email["breaker"]["state"] == "open" and email["failed_over"] == 1
    assert email["last_error"] == "channel_unavailable"
    assert snap["phone"]["webhook_count"] == 2 and snap["phone"]["enabled"] is False
    assert snap["phone"]["last_webhook_at"] == clock.now.isoformat()
    assert snap["rakel"]["adapter"] == {"connected": False, "queue_length": 0}
    assert snap["push"]["error_rate"] is None and snap["push"]["sent"] == 0


def test_a_broken_adapter_reporter_does_not_break_the_snapshot() -> None:
    health = HealthRegistry(Clock())

    def broken() -> dict[str, object]:
        raise RuntimeError("boom")

    health.add_source("rakel", broken)
    assert health.snapshot()["rakel"]["adapter"] == {"error": "unavailable"}
