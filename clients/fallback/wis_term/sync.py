"""Where new items come from. `SyncSource` reads the compact sync endpoint (`GET
/api/v1/sync`, docs/sync.md): one long-poll for every followed space, an opaque cursor.
`LongPollSource` is for a server without it: each space's long-poll (`GET
/api/v1/spaces/{id}/events`), space by space, then one request held open. Both hand the feed
frames in one shape — the websocket's (`space_id`, `seq`, `event`, `data` in the REST shape,
only the fields the terminal prints)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from . import store
from .auth import Auth, authorised
from .feed import Cursor
from .transport import Link

PAGE = 20


class Source(Protocol):
    def poll(self, auth: Auth, link: Link, spaces: list[str], cursor: Cursor,
             wait_s: float) -> tuple[list[dict[str, Any]], list[str]]:
        """(frames in order, spaces no longer readable). Updates `cursor.value` in memory;
        the caller saves it after journalling the frames."""
        ...


class LongPollSource:
    def poll(self, auth: Auth, link: Link, spaces: list[str], cursor: Cursor,
             wait_s: float) -> tuple[list[dict[str, Any]], list[str]]:
        positions: dict[str, int] = cursor.value.setdefault("longpoll", {})
        frames: list[dict[str, Any]] = []
        revoked: list[str] = []
        for space_id in spaces:
            got, gone = self._page(auth, link, space_id, positions, 0)
            frames += got
            if gone:
                revoked.append(space_id)
        if frames or revoked or not spaces:
            return frames, revoked
        # Nothing anywhere: hold one request open on the first space (the others are read
        # again as soon as it answers).
        got, gone = self._page(auth, link, spaces[0], positions, wait_s)
        return got, [spaces[0]] if gone else []

    def _page(self, auth: Auth, link: Link, space_id: str, positions: dict[str, int],
              wait_s: float) -> tuple[list[dict[str, Any]], bool]:
        after = int(positions.get(space_id, 0))
        params = {"after": after, "limit": PAGE}
        if wait_s:
            params["wait"] = int(wait_s)
        reply = authorised(auth, link, "GET", f"/api/v1/spaces/{space_id}/events",
                           params=params, wait_s=wait_s, deadline_s=None)
        if reply.status == 404:
            positions.pop(space_id, None)
            return [], True
        if reply.status != 200:
            return [], False
        positions[space_id] = int(reply.data.get("next_after", after))
        return list(reply.data.get("items", [])), False


TAIL = 100  # a space new to the cursor starts with its latest 100 events (the most sync gives)


def from_sync_item(space_id: str, exercise: bool, item: dict[str, Any]) -> dict[str, Any]:
    """A sync item (flat, compact) as a frame in the websocket's shape (pure)."""
    data: dict[str, Any] = {k: v for k, v in item.items() if k not in ("seq", "event")}
    if "level" in data:
        data["classification"] = data.pop("level")
    if isinstance(data.get("author"), str):
        data["author"] = {"display_name": data["author"] + (
            f" ({data['actor']})" if data.get("actor") else "")}
    if isinstance(data.get("at"), int | float):
        data["created_at"] = datetime.fromtimestamp(data["at"], UTC).isoformat()
    if isinstance(data.get("sections"), list):
        data["sections"] = [{**sec, "classification": sec.get("level")}
                            for sec in data["sections"] if isinstance(sec, dict)]
    if isinstance(data.get("deadline"), int | float):
        data["deadline_at"] = datetime.fromtimestamp(data["deadline"], UTC).isoformat()
    data["exercise"] = exercise
    data.setdefault("seq", item.get("seq"))
    return {"space_id": space_id, "seq": item.get("seq"), "event": item.get("event"),
            "data": data}


COMPACT_TYPE = "application/vnd.wis.sync+zstd"
LIMIT = 50  # events per answer (~6 kB compact): fewer round trips when catching up


