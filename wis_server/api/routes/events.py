"""Degraded-link fallbacks over plain HTTP, for networks where websockets are blocked or flaky.

- `GET /api/v1/spaces/{id}/events?after=N&wait=S` — long-poll: returns at once if there are
  readable events after N, otherwise waits up to S seconds for one. Resume with `next_after`
  (the last seq examined: invisible events are skipped, so seq has gaps).
- `GET /api/v1/spaces/{id}/events/stream` — Server-Sent Events honouring `Last-Event-ID`
  (`id:` is the event's seq); the same hub, rules, limits and close codes as the websocket.

Both authenticate with the `Authorization` header and are gzip-compressed when the client
accepts it; the SSE stream flushes the compressor after every event with Z_FULL_FLUSH, so
compression never holds an event back and, the dictionary being reset, no event is compressed
against another (no length oracle between a public and a classified item).
"""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from ...domain.codes import Code
from ...domain.errors import (
    AuthenticationFailed,
    NotFound,
    TooManyAttempts,
    ValidationFailed,
)
from ...realtime.connection import CLOSE_NORMAL
from ...realtime.hub import Hub
from ...realtime.ports import Frame
from ..endpoint import MAX_QUERY_INT, Api, Call, Query
from ..numbers import parse_digits
from .stream import authenticate_token

GZIP_MIN_BYTES = 1024
KEEPALIVE_S = 15.0
MAX_WAIT_S = 60


def _accepts_gzip(call: Call) -> bool:
    return "gzip" in call.request.headers.get("accept-encoding", "").lower()


def json_parts_response(parts: list[str], call: Call) -> Response:
    """The concatenated parts as JSON; gzip-compressed with a full flush after each part, so
    no item is compressed against another (no length oracle between a public item an attacker
    wrote and a classified one beside it)."""
    raw = "".join(parts).encode()
    if _accepts_gzip(call) and len(raw) >= GZIP_MIN_BYTES:
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        packed = b"".join(compressor.compress(part.encode()) + compressor.flush(zlib.Z_FULL_FLUSH)
                          for part in parts) + compressor.flush()
        return Response(packed, media_type="application/json",
                        headers={"content-encoding": "gzip", "vary": "accept-encoding"})
    return Response(raw, media_type="application/json", headers={"vary": "accept-encoding"})


def too_many() -> TooManyAttempts:
    error = TooManyAttempts("too many live connections for this user; close one",
                            retry_after=5)
    error.code = Code.TOO_MANY_CONNECTIONS
    return error


