"""A space followed by this process: the state its pump, its replays and its re-authorisation
share."""

from __future__ import annotations

import asyncio

from ..domain.model import Space
from .connection import Connection, Subscription


class Feed:
    """One space followed by this process: its cursor (last seq dispatched to live
    subscribers), the space as last loaded, and a pump task that reads the event table.

    `paused` counts re-decisions of the space in flight (deliveries wait for `resumed`);
    `generation` grows with every subscription, so the pump knows who joined mid-batch."""

    __slots__ = ("cursor", "generation", "paused", "resumed", "space", "subscribers",
                 "target", "task", "wake")

    def __init__(self, space: Space, cursor: int) -> None:
        self.space = space
        self.cursor = cursor
        self.target = cursor
        self.subscribers: dict[Connection, Subscription] = {}
        self.generation = 0
        self.paused = 0
        self.resumed = asyncio.Event()
        self.resumed.set()
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def space_id(self) -> str:
        return self.space.id

    def advance(self, seq: int) -> None:
        """The space has events up to `seq`: wake the pump if that is past its target."""
        if seq > self.target:
            self.target = seq
            self.wake.set()
