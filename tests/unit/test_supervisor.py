"""The runtime's supervisor: a background loop that fails is logged without its message,
counted and restarted with a capped exponential backoff; shutdown cancels cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import pytest
from structlog.testing import capture_logs

from wis_server.bootstrap import Supervisor
from wis_server.domain.levels import Classification
from wis_server.domain.model import Principal


class Sleeps:
    """An injected sleep: records each backoff delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


async def test_a_crashing_loop_is_logged_counted_and_restarted_with_capped_backoff() -> None:
    sleeps = Sleeps()
    attempts = 0
    healthy = asyncio.Event()

    async def flaky() -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 6:
            raise ValueError("Stabsläge: hemlig lägesbild för Norrtälje")  # content
        healthy.set()
        await asyncio.Event().wait()  # the healthy loop runs until cancelled

    with capture_logs() as logs:
        async with asyncio.timeout(30):
            async with asyncio.TaskGroup() as group:
                supervisor = Supervisor(group, first_delay_s=0.5, max_delay_s=4.0,
                                        sleep=sleeps, monotonic=lambda: 0.0)
                supervisor.supervise("flaky", flaky)
                await healthy.wait()
                status = supervisor.status()["flaky"]
                assert status.running and status.restarts == 6
                assert status.last_error == "ValueError"
                supervisor.stop()
    assert sleeps.delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]  # doubling, capped at max
    crashes = [e for e in logs if e["event"] == "background loop stopped; restarting"]
    assert [e["restarts"] for e in crashes] == [1, 2, 3, 4, 5, 6]
    assert {e["loop"] for e in crashes} == {"flaky"}
    assert {e["error"] for e in crashes} == {"ValueError"}
    assert all(e["log_level"] == "error" for e in crashes)
    assert "Norrtälje" not in repr(logs)  # the message (content) is never logged
    assert not supervisor.status()["flaky"].running


async def test_a_loop_that_returns_is_restarted_too() -> None:
    sleeps = Sleeps()
    runs = 0
    third = asyncio.Event()

    async def returns_early() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            third.set()
            await asyncio.Event().wait()

    async with asyncio.timeout(30), asyncio.TaskGroup() as group:
        supervisor = Supervisor(group, sleep=sleeps, monotonic=lambda: 0.0)
        supervisor.supervise("short", returns_early)
        await third.wait()
        assert supervisor.status()["short"].restarts == 2
        assert supervisor.status()["short"].last_error == "returned"
        supervisor.stop()


async def test_a_long_healthy_run_resets_the_backoff() -> None:
    sleeps = Sleeps()
    clock = [0.0]
    runs = 0
    done = asyncio.Event()

    async def sometimes_long() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            clock[0] += 100.0  # this run lasted longer than max_delay_s
        if runs == 5:
            done.set()
            await asyncio.Event().wait()
        raise RuntimeError("x")

    async with asyncio.timeout(30), asyncio.TaskGroup() as group:
        supervisor = Supervisor(group, first_delay_s=1.0, max_delay_s=10.0, sleep=sleeps,
                                monotonic=lambda: clock[0])
        supervisor.supervise("loop", sometimes_long)
        await done.wait()
        supervisor.stop()
    assert sleeps.delays == [1.0, 2.0, 1.0, 2.0]


async def test_stop_cancels_every_loop_and_their_cleanup_runs() -> None:
    started = {"a": asyncio.Event(), "b": asyncio.Event()}
    cleaned: list[str] = []

    def forever(name: str) -> Callable[[], Awaitable[None]]:
        async def loop() -> None:
            started[name].set()
            try:
                await asyncio.Event().wait()
            finally:
                cleaned.append(name)
        return loop

    async with asyncio.timeout(30):
        async with asyncio.TaskGroup() as group:
            supervisor = Supervisor(group)
            supervisor.supervise("a", forever("a"))
            supervisor.supervise("b", forever("b"))
            await started["a"].wait()
            await started["b"].wait()
            supervisor.stop()
        assert sorted(cleaned) == ["a", "b"]
        assert all(s.restarts == 0 for s in supervisor.status().values())  # not crashes
        with pytest.raises(RuntimeError):  # no loop is accepted after shutdown
            supervisor.supervise("late", forever("a"))


async def test_names_are_unique() -> None:
    async with asyncio.timeout(30), asyncio.TaskGroup() as group:
        supervisor = Supervisor(group)

        async def idle() -> None:
            await asyncio.Event().wait()

        supervisor.supervise("same", idle)
        with pytest.raises(ValueError):
            supervisor.supervise("same", idle)
        supervisor.stop()


async def test_a_crashing_hub_loop_is_restarted_and_counted() -> None:
    """The hub's periodic loops do not swallow failures: the Supervisor sees, counts and
    restarts them (a loop that failed silently every round would look healthy)."""
    from tests.unit.test_realtime_hub import Log, person
    from wis_server.realtime.hub import Hub

    class Broken(Log):
        calls = 0

        async def principals(self, user_ids: Sequence[str]) -> dict[str, Principal]:
            Broken.calls += 1
            raise ConnectionError("database unavailable")

    class Sink:
        async def send(self, frame: object) -> None:
            return None

        async def close(self, code: int, reason: str) -> None:
            return None

    third_backoff = asyncio.Event()

    class Backoffs(Sleeps):
        async def __call__(self, seconds: float) -> None:
            await super().__call__(seconds)
            if len(self.delays) == 3:
                third_backoff.set()

    sleeps = Backoffs()
    hub = Hub(Broken(), lambda *_: None, poll_s=0.0, revalidate_s=0.0)
    hub.connect(Sink(), person("u1", "A", Classification.PUBLIC), None)  # someone to re-check
    async with asyncio.timeout(30), asyncio.TaskGroup() as group:
        supervisor = Supervisor(group, sleep=sleeps, monotonic=lambda: 0.0)
        loops = hub.background_loops()
        supervisor.supervise("realtime.revalidate", loops["realtime.revalidate"])
        await third_backoff.wait()
        status = supervisor.status()["realtime.revalidate"]
        assert status.restarts >= 3
        assert status.last_error == "ConnectionError"
        assert Broken.calls >= 3
        supervisor.stop()
    assert sleeps.delays[:3] == [0.5, 1.0, 2.0]  # backed off, not retried in a hot loop
