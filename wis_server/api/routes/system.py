"""Health, readiness, the audit trail, the OpenAPI document and its docs page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.responses import FileResponse, JSONResponse, Response

from ...channels.health import HealthRegistry
from ...domain.codes import Code
from ...domain.errors import Forbidden
from ...domain.levels import Role
from ..endpoint import Api, Call, Query
from ..schemas import Out
from ..shapes import AuditOut, items_of
from ..views import audit_view, ts

STATIC = Path(__file__).resolve().parent.parent / "static"


def channel_health(runtime: Any) -> dict[str, Any]:
    """Each enabled channel's counters, error rate and breaker (channels/health.py); for
    Rakel also the terminal's state and the inbound counts. No content, no addresses."""
    dispatch = runtime.dispatch
    health: HealthRegistry = dispatch.health
    channels: dict[str, Any] = dict(health.snapshot(
        frozenset(k.value for k in dispatch.channels)))
    rakel = runtime.rakel
    if rakel is not None:
        inbound = runtime.rakel_inbound
        channels["rakel"] = {**channels.get("rakel", {}), **rakel.health().as_dict(),
                             "inbound": inbound.counts.as_dict()
                             if inbound is not None else None}
    return channels


def register(api: Api) -> None:
    @api.op("GET", "/healthz", summary="The process is alive", tag="system", auth=False)
    async def healthz(call: Call) -> Any:
        return {"status": "ok"}

    @api.op("GET", "/readyz", summary="Database reachable and keyring loaded (and how often "
            "each background loop was restarted)", tag="system", auth=False, errors=(503,))
    async def readyz(call: Call) -> Any:
        state = call.request.app.state
        database = await state.database.ping()
        keyring = state.keyring is not None
        ok = database and keyring
        loops = {name: {"running": s.running, "restarts": s.restarts}
                 for name, s in state.runtime.supervisor.status().items()}
        # A channel that is down does not make the server unready (it still serves the
        # web); its health is shown for the operators.
        channels = channel_health(state.runtime)
        return JSONResponse({"status": "ready" if ok else "not ready",
                             "checks": {"database": database, "keyring": keyring},
                             "background": loops, "channels": channels},
                            status_code=200 if ok else 503)

    @api.op("GET", "/api/v1/admin/channels", summary="Each channel's health for the "
            "operators (system administrators): sent, failed, error rate, breaker, and what "
            "an adapter reports of itself (the Rakel terminal, the phone provider's webhooks)",
            tag="channels", response=Out("ChannelHealth", {"type": "object", "properties": {
                "at": {"type": "string"},
                "channels": {"type": "object", "additionalProperties": {"type": "object"}}},
                "required": ["at", "channels"]}), errors=(403,))
    async def admin_channels(call: Call) -> Any:
        if call.principal.role is not Role.SYSTEM_ADMIN:
            raise Forbidden("system administrators only", code=Code.NOT_SYSTEM_ADMIN)
        runtime = call.request.app.state.runtime
        return {"at": ts(runtime.clock()), "channels": channel_health(runtime)}

    @api.op("GET", "/api/v1/audit", summary="The audit trail: your actor's (actor admins) or "
            "all / one actor's (system admins)", tag="audit",
            query=(Query("actor_id", str, "only this actor's records"),
                   Query("after", int, "records with seq > after", minimum=0),
                   Query("limit", int, "at most this many (default 200)", 1, 1000)),
            response=items_of(AuditOut, "AuditPage"), errors=(403,))
    async def audit(call: Call) -> Any:
        records = await call.services.audit.page(
            call.principal, actor_id=call.query.get("actor_id"),
            after=call.query.get("after", 0), limit=call.query.get("limit", 200))
        return {"items": [audit_view(r) for r in records]}

    @api.op("GET", "/openapi.json", summary="This document", tag="system", auth=False)
    async def openapi(call: Call) -> Any:
        return JSONResponse(call.request.app.state.openapi)

    @api.op("GET", "/api/docs", summary="Interactive API documentation", tag="system",
            auth=False, media_type="text/html")
    async def docs(call: Call) -> Response:
        return FileResponse(STATIC / "docs.html")

    @api.op("GET", "/api/docs/docs.js", summary="Script of the documentation page",
            tag="system", auth=False, media_type="text/javascript")
    async def docs_js(call: Call) -> Response:
        return FileResponse(STATIC / "docs.js", media_type="text/javascript")

    @api.op("GET", "/api/docs/docs.css", summary="Styles of the documentation page",
            tag="system", auth=False, media_type="text/css")
    async def docs_css(call: Call) -> Response:
        return FileResponse(STATIC / "docs.css", media_type="text/css")
