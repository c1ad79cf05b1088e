"""The websocket endpoint `GET /api/v1/stream` and the event renderer (REST shapes).

Protocol (JSON text frames; full description in docs/realtime.md):
  client → server  {"type":"auth","token":…} (first, within 10 s; never a token in the URL)
                   {"type":"subscribe","space_id":…,"after":N|null}
                   {"type":"unsubscribe","space_id":…}   {"type":"ping"}
  server → client  {"type":"ready"}  {"type":"subscribed","space_id":…,"head":N}
                   {"type":"event","space_id":…,"seq":N,"event":"entry.created"|…,"data":{…}}
                   {"type":"revoked","space_id":…}  {"type":"error","code":…,"message":…}
                   {"type":"pong"}
  close codes      4001 auth failed / timed out, 4003 forbidden (origin, account disabled),
                   4008 slow consumer (resume with after), 4009 token expired (re-auth, resume),
                   1011 internal error (resume), 1001 server shutting down (resume),
                   4029 too many connections (this user's, or unauthenticated from an address)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import structlog
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from ...classification.policy import space_role
from ...domain.callouts import Callout
from ...domain.codes import Code
from ...domain.conferences import Booking
from ...domain.errors import AuthenticationFailed
from ...domain.events import Subject
from ...domain.model import Entry, Principal, SituationReport, Space
from ...realtime.connection import (
    CLOSE_AUTH_FAILED,
    CLOSE_FORBIDDEN,
    CLOSE_INVALID,
    CLOSE_TOKEN_EXPIRED,
    CLOSE_TOO_MANY,
    CLOSE_UNSUPPORTED,
    Connection,
    control,
)
from ...realtime.hub import Hub
from ...realtime.ports import Change, Frame
from ...services.spaces import SpaceView
from ..tokens import check_session
from ..views import entry_view, report_view, space_view
from ..ws_protocol import WRITE_FRAME, text_frame
from .callouts import callout_view
from .phone import conference_view

AUTH_TIMEOUT_S = 10.0
MAX_CLIENT_MESSAGE = 4096
log = structlog.get_logger("wis.realtime")


def _entry_data(change: Change, principal: Principal, space: Space,
                shown: tuple[bool, ...]) -> dict[str, Any] | None:
    item = change.item
    if not isinstance(item, Entry) or not (shown and shown[0]):
        return None
    return entry_view(item, space.is_exercise)


def _report_data(change: Change, principal: Principal, space: Space,
                 shown: tuple[bool, ...]) -> dict[str, Any] | None:
    item = change.item
    if not isinstance(item, SituationReport):
        return None
    sections = tuple(s for s, ok in zip(item.sections, shown, strict=True) if ok)
    if not sections:
        return None
    return report_view(replace(item, sections=sections), space.is_exercise)


def _space_data(change: Change, principal: Principal, space: Space,
                shown: tuple[bool, ...]) -> dict[str, Any] | None:
    item = change.item
    if not isinstance(item, Space):
        return None
    role = space_role(principal, item)
    if role is None:
        return None
    return space_view(SpaceView(item, role, item.updated_at), principal)


def _callout_data(change: Change, principal: Principal, space: Space,
                  shown: tuple[bool, ...]) -> dict[str, Any] | None:
    item = change.item
    if not isinstance(item, Callout) or not (shown and shown[0]):
        return None
    return callout_view(item)


def _conference_data(change: Change, principal: Principal, space: Space,
                     shown: tuple[bool, ...]) -> dict[str, Any] | None:
    item = change.item
    if not isinstance(item, Booking) or not (shown and shown[0]):
        return None
    return conference_view(item)


_DATA: dict[Subject, Callable[[Change, Principal, Space, tuple[bool, ...]],
                              dict[str, Any] | None]] = {
    Subject.ENTRY: _entry_data, Subject.SITUATION_REPORT: _report_data,
    Subject.SPACE: _space_data, Subject.CALLOUT: _callout_data,
    Subject.NOTICE: _entry_data,  # a notice is an entry
    Subject.CONFERENCE: _conference_data}
"""How each logged kind's `data` is rendered, by what it is about."""


