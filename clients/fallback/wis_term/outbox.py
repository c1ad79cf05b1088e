"""The offline outbox: every post and acknowledgement the user makes is written here first
(one 0600 file per item in a 0700 directory, fsync'd and renamed into place) with its own
Idempotency-Key, and only then reported as queued; a sender drains it in order. A confirmed
item keeps its server id but loses its text, so classified content stays on disk only while it
must. SIGKILL at any moment leaves each item either absent (never reported) or whole."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import store

PENDING, CONFIRMED, REJECTED = "pending", "confirmed", "rejected"
KEEP_DONE = 50
_NAME = re.compile(r"^(\d{8})\.json$")


@dataclass(slots=True)
class Item:
    n: int
    op: str  # "entry" | "ack"
    key: str  # the Idempotency-Key, fixed when queued, the same on every resend
    target: str  # space id (entry) or call-out id (ack)
    payload: dict[str, Any]
    state: str = PENDING
    queued_at: float = 0.0
    done_at: float | None = None
    result: dict[str, Any] = field(default_factory=dict)
    label: str = ""  # short, content-free: "beslut sekretess → Snöstorm"

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "op": self.op, "key": self.key, "target": self.target,
                "payload": self.payload, "state": self.state, "queued_at": self.queued_at,
                "done_at": self.done_at, "result": self.result, "label": self.label}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Item:
        return cls(int(d["n"]), str(d["op"]), str(d["key"]), str(d["target"]),
                   dict(d.get("payload") or {}), str(d.get("state", PENDING)),
                   float(d.get("queued_at", 0.0)), d.get("done_at"),
                   dict(d.get("result") or {}), str(d.get("label", "")))


def request_for(item: Item) -> tuple[str, str, dict[str, Any]]:
    """(method, path, JSON body) of the item's request (pure)."""
    if item.op == "entry":
        return "POST", f"/api/v1/spaces/{item.target}/entries", item.payload
    if item.op == "ack":
        return "POST", f"/api/v1/callouts/{item.target}/acknowledgements", item.payload
    raise ValueError(f"unknown outbox operation {item.op!r}")


class Outbox:
    def __init__(self, directory: Path, clock: Any = time.time) -> None:
        self.dir = store.ensure_private_dir(directory)
        self.clock = clock

    def _path(self, n: int) -> Path:
        return self.dir / f"{n:08d}.json"

    def items(self) -> list[Item]:
        found = []
        for path in self.dir.iterdir():
            if _NAME.match(path.name):
                data = store.read_json(path)
                if isinstance(data, dict):
                    found.append(Item.from_json(data))
        return sorted(found, key=lambda i: i.n)

    def pending(self) -> list[Item]:
        return [i for i in self.items() if i.state == PENDING]

    def add(self, op: str, target: str, payload: dict[str, Any], label: str) -> Item:
        """Durable before it returns: the caller may then say "queued"."""
        numbers = [int(m.group(1)) for p in self.dir.iterdir() if (m := _NAME.match(p.name))]
        item = Item(max(numbers, default=0) + 1, op, f"wis-term-{uuid.uuid4()}", target,
                    payload, queued_at=self.clock(), label=label)
        store.write_json(self._path(item.n), item.to_json())
        return item

    def _finish(self, item: Item, state: str, result: dict[str, Any]) -> Item:
        item.state, item.done_at, item.result = state, self.clock(), result
        item.payload = {}  # the text is no longer needed here: the server has it (or refused)
        store.write_json(self._path(item.n), item.to_json())
        self._prune()
        return item

    def confirm(self, item: Item, result: dict[str, Any]) -> Item:
        return self._finish(item, CONFIRMED, result)

    def reject(self, item: Item, code: str, status: int) -> Item:
        return self._finish(item, REJECTED, {"code": code, "status": status})

    def _prune(self) -> None:
        done = [i for i in self.items() if i.state != PENDING]
        for old in done[:-KEEP_DONE]:
            store.remove(self._path(old.n))
