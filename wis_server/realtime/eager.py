"""Run a coroutine eagerly: synchronously until it finishes or has to wait, so fan-out to N idle
sockets costs no task switch; only a send that must wait (back-pressure) gets a task. This is
the one place that drives a coroutine by hand (`send` / `throw`)."""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine, Generator
from typing import Any


def start_eagerly(coro: Coroutine[Any, Any, None]) -> Awaitable[None] | None:
    """Step `coro` now. None: it has finished (its exceptions propagate from here). Otherwise
    it is waiting, and the awaitable returned finishes it: await it from a task (exceptions
    and a cancellation of that task pass through to the coroutine)."""
    try:
        waiting = coro.send(None)
    except StopIteration:
        return None
    return _Rest(coro, waiting)


class _Rest:
    """The rest of a started coroutine: hands what it waits on to the awaiting task."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, None], waiting: Any) -> None:
        self.coro = coro
        self.waiting = waiting

    def __await__(self) -> Generator[Any, Any, None]:
        coro, waiting = self.coro, self.waiting
        while True:
            try:
                sent = yield waiting
            except BaseException as error:  # e.g. cancellation, passed on to the coroutine
                try:
                    waiting = coro.throw(error)
                except StopIteration:
                    return
                continue
            try:
                waiting = coro.send(sent)
            except StopIteration:
                return
