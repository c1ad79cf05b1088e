"""A space followed by this process, and the small values the hub passes around."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from ..classification.policy import Action, decide
from ..domain.model import ItemLabel, Principal, Space
from .connection import Connection, Subscription
from .ports import Change, Frame, Wanted


class Feed:
    """One space followed by this process: its cursor (last seq dispatched to live
    subscribers), the space as last loaded, and a pump task that reads the event table."""

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


@dataclass(frozen=True, slots=True)
class Backlog:
    """What a long-poll / first SSE read returns: visible frames, the last seq examined
    (resume from it: later reads skip what is invisible), and the space's head."""

    frames: list[Frame]
    last_seq: int
    head: int


@dataclass(frozen=True, slots=True)
class View:
    """One change as one principal sees it: the frame to send (None: nothing visible)."""

    frame: Frame | None
    shown: tuple[bool, ...]
    classified: bool


def may_read(principal: Principal, space: Space) -> Wanted:
    def wanted(label: ItemLabel) -> bool:
        return decide(principal, Action.READ, space, label).allowed

    return wanted


ENTRY_WITHDRAWN = "entry.withdrawn"
"""Event kind of the id-only frame sent when an entry stops being readable for a reader."""


def withdrawable(change: Change) -> bool:
    """A change to an existing entry (read right or level changed, …), after which a reader
    who may not read it must drop it from the screen."""
    return change.kind.startswith("entry.") and change.kind != "entry.created"


def withdrawn_frame(change: Change) -> Frame:
    text = json.dumps({"type": "event", "space_id": change.space_id, "seq": change.seq,
                       "event": ENTRY_WITHDRAWN, "data": {"id": change.ref_id}},
                      separators=(",", ":"))
    return Frame(text, len(text.encode()), "event", change.space_id, change.seq,
                 ENTRY_WITHDRAWN)
