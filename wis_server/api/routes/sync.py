"""`GET /api/v1/sync` — every followed space's readable events after an opaque cursor, in one
small answer, long-polled with `wait`; and `GET /api/v1/sync/dictionary`, the compact
encoding's zstd dictionary. The contract: docs/sync.md."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from starlette.responses import Response

from ...classification.policy import space_role
from ...domain.codes import Code
from ...domain.errors import AuthenticationFailed, ValidationFailed
from ...domain.events import SPACE_EVENTS
from ...domain.model import Principal, Space
from ...realtime.hub import Hub
from ...realtime.sync import SyncPage, SyncReader
from ...services.sync_cursor import Cursor, CursorCodec, Rights, actor_tag
from ..endpoint import Api, Call, Query
from ..schemas import Out
from ..sync_shapes import (
    COMPACT_TYPE,
    SyncRender,
    accepts_compact,
    compact_record,
    dictionary,
    dumps,
    frame_item,
    space_meta,
)
from .events import MAX_WAIT_S, json_parts_response, too_many

MAX_FILTER = 50
MAX_SPACES = 200  # the most recently active; keeps the cursor well under its size bound
DICTIONARY_HEADER = "WIS-Sync-Dictionary"

_S = {"type": "string"}
_ITEM = {"type": "object", "required": ["seq", "event"], "properties": {
    "seq": {"type": ["integer", "null"]}, "event": _S, "id": _S,
    "truncated": {"type": "boolean"}, "length": {"type": "integer"}},
    "description": "one event in the shape docs/sync.md lists per `event`"}
SyncOut = Out("SyncPage", {"type": "object", "required": ["cursor", "more", "spaces", "removed"],
                           "properties": {
    "cursor": _S, "more": {"type": "boolean"},
    "spaces": {"type": "array", "items": {
        "type": "object", "required": ["id", "head", "items"], "properties": {
            "id": _S, "head": {"type": "integer"}, "title": _S, "exercise": {"type": "boolean"},
            "level": _S, "status": _S, "role": _S, "added": {"type": "boolean"},
            "resync": {"type": "boolean"}, "items": {"type": "array", "items": _ITEM}}}},
    "removed": {"type": "array", "items": _S}}})


def _filter(raw: str | None) -> set[str] | None:
    if raw is None:
        return None
    ids = {part.strip() for part in raw.split(",") if part.strip()}
    if len(ids) > MAX_FILTER or any(len(i) > 36 for i in ids):
        raise ValidationFailed(f"spaces names at most {MAX_FILTER} space ids", code=Code.TOO_LONG,
                               field="spaces")
    return ids


def _rights(principal: Principal) -> Rights:
    return Rights(principal.clearance, principal.actor_ceiling, principal.role,
                  actor_tag(principal.actor_id))


def _before(principal: Principal, cursor: Cursor | None) -> Principal | None:
    """The reader as the cursor saw them; None (start afresh) if there is no cursor or the
    user now belongs to another actor."""
    if cursor is None or cursor.rights.actor_tag != actor_tag(principal.actor_id):
        return None
    r = cursor.rights
    return replace(principal, clearance=r.clearance, actor_ceiling=r.actor_ceiling, role=r.role)


async def _fresh(call: Call, principal: Principal) -> Principal:
    """The reader reloaded after a wait: ended sessions and disabled accounts stop here."""
    fresh = await call.services.directory.principal(principal.user_id)
    if fresh is None or not fresh.active:
        raise AuthenticationFailed("account disabled or removed", code=Code.ACCOUNT_INACTIVE)
    if fresh.session_epoch != principal.session_epoch:
        raise AuthenticationFailed("this session has ended; sign in again",
                                   code=Code.SESSION_REVOKED)
    return fresh


def register(api: Api) -> None:
    @api.op("GET", "/api/v1/sync", summary="Every followed space's readable events after "
            "your cursor, in one small answer (long-poll with `wait`; for the worst links). "
            f"JSON, or with `Accept: {COMPACT_TYPE}; dict=<id>` the compact encoding: "
            "docs/sync.md", tag="sync",
            query=(Query("cursor", str, "the previous answer's cursor (absent: start "
                         "afresh)"),
                   Query("wait", int, f"if nothing is new, wait up to this many seconds "
                         f"(0-{MAX_WAIT_S})", 0, MAX_WAIT_S),
                   Query("limit", int, "at most this many events examined in all, shared "
                         "equally by the spaces (default 100)", 1, 500),
                   Query("body", int, "cut bodies and messages to this many characters "
                         "(cut ones carry truncated and length)", 0, 20000),
                   Query("tail", int, "for a space without a position: start with its latest "
                         "this many events (default 20)", 0, 100),
                   Query("spaces", str, f"only these space ids (comma-separated, at most "
                         f"{MAX_FILTER})")),
            response=SyncOut, errors=(422, 429))
    async def sync(call: Call) -> Any:
        state = call.request.app.state
        hub: Hub = state.hub
        codec: CursorCodec = state.sync_cursors
        principal = call.principal
        q = call.query
        cursor = codec.decode(principal.user_id, q["cursor"]) if "cursor" in q else None
        wanted = _filter(q.get("spaces"))
        limit, tail = q.get("limit", 100), q.get("tail", 20)
        deadline = time.monotonic() + q.get("wait", 0)
        with hub.long_poll(principal.user_id) as admitted:
            if not admitted:
                raise too_many()
            while True:
                visible = [v.space for v in await call.services.spaces.visible(principal)]
                # Most recently active first: the first MAX_SPACES are followed (a filter
                # may name any readable space).
                followed = [s for s in visible if s.id in wanted] if wanted is not None \
                    else visible[:MAX_SPACES]
                spaces = sorted(followed, key=lambda s: s.id)
                actors = {a.id: a.short_name
                          for a in await call.services.directory.list_actors(principal)}
                before = _before(principal, cursor)
                known = dict(cursor.positions) if cursor is not None else {}
                reader = SyncReader(hub.source, hub.registry, hub.long_polls,
                                    SyncRender(actors, q.get("body")))
                page = await reader.read(principal, spaces, known if before else {}, before,
                                         limit=limit, tail=tail)
                readable = {s.id for s in visible} - set(page.removed)
                in_scope = {sid for sid in known if wanted is None or sid in wanted}
                if wanted is not None and cursor is None:
                    in_scope |= wanted  # a fresh start names the filter's unreadable ids
                removed = sorted(in_scope - readable)
                # Carried over: positions outside the filter of spaces still followed.
                kept = {s.id for s in visible[:MAX_SPACES]}
                positions = {sid: seq for sid, seq in known.items()
                             if before is not None and sid in kept and sid not in in_scope}
                positions.update({p.space.id: p.last_seq for p in page.spaces})
                remaining = deadline - time.monotonic()
                if not page.empty or removed or remaining <= 0 or before is None:
                    break
                cursor = Cursor(cursor.rights if cursor else _rights(principal),
                                {**known, **positions})
                await reader.wait({p.space.id: p.last_seq for p in page.spaces}, remaining)
                principal = await _fresh(call, principal)
        text = codec.encode(principal.user_id, Cursor(_rights(principal), positions))
        return _answer(call, principal, page, removed, text)

    @api.op("GET", "/api/v1/sync/dictionary", summary="The zstd dictionary of the sync "
            "endpoint's compact encoding (trained on public text only; cache it by its ETag)",
            tag="sync", auth=False, media_type="application/octet-stream")
    async def sync_dictionary(call: Call) -> Any:
        d = dictionary()
        headers = {"etag": d.etag, "cache-control": "public, max-age=31536000, immutable",
                   DICTIONARY_HEADER: str(d.id)}
        if call.request.headers.get("if-none-match", "").strip() == d.etag:
            return Response(status_code=304, headers=headers)
        return Response(d.data, media_type="application/octet-stream", headers=headers)


def _head(principal: Principal, space: Space, page: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": space.id, "head": page.head}
    if page.added or page.resync or any(f.event in SPACE_EVENTS for f in page.frames):
        role = space_role(principal, space)
        doc.update(space_meta(space, role.value if role is not None else "reader"))
    elif space.is_exercise:  # ÖVNING on every item, even for a client that lost the meta
        doc["exercise"] = True
    if page.added:
        doc["added"] = True
    if page.resync:
        doc["resync"] = True
    return doc


def _answer(call: Call, principal: Principal, page: SyncPage, removed: list[str],
            cursor: str) -> Response:
    shown = [(p, _head(principal, p.space, p), [frame_item(f) for f in p.frames])
             for p in page.spaces if p.frames or p.added or p.resync]
    more = page.more
    headers = {DICTIONARY_HEADER: str(dictionary().id), "vary": "accept, accept-encoding",
               "cache-control": "no-store"}
    if accepts_compact(call.request.headers.get("accept", "")):
        envelope = {"cursor": cursor, "more": more,
                    "spaces": [{**head, "n": len(items)} for _, head, items in shown],
                    "removed": removed}
        records = [compact_record(dumps(envelope)),
                   *(compact_record(item) for _, _, items in shown for item in items)]
        del headers[DICTIONARY_HEADER]  # the client has it: it named it
        return Response(b"".join(records), media_type=COMPACT_TYPE, headers=headers)
    parts = [f'{{"cursor":{json.dumps(cursor)},"more":{"true" if more else "false"},'
             '"spaces":[']
    for i, (_, head, items) in enumerate(shown):
        parts.append(("," if i else "") + dumps(head)[:-1] + ',"items":[')
        parts.extend(("," if j else "") + item for j, item in enumerate(items))
        parts.append("]}")
    parts.append(f'],"removed":{json.dumps(removed)}}}')
    response = json_parts_response(parts, call)
    for name, value in headers.items():
        if name != "vary":
            response.headers[name] = value
    response.headers["vary"] = "accept, accept-encoding"
    return response