def render_change(change: Change, principal: Principal, space: Space,
                  shown: tuple[bool, ...]) -> str | None:
    """The `event` frame's JSON text; `data` is the REST resource as this reader sees it."""
    kind = change.kind
    if kind is None or not kind.logged:
        return None
    data = _DATA[kind.subject](change, principal, space, shown)
    if data is None:
        return None
    return json.dumps({"type": "event", "space_id": change.space_id, "seq": change.seq,
                       "event": kind.value, "data": data},
                      ensure_ascii=False, separators=(",", ":"))


def origin_allowed(headers: Mapping[str, str], allowed: tuple[str, ...]) -> bool:
    """Browsers always send Origin on websockets; clients without one are not browsers (so no
    cross-site hijacking risk). An empty allow-list means "same host as the request" only."""
    origin = headers.get("origin")
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if allowed:
        return origin in {a.strip().rstrip("/").lower() for a in allowed}
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https"):
        return False
    return parts.netloc == headers.get("host", "").strip().lower()


class _WireCache:
    """The serialised websocket frame of the last Frame written: fan-out hands one Frame to
    every socket that shares a view, one after the other, so it is serialised once."""

    __slots__ = ("frame", "wire")

    def __init__(self) -> None:
        self.frame: Frame | None = None
        self.wire = b""

    def of(self, frame: Frame) -> bytes:
        if frame is not self.frame:
            self.wire = text_frame(frame.text.encode())
            self.frame = frame
        return self.wire


_WIRE = _WireCache()


class WebSocketSender:
    """Frames go straight to the transport when the server offers `wis.write_frame`
    (api/ws_protocol.py, what `wis serve` runs): the same bytes to every socket of a view,
    no coroutine, no ASGI message. Otherwise, and whenever that write must wait, through the
    raw ASGI `send`. Closing goes through Starlette's WebSocket so its state stays right."""

    __slots__ = ("send_raw", "websocket", "write_frame")

    def __init__(self, websocket: WebSocket, send: Send) -> None:
        self.websocket = websocket
        self.send_raw = send
        self.write_frame: Callable[[bytes], bool] | None = \
            websocket.scope.get("extensions", {}).get(WRITE_FRAME)

    def send_now(self, frame: Frame) -> bool:
        write = self.write_frame
        return write is not None and write(_WIRE.of(frame))

    async def send(self, frame: Frame) -> None:
        await self.send_raw({"type": "websocket.send", "text": frame.text})

    async def close(self, code: int, reason: str) -> None:
        await self.websocket.close(code, reason)


async def authenticate_token(state: Any, token: object) -> tuple[Principal, float]:
    """A principal and its token's `exp` — or AuthenticationFailed (code token_expired, …)."""
    if not isinstance(token, str) or not token.strip():
        raise AuthenticationFailed("missing token", code=Code.TOKEN_MISSING)
    claims = state.tokens.verify(token.strip())
    principal = await state.services.directory.principal(claims.user_id)
    if principal is None or not principal.active:
        raise AuthenticationFailed("account disabled or removed", code=Code.ACCOUNT_INACTIVE)
    check_session(claims, principal)
    return principal, float(claims.expires_at)


