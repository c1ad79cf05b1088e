"""Pure ASGI middleware (safe for websockets and streaming): request id and access log,
security headers on every response, a hard limit on request body size, and the client's
address behind trusted reverse proxies."""

from __future__ import annotations

import ipaddress
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.codes import Code
from .problems import problem

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; manifest-src 'self'; worker-src 'self'; "
       "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
]
LEAN_PATHS = ("/api/v1/sync",)
"""Answers read only by programs on the slowest links (docs/sync.md), never rendered as a
document: the headers that guard documents (permissions, opener, the page CSP) cost every
answer ~300 bytes there and guard nothing; what guards a non-document answer stays."""
LEAN_SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
]
NO_STORE = (b"cache-control", b"no-store")
REVALIDATE = (b"cache-control", b"no-cache")

log = structlog.get_logger("wis.http")


class BodyTooLarge(Exception):
    pass


class HttpMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        path = scope.get("path", "")
        api = path.startswith("/api/") or path in ("/openapi.json",)
        guards = LEAN_SECURITY_HEADERS if path.startswith(LEAN_PATHS) else SECURITY_HEADERS

        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _send_problem(send, 413, Code.BODY_TOO_LARGE,
                                f"request body over {self.max_body_bytes} bytes", request_id)
            self._log(scope, 413, started, request_id)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0] != b"server"]
                headers.extend(guards)
                headers.append((b"x-request-id", request_id.encode()))
                if not any(h[0] == b"cache-control" for h in headers):
                    # API answers may be classified: never stored. The web client's files
                    # are revalidated on every load, so a deploy reaches browsers at once.
                    headers.append(NO_STORE if api else REVALIDATE)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            if not response_started:
                status = 413
                await _send_problem(send, 413, Code.BODY_TOO_LARGE,
                                    f"request body over {self.max_body_bytes} bytes", request_id)
        except Exception:
            log.exception("unhandled error", request_id=request_id, path=path)
            if not response_started:
                status = 500
                await _send_problem(send, 500, Code.INTERNAL_ERROR,
                                    "an internal error occurred; it has been logged", request_id)
        finally:
            self._log(scope, status, started, request_id)

    def _log(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        state: dict[str, Any] = scope.get("state", {})
        log.info("request", request_id=request_id, method=scope.get("method"),
                 path=_route_path(scope), status=status,
                 duration_ms=round((time.perf_counter() - started) * 1000, 2),
                 user_id=state.get("user_id"), actor_id=state.get("actor_id"))


_SECRET_PATHS = ("/api/v1/channels/sms/delivery/", "/api/v1/channels/sms/inbound/",
                 "/api/v1/channels/phone/46elks/audio/")  # a clip's token is its only lock


def _route_path(scope: Scope) -> str:
    # Path only, never the query string (which may carry search terms); a webhook's path
    # secret is replaced, so logs never hold what authenticates the provider.
    path = str(scope.get("path", ""))
    for prefix in _SECRET_PATHS:
        if path.startswith(prefix):
            return prefix + "{secret}"
    return path


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_problem(send: Send, status: int, code: Code, detail: str, request_id: str
                        ) -> None:
    response = problem(status, code, detail)
    headers = [(k.encode(), v.encode()) for k, v in response.headers.items()]
    headers.extend(SECURITY_HEADERS)
    headers.append((b"x-request-id", request_id.encode()))
    headers.append(NO_STORE)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


class TrustedProxies:
    """The client's address behind reverse proxies we trust (WIS_TRUSTED_PROXIES).

    Only when the direct peer is a trusted proxy: X-Forwarded-For is read right to left,
    skipping trusted hops, and the first untrusted address is the client (whatever a client
    wrote further left is its own claim and ignored). X-Forwarded-Proto is taken from a
    trusted peer as well. With no trusted proxies nothing is rewritten; `*` is never allowed.
    """

    def __init__(self, app: ASGIApp, trusted: tuple[str, ...]) -> None:
        self.app = app
        self.networks = tuple(ipaddress.ip_network(t, strict=False) for t in trusted)

    def trusted(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.strip().strip("[]"))
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client(self, peer: str, forwarded_for: list[str]) -> str:
        if not self.trusted(peer):
            return peer
        hops = [h.strip() for value in forwarded_for for h in value.split(",")]
        for hop in reversed(hops):
            if not hop:
                continue
            if not self.trusted(hop):
                return _host_only(hop)
            peer = hop
        return peer  # every hop was a trusted proxy: the leftmost one is all we know

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.networks and scope["type"] in ("http", "websocket") and scope.get("client"):
            peer, port = scope["client"]
            if self.trusted(peer):
                headers = scope.get("headers", [])
                forwarded = [v.decode("latin-1") for k, v in headers if k == b"x-forwarded-for"]
                proto = next((v.decode("latin-1").strip().lower() for k, v in headers
                              if k == b"x-forwarded-proto"), None)
                scope = dict(scope)
                scope["client"] = (self.client(peer, forwarded), port)
                if proto in ("http", "https"):
                    scope["scheme"] = (proto if scope["type"] == "http"
                                       else proto.replace("http", "ws"))
        await self.app(scope, receive, send)


def _host_only(hop: str) -> str:
    """An address without a port: `1.2.3.4:5678` → `1.2.3.4`, `[::1]:80` → `::1`."""
    if hop.startswith("["):
        return hop[1:].split("]", 1)[0]
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop
