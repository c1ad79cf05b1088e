"""Where new items come from. `SyncSource` reads the compact sync endpoint (`GET
/api/v1/sync`, docs/sync.md): one long-poll for every followed space, an opaque cursor.
`LongPollSource` is for a server without it: each space's long-poll (`GET
/api/v1/spaces/{id}/events`), space by space, then one request held open. Both hand the feed
frames in one shape — the websocket's (`space_id`, `seq`, `event`, `data` in the REST shape,
only the fields the terminal prints)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from .auth import Auth, authorised
from .feed import Cursor
from .transport import Link

PAGE = 50


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


TAIL = 20  # a space new to the cursor starts with its latest 20 events (docs/sync.md)


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
    data["exercise"] = exercise
    data.setdefault("seq", item.get("seq"))
    return {"space_id": space_id, "seq": item.get("seq"), "event": item.get("event"),
            "data": data}


class SyncSource:
    def __init__(self) -> None:
        self.meta: dict[str, dict[str, Any]] = {}  # space id → title, exercise, level…

    def poll(self, auth: Auth, link: Link, spaces: list[str], cursor: Cursor,
             wait_s: float) -> tuple[list[dict[str, Any]], list[str]]:
        params: dict[str, Any] = {"wait": int(wait_s), "tail": TAIL, "spaces": ",".join(spaces)}
        if cursor.value.get("sync"):
            params["cursor"] = cursor.value["sync"]
        reply = authorised(auth, link, "GET", "/api/v1/sync", params=params, wait_s=wait_s,
                           deadline_s=None)
        if reply.status == 404:
            raise NoSyncEndpoint
        if reply.status == 422 and reply.code == "sync_cursor_invalid":
            cursor.value.pop("sync", None)  # start fresh: every space comes with resync
            return [], []
        if reply.status != 200 or not isinstance(reply.data, dict):
            return [], []
        frames: list[dict[str, Any]] = []
        for space in reply.data.get("spaces", []):
            space_id = str(space["id"])
            meta = self.meta.setdefault(space_id, {})
            meta.update({k: space[k] for k in ("title", "exercise", "level", "status", "role")
                         if k in space})
            exercise = bool(meta.get("exercise"))
            frames += [from_sync_item(space_id, exercise, i) for i in space.get("items", [])]
        cursor.value["sync"] = reply.data.get("cursor")
        return frames, [str(s) for s in reply.data.get("removed", [])]


class NoSyncEndpoint(Exception):
    """The server answered 404 for /api/v1/sync itself (an older server)."""


def pick_source(choice: str) -> Source:
    """The sync endpoint unless asked otherwise; the feed falls back to the per-space
    long-poll when the server has no sync endpoint (NoSyncEndpoint)."""
    return LongPollSource() if choice == "longpoll" else SyncSource()
