"""What the user has seen, exactly once and in order: a journal of (space, seq, entry id) —
ids and positions only, never content — appended and fsync'd before an item is printed, and
the resume cursor, written after. After a crash the cursor may be behind the journal; the
journal then drops the repeats, so nothing prints twice and nothing is skipped.

FeedCore is pure: frames in, the frames to show out."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import store

SHOWN_KINDS = ("entry.created", "notice.created", "entry.audience_changed")


@dataclass(slots=True)
class FeedCore:
    seen: set[str] = field(default_factory=set)  # entry ids already shown
    last_seq: dict[str, int] = field(default_factory=dict)  # per space

    def accept(self, frames: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The frames to act on, in order: new entries (an audience change that lets the
        reader in counts as new), withdrawals, reports and call-outs; repeats dropped."""
        out = []
        for f in frames:
            space, seq, kind = str(f.get("space_id")), f.get("seq"), str(f.get("event"))
            if isinstance(seq, int):
                if seq <= self.last_seq.get(space, 0):
                    continue  # a repeat from a cursor that was behind the journal
                self.last_seq[space] = seq
            data = f.get("data") or {}
            if kind in SHOWN_KINDS:
                item_id = str(data.get("id"))
                if item_id in self.seen:
                    continue
                self.seen.add(item_id)
            out.append(f)
        return out


class Journal:
    def __init__(self, directory: Path) -> None:
        self.path = store.ensure_private_dir(directory) / "seen.jsonl"
        self.core = FeedCore()
        self.entries: list[tuple[str, int, str]] = []
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line torn by a crash mid-append: never acted on
                space, seq, item = str(rec["s"]), int(rec["q"]), str(rec["i"])
                self.core.seen.add(item)
                self.core.last_seq[space] = max(seq, self.core.last_seq.get(space, 0))
                self.entries.append((space, seq, item))

    def take(self, frames: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Filter `frames` and journal the new entries (durably) before returning them."""
        fresh = self.core.accept(frames)
        for f in fresh:
            if f.get("event") in SHOWN_KINDS:
                space, seq, item = str(f["space_id"]), int(f["seq"]), str(f["data"]["id"])
                store.append_line(self.path, json.dumps({"s": space, "q": seq, "i": item},
                                                        separators=(",", ":")))
                self.entries.append((space, seq, item))
        return fresh

    def forget_space(self, space_id: str) -> None:
        self.core.last_seq.pop(space_id, None)


class Cursor:
    """The resume position: per space the last seq examined (long-poll's next_after), or the
    sync endpoint's opaque cursor."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "cursor.json"
        data = store.read_json(self.path)
        self.value: dict[str, Any] = data if isinstance(data, dict) else {}

    def save(self) -> None:
        store.write_json(self.path, self.value)
