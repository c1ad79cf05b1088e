"""wis-term's sans-I/O link model: RFC 6298 round-trip estimate, time-outs, backoff with
jitter, the state the user sees."""

from __future__ import annotations

import random

from wis_term.linkstate import (
    INITIAL_RTO_S,
    MAX_RTO_S,
    MIN_RTO_S,
    LinkState,
    RttEstimator,
    backoff_delay,
)


def test_rto_follows_measured_round_trips():
    est = RttEstimator()
    assert est.rto == INITIAL_RTO_S
    for _ in range(30):
        est.sample(2.0)
    assert 1.9 < est.srtt < 2.1
    assert 2.0 <= est.rto < 2.5  # variation has decayed
    est.sample(8.0)  # one slow answer widens the time-out at once
    assert est.rto > 4.0


def test_rto_is_clamped_and_long_polls_add_their_wait():
    fast = RttEstimator()
    for _ in range(20):
        fast.sample(0.01)
    assert fast.rto == MIN_RTO_S
    slow = RttEstimator()
    slow.sample(500.0)
    assert slow.rto == MAX_RTO_S
    connect, read = fast.timeouts(server_wait_s=25)
    assert connect == MIN_RTO_S and read == MIN_RTO_S + 25


def test_backoff_grows_has_jitter_and_never_reaches_zero():
    rng = random.Random(3)
    first = [backoff_delay(0, rng) for _ in range(200)]
    late = [backoff_delay(6, rng) for _ in range(200)]
    assert min(first) >= 0.5 and max(first) <= 1.0
    assert max(late) <= 30.0 and min(late) >= 0.5
    assert sum(late) / len(late) > 3 * sum(first) / len(first)
    assert len({round(d, 6) for d in late}) > 150  # spread, not lockstep


def test_one_lost_request_is_not_offline_two_are_and_since_is_the_last_answer():
    link = LinkState()
    assert link.quality == "none" and not link.online
    assert link.succeeded(now=1000.0, rtt_s=2.0)
    assert not link.failed(now=1010.0)  # one loss on a lossy line
    assert link.online
    assert link.failed(now=1020.0)
    assert not link.online and link.offline_since == 1000.0
    assert not link.failed(now=1030.0)  # still offline, no new change
    assert link.succeeded(now=1040.0, rtt_s=2.0)
    assert link.online and link.offline_since is None and link.last_contact == 1040.0


def test_quality_reflects_round_trip_and_loss():
    link = LinkState()
    for _ in range(10):
        link.succeeded(0.0, 0.05)
    assert link.quality == "good"
    for _ in range(10):
        link.succeeded(0.0, 2.0)
    assert link.quality in ("fair", "poor")
    for _ in range(6):
        link.succeeded(0.0, 2.5)
        link.recent.append(False)  # a failure that did not change state
    assert link.quality == "poor"
