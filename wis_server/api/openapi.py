"""The OpenAPI 3.1 document, generated from the endpoint declarations."""

from __future__ import annotations

import re
from typing import Any

from .. import __version__
from ..domain.codes import MEANING, STREAM_ONLY, Code
from ..domain.events import kinds_markdown
from ..domain.text import string_pattern
from .endpoint import IDEMPOTENCY_KEY_PATTERN, MAX_PATH_INT, MAX_QUERY_INT, Api
from .schemas import Array, Nullable, Obj, Out, Schema
from .shapes import OUTPUTS

_PROBLEM_CODES = [c for c in Code if c not in STREAM_ONLY]
_PROBLEM = {
    "type": "object",
    "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                   "status": {"type": "integer"}, "detail": {"type": "string"},
                   "code": {"type": "string", "enum": [c.value for c in _PROBLEM_CODES],
                            "description": "stable machine-readable code (the registry in "
                            "wis_server/domain/codes.py); `detail` is English for "
                            "developers, clients show their own text per code:\n" + "\n".join(
                                f"- `{c.value}`: {MEANING[c]}" for c in _PROBLEM_CODES)},
                   "field": {"type": "string"}},
    "required": ["type", "title", "status", "detail", "code"],
}
_ERROR_TEXT = {400: "Bad request", 401: "Not signed in, or token invalid/expired",
               403: "Not allowed", 404: "Not found (also: not visible to you)",
               409: "Conflict", 413: "Body too large", 415: "Unsupported media type",
               422: "Invalid input", 429: "Throttled", 503: "Not ready"}


def _collect(schema: Schema | None, found: dict[str, Any]) -> None:
    if isinstance(schema, Obj):
        if schema.name not in found:
            found[schema.name] = schema.component()
            for inner in schema.fields.values():
                _collect(inner, found)
    elif isinstance(schema, Out):
        found.setdefault(schema.name, schema.component())
    elif isinstance(schema, Array):
        _collect(schema.items, found)
    elif isinstance(schema, Nullable):
        _collect(schema.inner, found)


def build_openapi(api: Api) -> dict[str, Any]:
    components: dict[str, Any] = {"Problem": _PROBLEM}
    for out in OUTPUTS:
        _collect(out, components)
    paths: dict[str, Any] = {}
    for op in api.operations:
        path = re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", op.path)
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 0, "maximum": MAX_PATH_INT}
             if conv == ":int" else {"type": "string"}}
            for name, conv in re.findall(r"\{(\w+)(:\w+)?\}", op.path)
        ]
        for q in op.query:
            schema: dict[str, Any] = {"type": "integer" if q.kind is int else "string"}
            if q.kind is int:
                if q.minimum is not None:
                    schema["minimum"] = q.minimum
                schema["maximum"] = q.maximum if q.maximum is not None else MAX_QUERY_INT
            else:
                schema["pattern"] = string_pattern(name=False, not_blank=False)
            if q.enum:
                schema["enum"] = list(q.enum)
            params.append({"name": q.name, "in": "query", "required": False,
                           "description": q.description, "schema": schema})
        if op.idempotent_post:
            params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                           "description": "retrying with the same key returns the first "
                                          "result and creates nothing new",
                           "schema": {"type": "string", "minLength": 1, "maxLength": 200,
                                      "pattern": IDEMPOTENCY_KEY_PATTERN}})
        responses: dict[str, Any] = {}
        _collect(op.response, components)
        if op.status == 204:
            responses["204"] = {"description": "Done"}
        else:
            content = ({op.media_type: {"schema": op.response.openapi()}}
                       if op.response is not None else {op.media_type: {}})
            responses[str(op.status)] = {"description": "OK", "content": content}
        codes = set(op.errors)
        if op.body is not None:
            codes |= {400, 413, 415, 422}
        if op.query:
            codes.add(422)
        if op.auth:
            codes.add(401)
        for code in sorted(codes):
            responses[str(code)] = {
                "description": _ERROR_TEXT.get(code, "Error"),
                "content": {"application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"}}}}
        operation: dict[str, Any] = {
            "summary": op.summary, "tags": [op.tag],
            "operationId": op.handler.__name__, "responses": responses,
        }
        if params:
            operation["parameters"] = params
        if op.body is not None:
            _collect(op.body, components)
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": op.body.openapi()}}}
        if op.auth:
            operation["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "WIS server API", "version": __version__,
                 "description": "Secure information sharing and situation pictures for crisis "
                                "collaboration. Errors are RFC 9457 problem+json with a stable "
                                "`code`. Classification values: public, sekretess, hemlig.\n\n"
                                "Real-time event kinds (websocket `event` frames, SSE and "
                                "long-poll items; see docs/realtime.md):\n\n"
                                + kinds_markdown()},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (ES256)"}}},
    }