def uvarint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of an unsigned LEB128 varint (pure)."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def decode_compact(body: bytes, decompress: Any) -> dict[str, Any]:
    """The compact answer (docs/sync.md) back into the JSON answer's shape: record 0 is the
    envelope (each space with `n`, its item count), then the items space by space; every
    record is `uvarint(length) ‖ zstd frame`, each frame compressed on its own."""
    records: list[Any] = []
    pos = 0
    while pos < len(body):
        size, pos = uvarint(body, pos)
        records.append(json.loads(decompress(body[pos:pos + size])))
        pos += size
    envelope, items = records[0], iter(records[1:])
    for space in envelope.get("spaces", []):
        space["items"] = [next(items) for _ in range(int(space.pop("n", 0)))]
    return dict(envelope)


class Compact:
    """The zstd dictionary of the compact encoding, when the optional `zstandard` package is
    installed (`pip install wis-term[compact]`); fetched once (public, 4 kB) and kept."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "sync.dict"
        self.id: str | None = None
        self.decompressor: Any = None
        try:
            import zstandard  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError:
            self.module: Any = None
        else:
            self.module = zstandard
            if self.path.exists():
                self._load(self.path.read_bytes())

    def _load(self, data: bytes) -> None:
        d = self.module.ZstdCompressionDict(data)
        self.id = str(d.dict_id())
        self.decompressor = self.module.ZstdDecompressor(dict_data=d)

    @property
    def available(self) -> bool:
        return self.module is not None

    def fetch(self, link: Link) -> None:
        reply = link.request("GET", "/api/v1/sync/dictionary", deadline_s=None)
        if reply.status == 200 and reply.raw:
            store.write_atomic(self.path, reply.raw)
            self._load(reply.raw)

    def decompress(self, frame: bytes) -> bytes:
        return bytes(self.decompressor.decompress(frame, max_output_size=1 << 20))


class SyncSource:
    def __init__(self, directory: Path | None = None) -> None:
        self.meta: dict[str, dict[str, Any]] = {}  # space id → title, exercise, level…
        self.compact = Compact(directory) if directory is not None else None

    def poll(self, auth: Auth, link: Link, spaces: list[str], cursor: Cursor,
             wait_s: float) -> tuple[list[dict[str, Any]], list[str]]:
        params: dict[str, Any] = {"wait": int(wait_s), "tail": TAIL, "limit": LIMIT,
                                  "spaces": ",".join(spaces)}
        if cursor.value.get("sync"):
            params["cursor"] = cursor.value["sync"]
        compact = self.compact if self.compact and self.compact.available else None
        if compact is not None and compact.id is None:
            compact.fetch(link)
        headers = {"accept": f"{COMPACT_TYPE}; dict={compact.id}"} \
            if compact is not None and compact.id else {}
        reply = authorised(auth, link, "GET", "/api/v1/sync", params=params, wait_s=wait_s,
                           headers=headers, deadline_s=None)
        if reply.status == 404:
            raise NoSyncEndpoint
        if reply.status == 422 and reply.code == "sync_cursor_invalid":
            cursor.value.pop("sync", None)  # start fresh: every space comes with resync
            return [], []
        if reply.status != 200:
            return [], []
        data = reply.data
        if reply.headers.get("content-type", "").startswith(COMPACT_TYPE) and compact:
            data = decode_compact(reply.raw, compact.decompress)
        elif compact is not None and reply.headers.get("wis-sync-dictionary") != compact.id:
            compact.id = None  # the server has another dictionary now: fetch it next time
        if not isinstance(data, dict):
            return [], []
        frames: list[dict[str, Any]] = []
        for space in data.get("spaces", []):
            space_id = str(space["id"])
            meta = self.meta.setdefault(space_id, {})
            meta.update({k: space[k] for k in ("title", "exercise", "level", "status", "role")
                         if k in space})
            exercise = bool(meta.get("exercise"))
            frames += [from_sync_item(space_id, exercise, i) for i in space.get("items", [])]
        cursor.value["sync"] = data.get("cursor")
        return frames, [str(s) for s in data.get("removed", [])]


class NoSyncEndpoint(Exception):
    """The server answered 404 for /api/v1/sync itself (an older server)."""


def pick_source(choice: str, directory: Path) -> Source:
    """The sync endpoint unless asked otherwise (compact when zstandard is installed and not
    `--source json`); the feed falls back to the per-space long-poll when the server has no
    sync endpoint (NoSyncEndpoint)."""
    if choice == "longpoll":
        return LongPollSource()
    return SyncSource(None if choice == "json" else directory)