def _bearer(call: Call) -> str:
    scheme, _, token = call.request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class SseSender:
    """Hands frames to the streaming response (small queue: back-pressure reaches the hub's
    bounded per-connection queue, which closes a stalled reader with 4008)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=8)

    async def send(self, frame: Frame) -> None:
        if frame.type == "event":
            # A frame that is no event of the log (seq null: a withdrawal after the reader's
            # rights narrowed) carries no id, so Last-Event-ID stays the last real seq.
            head = "" if frame.seq is None else f"id: {frame.seq}\n"
            await self.queue.put(f"{head}data: {frame.text}\n\n")
            return
        await self.queue.put(f"event: {frame.type}\ndata: {frame.text}\n\n")
        if frame.type in ("revoked", "error"):
            await self.close(CLOSE_NORMAL, frame.type)

    async def close(self, code: int, reason: str) -> None:
        text = json.dumps({"type": "close", "code": code, "reason": reason})
        await self.queue.put(f"event: close\ndata: {text}\n\n")
        await self.queue.put(None)


def _last_event_id(call: Call) -> int | None:
    raw = call.request.headers.get("last-event-id")
    if raw is None or not raw.strip():
        after = call.query.get("after")
        return int(after) if after is not None else None
    value = parse_digits(raw)
    if value is None:
        raise ValidationFailed("Last-Event-ID must be an event's seq (plain digits)",
                               code=Code.WRONG_TYPE, field="Last-Event-ID")
    if not 0 <= value <= MAX_QUERY_INT:
        raise ValidationFailed("Last-Event-ID is out of range", code=Code.OUT_OF_RANGE,
                               field="Last-Event-ID")
    return value


def register(api: Api) -> None:
    @api.op("GET", "/api/v1/spaces/{space_id}/events", summary="Long-poll the space's events "
            "you may read (fallback for networks without websockets)", tag="events",
            query=(Query("after", int, "events with seq > after (default 0)", minimum=0),
                   Query("wait", int, f"wait up to this many seconds (0-{MAX_WAIT_S}) for "
                         "an event", 0, MAX_WAIT_S),
                   Query("limit", int, "at most this many events (default 100)", 1, 500)),
            errors=(404, 429))
    async def poll_events(call: Call) -> Any:
        hub: Hub = call.request.app.state.hub
        space_id = call.path["space_id"]
        after = call.query.get("after", 0)
        limit = call.query.get("limit", 100)
        deadline = time.monotonic() + call.query.get("wait", 0)
        principal = call.principal
        with hub.long_poll(principal.user_id) as admitted:
            if not admitted:
                raise too_many()
            return await _poll(call, hub, space_id, after, limit, deadline)

    async def _poll(call: Call, hub: Hub, space_id: str, after: int, limit: int,
                    deadline: float) -> Any:
        principal = call.principal
        while True:
            backlog = await hub.backlog(principal, space_id, after, limit)
            if backlog is None:
                raise NotFound("no such space")
            remaining = deadline - time.monotonic()
            if backlog.frames or remaining <= 0:
                break
            after = backlog.last_seq
            await hub.wait(space_id, after, remaining)
            epoch = principal.session_epoch
            fresh = await call.services.directory.principal(principal.user_id)
            if fresh is None or not fresh.active:
                raise AuthenticationFailed("account disabled or removed",
                                           code=Code.ACCOUNT_INACTIVE)
            if fresh.session_epoch != epoch:
                raise AuthenticationFailed("this session has ended; sign in again",
                                           code=Code.SESSION_REVOKED)
            principal = fresh
        parts = ['{"items":[', *(("," if i else "") + f.text
                                  for i, f in enumerate(backlog.frames)),
                 f'],"next_after":{backlog.last_seq},"head":{backlog.head}}}']
        return json_parts_response(parts, call)

    @api.op("GET", "/api/v1/spaces/{space_id}/events/stream", summary="Server-Sent Events of "
            "the space (honours Last-Event-ID; fallback for networks without websockets)",
            tag="events", query=(Query("after", int, "start after this seq when there is no "
                                       "Last-Event-ID (default: from now)", minimum=0),),
            errors=(404, 429), media_type="text/event-stream")
    async def stream_events(call: Call) -> Any:
        state = call.request.app.state
        hub: Hub = state.hub
        space_id = call.path["space_id"]
        after = _last_event_id(call)
        principal, expires_at = await authenticate_token(state, _bearer(call))
        await call.services.spaces.get(principal, space_id)  # 404 unless readable
        if not hub.has_room(principal.user_id):
            raise too_many()
        sender = SseSender()
        conn = hub.connect(sender, principal, expires_at)
        await hub.subscribe(conn, space_id, after)
        gzip = _accepts_gzip(call)

        async def body() -> AsyncIterator[bytes]:
            compressor = zlib.compressobj(6, zlib.DEFLATED, 31) if gzip else None

            def encode(text: str) -> bytes:
                if compressor is None:
                    return text.encode()
                return compressor.compress(text.encode()) + compressor.flush(zlib.Z_FULL_FLUSH)

            try:
                yield encode("retry: 3000\n\n")
                while True:
                    try:
                        chunk = await asyncio.wait_for(sender.queue.get(), KEEPALIVE_S)
                    except TimeoutError:
                        yield encode(": keepalive\n\n")
                        continue
                    if chunk is None:
                        break
                    yield encode(chunk)
                if compressor is not None:
                    yield compressor.flush()
            finally:
                await conn.finished()

        headers = {"cache-control": "no-store", "x-accel-buffering": "no",
                   "vary": "accept-encoding"}
        if gzip:
            headers["content-encoding"] = "gzip"
        return StreamingResponse(body(), media_type="text/event-stream", headers=headers)
