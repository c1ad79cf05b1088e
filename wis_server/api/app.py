"""The app factory and lifespan. The lifespan enters `bootstrap.runtime` (which builds the
database, services, hub and background loops once) and puts what handlers need on
`app.state`; nothing is created at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from ..bootstrap import runtime
from ..classification.keys import Keyring
from ..config import Settings
from ..domain.errors import WisError
from ..services.passwords import Passwords
from ..services.ports import Clock, EventPublisher, system_clock
from ..services.sync_cursor import CursorCodec
from .endpoint import Api
from .middleware import HttpMiddleware, TrustedProxies
from .openapi import build_openapi
from .problems import http_error_handler, wis_error_handler
from .routes import (
    auth,
    callout_pages,
    callouts,
    directory,
    events,
    notifications,
    phone,
    push,
    spaces,
    stream,
    sync,
    system,
    unread,
)
from .tokens import TokenService

_API_PREFIXES = ("/api/", "/openapi.json", "/healthz", "/readyz")


def _fallback(web_dir: Path) -> ASGIApp:
    """What answers a path no route matches: API paths get a problem+json 404, the rest is
    the web client (when it is installed)."""
    static = StaticFiles(directory=web_dir, html=True) if web_dir.is_dir() else None

    async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await WebSocketClose()(scope, receive, send)
            return
        path = scope.get("path", "")
        if static is None or path == "/api" or path.startswith(_API_PREFIXES):
            raise HTTPException(status_code=404)
        await static(scope, receive, send)

    return not_found


def build_api() -> Api:
    api = Api()
    for module in (auth, directory, spaces, events, notifications, callouts, callout_pages,
                   phone, push, sync, system, unread):
        module.register(api)
    return api


def create_app(settings: Settings, keyring: Keyring, *, clock: Clock = system_clock,
               publisher: EventPublisher | None = None, passwords: Passwords | None = None
               ) -> Starlette:
    """Build the ASGI app. The keyring is loaded by the caller (CLI or tests) and handed in."""
    api = build_api()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with runtime(settings, keyring, clock=clock, publisher=publisher,
                           passwords=passwords, render=stream.render_change) as rt:
            app.state.runtime = rt
            app.state.database = rt.database
            app.state.store = rt.store
            app.state.cipher = rt.cipher
            app.state.hub = rt.hub
            app.state.services = rt.services
            app.state.sync_cursors = CursorCodec(rt.store.audit_key)
            app.state.memory_channels = rt.dispatch.memory
            app.state.sms_webhook_secret = rt.dispatch.sms_webhook_secret
            yield

    routes: list[Any] = [*api.routes(), *stream.routes()]
    app = Starlette(
        routes=routes, lifespan=lifespan,
        middleware=[Middleware(TrustedProxies, trusted=settings.server.trusted_proxies),
                    Middleware(HttpMiddleware, max_body_bytes=settings.server.max_body_bytes)],
        exception_handlers={WisError: wis_error_handler, HTTPException: http_error_handler},
    )
    # The web client is the router's fallback, not a route: a mount at `/` would match every
    # path fully and win over an API route that matches only by path (wrong method), turning
    # the API's 405 (with its real `Allow`) into the static files' `Allow: GET, HEAD` or 404.
    app.router.default = _fallback(Path(settings.server.web_dir))
    app.state.settings = settings
    app.state.keyring = keyring
    app.state.clock = clock
    app.state.tokens = TokenService(keyring, issuer=settings.auth.issuer,
                                    audience=settings.auth.audience,
                                    ttl_s=settings.auth.access_token_ttl_s)
    app.state.openapi = build_openapi(api)
    return app
