"""Sign-in, refresh and sign-out: bearer tokens for API clients, and a cookie session for the
web client (refresh token in an HttpOnly, Secure, SameSite=Strict cookie, CSRF double-submit)."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...domain.codes import Code
from ...domain.errors import AuthenticationFailed
from ...services.sessions import Session
from ..endpoint import Api, Call
from ..shapes import RefreshRequest, TokenOut, TokenRequest

REFRESH_COOKIE = "wis_refresh"
CSRF_COOKIE = "wis_csrf"
CSRF_HEADER = "x-csrf-token"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _token_body(call: Call, session: Session, with_refresh: bool) -> dict[str, Any]:
    state = call.request.app.state
    body: dict[str, Any] = {
        "access_token": state.tokens.issue(session.principal.user_id, session.principal.actor_id,
                                           state.clock(), session.principal.session_epoch),
        "token_type": "bearer",
        "expires_in": state.tokens.ttl_s,
    }
    if with_refresh:
        body["refresh_token"] = session.refresh_token
    return body


def _cookie_response(call: Call, session: Session) -> Response:
    settings = call.request.app.state.settings
    response = JSONResponse(_token_body(call, session, with_refresh=False))
    response.set_cookie(REFRESH_COOKIE, session.refresh_token,
                        max_age=settings.auth.refresh_token_ttl_s, path="/api/v1/auth",
                        secure=settings.auth.cookie_secure, httponly=True, samesite="strict")
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(24),
                        max_age=settings.auth.refresh_token_ttl_s, path="/",
                        secure=settings.auth.cookie_secure, httponly=False, samesite="strict")
    return response


def _cookie_refresh_token(call: Call) -> str:
    """The refresh cookie, only with a matching CSRF header (double submit)."""
    cookie = call.request.cookies.get(REFRESH_COOKIE)
    csrf_cookie = call.request.cookies.get(CSRF_COOKIE, "")
    csrf_header = call.request.headers.get(CSRF_HEADER, "")
    if not cookie:
        raise AuthenticationFailed("no session", code=Code.NO_SESSION)
    if not csrf_cookie or not hmac.compare_digest(csrf_cookie, csrf_header):
        raise AuthenticationFailed("CSRF token missing or wrong", code=Code.CSRF_FAILED)
    return cookie


def register(api: Api) -> None:
    @api.op("POST", "/api/v1/auth/token", summary="Sign in (API clients)", tag="auth",
            body=TokenRequest, response=TokenOut, auth=False, errors=(401, 429))
    async def token(call: Call) -> Any:
        session = await call.services.sessions.sign_in(
            call.body["username"], call.body["password"], client_address(call.request))
        return _token_body(call, session, with_refresh=True)

    @api.op("POST", "/api/v1/auth/refresh", summary="Rotate a refresh token", tag="auth",
            body=RefreshRequest, response=TokenOut, auth=False, errors=(401,))
    async def refresh(call: Call) -> Any:
        session = await call.services.sessions.refresh(call.body["refresh_token"])
        return _token_body(call, session, with_refresh=True)

    @api.op("POST", "/api/v1/auth/logout", summary="Revoke a refresh token", tag="auth",
            body=RefreshRequest, status=204, auth=False)
    async def logout(call: Call) -> Any:
        await call.services.sessions.sign_out(call.body["refresh_token"])
        return Response(status_code=204)

    @api.op("POST", "/api/v1/auth/session", summary="Sign in (web client, cookie session)",
            tag="auth", body=TokenRequest, response=TokenOut, auth=False, errors=(401, 429))
    async def session(call: Call) -> Any:
        signed_in = await call.services.sessions.sign_in(
            call.body["username"], call.body["password"], client_address(call.request))
        return _cookie_response(call, signed_in)

    @api.op("POST", "/api/v1/auth/session/refresh", summary="Refresh the web session",
            tag="auth", response=TokenOut, auth=False, errors=(401,))
    async def session_refresh(call: Call) -> Any:
        refreshed = await call.services.sessions.refresh(_cookie_refresh_token(call))
        return _cookie_response(call, refreshed)

    @api.op("POST", "/api/v1/auth/session/logout", summary="End the web session", tag="auth",
            status=204, auth=False, errors=(401,))
    async def session_logout(call: Call) -> Any:
        await call.services.sessions.sign_out(_cookie_refresh_token(call))
        response = Response(status_code=204)
        response.delete_cookie(REFRESH_COOKIE, path="/api/v1/auth")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response
