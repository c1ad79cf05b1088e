"""The app factory and lifespan: the composition root. Engines, keys and services are built
here and passed explicitly; nothing is created at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from ..classification.crypto import EnvelopeCipher
from ..classification.keys import Keyring, load_keyring_file
from ..config import Settings
from ..domain.errors import WisError
from ..realtime.connection import Limits
from ..realtime.hub import Hub
from ..realtime.pg_bus import PgBus
from ..services.audit import AuditTrail
from ..services.directory import Directory
from ..services.entries import Entries
from ..services.maintenance import maintenance
from ..services.passwords import Passwords
from ..services.ports import Clock, EventPublisher, NullPublisher, system_clock
from ..services.reports import Reports
from ..services.sessions import Sessions
from ..services.spaces import Spaces
from ..services.stream import StreamSource, TeePublisher
from ..services.throttle import LoginThrottle
from ..storage.database import Database
from ..storage.unit import Store
from .endpoint import Api
from .middleware import HttpMiddleware, TrustedProxies
from .openapi import build_openapi
from .problems import http_error_handler, wis_error_handler
from .routes import auth, directory, events, spaces, stream, system
from .tokens import TokenService


@dataclass
class Services:
    directory: Directory
    sessions: Sessions
    spaces: Spaces
    entries: Entries
    reports: Reports
    audit: AuditTrail


def build_services(store: Store, settings: Settings, clock: Clock,
                   publisher: EventPublisher, passwords: Passwords | None = None) -> Services:
    passwords = passwords or Passwords()
    return Services(
        directory=Directory(store, passwords, clock, publisher),
        sessions=Sessions(store, passwords, clock, LoginThrottle(clock),
                          timedelta(seconds=settings.refresh_token_ttl_s), publisher),
        spaces=Spaces(store, clock, publisher),
        entries=Entries(store, clock, publisher),
        reports=Reports(store, clock, publisher),
        audit=AuditTrail(store, clock),
    )


def _keyring_reloader(keyring: Keyring) -> Callable[[], Keyring] | None:
    """A keyring from a file is re-read when a rotation elsewhere may have changed it."""
    if not keyring.source.startswith("file:"):
        return None
    path = Path(keyring.source.removeprefix("file:"))
    return lambda: load_keyring_file(path)


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
    for module in (auth, directory, spaces, events, system):
        module.register(api)
    return api


def create_app(settings: Settings, keyring: Keyring, *, clock: Clock = system_clock,
               publisher: EventPublisher | None = None, passwords: Passwords | None = None
               ) -> Starlette:
    """Build the ASGI app. The keyring is loaded by the caller (CLI or tests) and handed in."""
    api = build_api()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        database = Database(settings.database_url, pool_size=settings.db_pool_size)
        cipher = EnvelopeCipher(keyring, reload=_keyring_reloader(keyring))
        store = Store(database, cipher, keyring.audit_key)
        app.state.database = database
        app.state.store = store
        app.state.cipher = cipher
        hub = Hub(StreamSource(store, clock), stream.render_change,
                  limits=Limits(settings.stream_queue_messages, settings.stream_queue_bytes,
                                max_per_user=settings.stream_max_per_user,
                                max_per_address=settings.stream_max_per_address),
                  poll_s=settings.stream_poll_s, revalidate_s=settings.stream_revalidate_s)
        app.state.hub = hub
        app.state.services = build_services(
            store, settings, clock, TeePublisher(hub, publisher or NullPublisher()), passwords)
        bus = PgBus(database.url, hub.on_remote, hub.on_bus_reconnected) \
            if not database.is_sqlite else None
        await hub.start()
        if bus is not None:
            hub.outbox = bus.publish
            await bus.start()
        try:
            async with maintenance(store, clock):
                yield
        finally:
            if bus is not None:
                await bus.stop()
            await hub.stop()
            await database.dispose()

    routes: list[Any] = [*api.routes(), *stream.routes()]
    app = Starlette(
        routes=routes, lifespan=lifespan,
        middleware=[Middleware(TrustedProxies, trusted=settings.trusted_proxies),
                    Middleware(HttpMiddleware, max_body_bytes=settings.max_body_bytes)],
        exception_handlers={WisError: wis_error_handler, HTTPException: http_error_handler},
    )
    # The web client is the router's fallback, not a route: a mount at `/` would match every
    # path fully and win over an API route that matches only by path (wrong method), turning
    # the API's 405 (with its real `Allow`) into the static files' `Allow: GET, HEAD` or 404.
    app.router.default = _fallback(Path(settings.web_dir))
    app.state.settings = settings
    app.state.keyring = keyring
    app.state.clock = clock
    app.state.tokens = TokenService(keyring, issuer=settings.issuer, audience=settings.audience,
                                    ttl_s=settings.access_token_ttl_s)
    app.state.openapi = build_openapi(api)
    app.state.exercise_spaces = {}
    return app
