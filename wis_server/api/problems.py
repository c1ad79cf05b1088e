"""RFC 9457 problem+json: the one mapping from errors to HTTP responses."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.codes import Code
from ..domain.errors import TooManyAttempts, WisError

PROBLEM_BASE = "https://wis-server.example/problems/"
_TITLES = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 409: "Conflict", 410: "Gone", 413: "Payload too large",
    415: "Unsupported media type", 422: "Unprocessable content", 429: "Too many requests",
    500: "Internal server error", 503: "Service unavailable",
}


class ProblemResponse(JSONResponse):
    media_type = "application/problem+json"


def problem(status: int, code: Code, detail: str, *, field: str | None = None,
            headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code, "title": _TITLES.get(status, "Error"), "status": status,
        "detail": detail, "code": code,
    }
    if field:
        body["field"] = field
    return ProblemResponse(body, status_code=status, headers=headers)


async def wis_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WisError)
    headers = None
    if isinstance(exc, TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after)}
    if exc.status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="wis"'}
    return problem(exc.status, exc.code, exc.message, field=exc.field, headers=headers)


_HTTP_CODES = {404: Code.NOT_FOUND, 405: Code.METHOD_NOT_ALLOWED, 400: Code.BAD_REQUEST,
               413: Code.BODY_TOO_LARGE}


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, Code.HTTP_ERROR)
    detail = exc.detail if exc.status_code != 404 else "no such resource"
    return problem(exc.status_code, code, str(detail),
                   headers=dict(exc.headers) if exc.headers else None)