class StreamEndpoint:
    """ASGI app for the route (so the fan-out can use the raw `send`)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await stream_session(WebSocket(scope, receive, send), send)


async def stream_session(websocket: WebSocket, send: Send) -> None:
    state = websocket.app.state
    if not origin_allowed(websocket.headers, state.settings.server.allowed_origins):
        await websocket.close(CLOSE_FORBIDDEN)  # before accept: the handshake gets HTTP 403
        return
    hub: Hub = state.hub
    await websocket.accept()
    address = websocket.client.host if websocket.client else "unknown"
    with hub.unauthenticated(address) as admitted:
        if not admitted:
            await websocket.close(CLOSE_TOO_MANY, "too many unauthenticated connections")
            return
        authenticated = await _authenticate(websocket, state, hub)
    if authenticated is None:
        return
    principal, expires_at = authenticated
    if not hub.has_room(principal.user_id):
        await websocket.close(CLOSE_TOO_MANY, "too many connections for this user")
        return
    conn = hub.connect(WebSocketSender(websocket, send), principal, expires_at)
    conn.push(control("ready"))
    try:
        while not conn.closed:
            received = await websocket.receive()
            if received["type"] == "websocket.disconnect":
                break
            await _handle(hub, conn, received.get("text"))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await conn.finished()


async def _authenticate(websocket: WebSocket, state: Any, hub: Hub
                        ) -> tuple[Principal, float] | None:
    """The first frame's token → principal and expiry; None when the socket was closed."""
    try:
        received = await asyncio.wait_for(websocket.receive(), AUTH_TIMEOUT_S)
        if received["type"] == "websocket.disconnect":
            return None
        first = received.get("text")
        if first is None:  # a binary frame: the protocol is JSON text only
            await websocket.close(CLOSE_UNSUPPORTED, "text frames only")
            return None
        try:
            message = json.loads(first) if len(first) <= MAX_CLIENT_MESSAGE else None
        except RecursionError:
            await websocket.close(CLOSE_AUTH_FAILED, "message nested too deeply")
            return None
        if not isinstance(message, dict) or message.get("type") != "auth":
            raise AuthenticationFailed("authenticate first", code=Code.AUTH_REQUIRED)
        async with hub.admission:
            return await authenticate_token(state, message.get("token"))
    except TimeoutError:
        await websocket.close(CLOSE_AUTH_FAILED, "authentication timed out")
        return None
    except (WebSocketDisconnect, RuntimeError):
        return None
    except (ValueError, AuthenticationFailed) as error:
        code = getattr(error, "code", None)
        await websocket.close(CLOSE_TOKEN_EXPIRED if code is Code.TOKEN_EXPIRED
                              else CLOSE_AUTH_FAILED, "authentication failed")
        return None


def _error(code: Code, message: str, **extra: Any) -> Frame:
    return control("error", code=code, message=message, **extra)


async def _handle(hub: Hub, conn: Connection, text: str | None) -> None:
    if text is None or len(text) > MAX_CLIENT_MESSAGE:
        conn.push(_error(Code.BAD_MESSAGE, "send JSON text frames under 4 KiB"))
        return
    try:
        message = json.loads(text)
    except ValueError:
        conn.push(_error(Code.BAD_MESSAGE, "not JSON"))
        return
    except RecursionError:  # nested past the parser's depth: say so, then close
        conn.push(_error(Code.BAD_MESSAGE, "message nested too deeply"))
        conn.close_soon(CLOSE_INVALID, "message nested too deeply", flush=True)
        return
    if not isinstance(message, dict):
        conn.push(_error(Code.BAD_MESSAGE, "send a JSON object"))
        return
    kind = message.get("type")
    if kind == "ping":
        conn.push(control("pong"))
        return
    if kind not in ("subscribe", "unsubscribe"):
        conn.push(_error(Code.UNKNOWN_TYPE, "unknown or repeated message type"))
        return
    space_id = message.get("space_id")
    if not isinstance(space_id, str) or not 1 <= len(space_id) <= 36:
        conn.push(_error(Code.BAD_MESSAGE, "space_id must be a space's id"))
        return
    if kind == "unsubscribe":
        hub.unsubscribe(conn, space_id)
        return
    after = message.get("after")
    if after is not None and (isinstance(after, bool) or not isinstance(after, int)
                              or after < 0):
        conn.push(_error(Code.BAD_MESSAGE, "after must be a non-negative integer or null",
                         space_id=space_id))
        return
    await hub.subscribe(conn, space_id, after)


def routes() -> list[WebSocketRoute]:
    return [WebSocketRoute("/api/v1/stream", StreamEndpoint())]
