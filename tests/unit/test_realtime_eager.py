"""The one place that drives a coroutine by hand (realtime/eager.py): a send that completes at
once runs without any task; one that must wait is finished by the awaitable returned, with its
result, its exceptions and a cancellation passed through to the coroutine."""

from __future__ import annotations

import asyncio

import pytest

from wis_server.realtime.eager import start_eagerly


async def test_a_coroutine_that_never_waits_finishes_synchronously() -> None:
    steps: list[str] = []

    async def send() -> None:
        steps.append("sent")

    before = len(asyncio.all_tasks())
    assert start_eagerly(send()) is None
    assert steps == ["sent"]
    assert len(asyncio.all_tasks()) == before  # no task was created


async def test_an_exception_before_the_first_wait_is_raised_at_once() -> None:
    async def send() -> None:
        raise ConnectionResetError("peer gone")

    with pytest.raises(ConnectionResetError):
        start_eagerly(send())


async def test_a_waiting_coroutine_is_finished_by_the_rest_with_what_it_waited_for() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def send() -> None:
        steps.append("started")
        steps.append(await gate)
        await asyncio.sleep(0)  # a bare yield on the way is passed through too
        steps.append("done")

    rest = start_eagerly(send())
    assert rest is not None and steps == ["started"]

    async def finish() -> None:
        await rest

    task = asyncio.get_running_loop().create_task(finish())
    await asyncio.sleep(0)
    assert not task.done()
    gate.set_result("resumed")
    await asyncio.wait_for(task, 10)
    assert steps == ["started", "resumed", "done"]


async def test_an_exception_after_the_wait_comes_out_of_the_rest() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def send() -> None:
        await gate
        raise BrokenPipeError

    rest = start_eagerly(send())
    assert rest is not None
    gate.set_result(None)
    with pytest.raises(BrokenPipeError):
        await asyncio.wait_for(_await(rest), 10)


async def test_cancelling_the_task_cancels_the_coroutine_inside() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    cleaned = asyncio.Event()

    async def send() -> None:
        try:
            await gate
        finally:
            cleaned.set()

    rest = start_eagerly(send())
    assert rest is not None
    task = asyncio.get_running_loop().create_task(_await(rest))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned.is_set() and gate.cancelled()


async def test_a_coroutine_that_swallows_the_cancellation_ends_normally() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def send() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            return

    rest = start_eagerly(send())
    assert rest is not None
    task = asyncio.get_running_loop().create_task(_await(rest))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait_for(task, 10)  # the coroutine's own choice: no CancelledError
    assert task.done() and not task.cancelled()


async def _await(rest: object) -> None:
    await rest  # type: ignore[misc]
