"""The short-lived tasks the hub starts for a connection or a feed (replays, reloads, notices),
kept so that shutting down cancels them. Forever-loops are not started here: the runtime
supervises them (`Hub.background_loops`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterable
from typing import Any


class TaskSet:
    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def __len__(self) -> int:
        return len(self._tasks)

    async def cancel(self, also: Iterable[asyncio.Future[Any]] = ()) -> None:
        """Cancel every task (and `also`), and wait for them to end."""
        tasks = [*self._tasks, *also]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
