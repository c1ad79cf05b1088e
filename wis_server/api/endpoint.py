"""Declaring endpoints once: the route, its authentication, strict body and query parsing,
and its OpenAPI description all come from the same declaration."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..bootstrap import Services
from ..classification.crypto import DecryptionFailed
from ..domain.codes import Code
from ..domain.errors import (
    AuthenticationFailed,
    Forbidden,
    IntegrityFailure,
    NotFound,
    UnsupportedMediaType,
    ValidationFailed,
)
from ..domain.model import Principal
from ..services.directory import load_principal
from ..storage.database import is_dropped_connection
from .numbers import parse_digits
from .schemas import Obj, Schema
from .tokens import AccessClaims, check_session

MAX_QUERY_INT = 2**63 - 1  # the databases' BIGINT: anything larger cannot be compared
MAX_PATH_INT = 2**31 - 1  # path numbers (report versions) are 32-bit INTEGER columns
IDEMPOTENCY_KEY_PATTERN = "^[!-~]{1,200}$"  # published as is in the OpenAPI document
IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


class PageResponse(JSONResponse):
    """JSON for the hot read pages (a log page is ~50 KB): orjson writes the same bytes as
    Starlette's compact stdlib encoding for what these pages hold — str, int, bool, None,
    lists and str-keyed objects — at a tenth of the CPU. Anything orjson refuses is
    rendered the standard way."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:  # orjson.JSONEncodeError: e.g. an int past 64 bits
            return super().render(content)


@dataclass(frozen=True)
class Query:
    name: str
    kind: type = str
    description: str = ""
    minimum: int | None = None
    maximum: int | None = None
    enum: Sequence[str] = ()


@dataclass
class Call:
    """What a handler receives."""

    request: Request
    principal: Principal
    body: dict[str, Any]
    query: dict[str, Any]
    path: Mapping[str, str]

    @property
    def services(self) -> Services:
        services: Services = self.request.app.state.services
        return services

    @property
    def idempotency_key(self) -> str | None:
        key = self.request.headers.get("idempotency-key")
        if key is None:
            return None
        if not IDEMPOTENCY_KEY.fullmatch(key):
            raise ValidationFailed("Idempotency-Key must be 1-200 visible ASCII characters",
                                   code=Code.INVALID_IDEMPOTENCY_KEY, field="Idempotency-Key")
        return key


Handler = Callable[[Call], Awaitable[Any]]


@dataclass
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: Obj | None = None
    response: Schema | None = None
    status: int = 200
    query: Sequence[Query] = ()
    auth: bool = True
    idempotent_post: bool = False
    errors: Sequence[int] = field(default_factory=tuple)
    media_type: str = "application/json"  # of the success answer, as documented
    one_transaction: bool = False
    """The principal is loaded in the transaction the request opens, and the handler's use
    case continues in it (storage/unit.py `Store.request`): for hot paths whose handler
    starts with its use case's first transaction and does nothing slow before it."""


class Api:
    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def op(self, method: str, path: str, *, summary: str, tag: str, body: Obj | None = None,
           response: Schema | None = None, status: int = 200, query: Sequence[Query] = (),
           auth: bool = True, idempotent_post: bool = False, errors: Sequence[int] = (),
           media_type: str = "application/json", one_transaction: bool = False
           ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.operations.append(Operation(method, path, handler, summary, tag, body,
                                             response, status, query, auth, idempotent_post,
                                             errors, media_type, one_transaction))
            return handler
        return register

    def routes(self) -> list[Route]:
        by_path: dict[str, dict[str, Operation]] = {}
        for op in self.operations:
            if op.method in by_path.get(op.path, {}):  # two modules claiming one operation
                raise RuntimeError(f"{op.method} {op.path} is registered twice")
            by_path.setdefault(op.path, {})[op.method] = op
        return [Route(path, _dispatcher(ops), methods=list(ops)) for path, ops in by_path.items()]


def _dispatcher(ops: dict[str, Operation]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        op = ops[request.method if request.method != "HEAD" else "GET"]
        try:
            return await run(op, request)
        except Exception as error:
            # A pooled connection that died under the request (PostgreSQL restarted, a
            # backend terminated): run it once more on a fresh connection when doing so
            # cannot duplicate anything — a read, or a POST/PATCH under an Idempotency-Key.
            if not is_dropped_connection(error) or not (
                    op.method == "GET" or "idempotency-key" in request.headers):
                raise
        return await run(op, request)

    async def run(op: Operation, request: Request) -> Response:
        if op.one_transaction and op.auth:
            claims = verified_claims(request)
            if op.body is not None:
                await request.body()  # off the network before a transaction (and lock) opens
            store = request.app.state.store
            async with store.request(write=op.method != "GET") as tx:
                principal = admit(request, claims, await load_principal(tx, claims.user_id))
                return await handle(op, request, principal)
        return await handle(op, request, await authenticate(request) if op.auth else None)

    async def handle(op: Operation, request: Request, principal: Principal | None) -> Response:
        try:
            _check_path(request.path_params)
            body = await _read_body(request, op.body) if op.body is not None else {}
            query = _parse_query(request, op.query)
            call = Call(request, principal, body, query, request.path_params)  # type: ignore[arg-type]
            result = await op.handler(call)
        except (NotFound, Forbidden) as refusal:
            if principal is not None:  # probing by a signed-in user: audited, coalesced
                await request.app.state.services.audit.refused(
                    principal, method=op.method, route=op.path, status=refusal.status,
                    code=refusal.code)
            raise
        except DecryptionFailed:
            # Stored content that no longer authenticates (a tampered row) reached a path
            # that does not say which item: fail closed, on the trail, as a stable problem.
            await request.app.state.services.audit.integrity_failure(
                principal, method=op.method, route=op.path)
            raise IntegrityFailure("stored content failed its integrity check and is "
                                   "withheld") from None
        if isinstance(result, Response):
            return result
        return JSONResponse(result, status_code=op.status)

    return endpoint


async def authenticate(request: Request) -> Principal:
    claims = verified_claims(request)
    return admit(request, claims,
                 await request.app.state.services.directory.principal(claims.user_id))


def verified_claims(request: Request) -> AccessClaims:
    """The bearer token's claims, checked without the database."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("missing bearer token", code=Code.TOKEN_MISSING)
    claims: AccessClaims = request.app.state.tokens.verify(token.strip())
    return claims


def admit(request: Request, claims: AccessClaims, principal: Principal | None) -> Principal:
    """The token's user, if still active and still in the session the token belongs to."""
    if principal is None or not principal.active:
        raise AuthenticationFailed("account disabled or removed", code=Code.ACCOUNT_INACTIVE)
    check_session(claims, principal)
    request.state.user_id = principal.user_id
    request.state.actor_id = principal.actor_id
    return principal


async def _read_body(request: Request, schema: Obj) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/json", "application/merge-patch+json"):
        raise UnsupportedMediaType("send the body as application/json")
    raw = await request.body()
    try:
        doc = json.loads(raw, object_pairs_hook=_no_duplicate_keys)
        # Lone surrogates (`"\\ud800"`) parse but cannot be stored or echoed as UTF-8.
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except DuplicateKey as error:
        raise ValidationFailed(f"field {error.args[0]!r} appears twice in the body",
                               code=Code.DUPLICATE_FIELD, field=str(error.args[0])) from None
    except (ValueError, UnicodeError, RecursionError):
        raise ValidationFailed("the body is not valid JSON (or is nested too deeply)",
                               code=Code.MALFORMED_JSON) from None
    return schema.validate(doc)


class DuplicateKey(Exception):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`{"audience": [...], "audience": null}` must not be resolved silently by last-wins."""
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise DuplicateKey(key)
        doc[key] = value
    return doc


def _check_path(params: Mapping[str, Any]) -> None:
    """Path ids the database cannot hold (NUL, huge numbers) name nothing: 404, not 500."""
    for value in params.values():
        if isinstance(value, int) and not 0 <= value <= MAX_PATH_INT:
            raise NotFound("no such resource")
        if isinstance(value, str) and ("\x00" in value or len(value) > 200):
            raise NotFound("no such resource")


def _parse_query(request: Request, spec: Sequence[Query]) -> dict[str, Any]:
    known = {q.name: q for q in spec}
    for name in request.query_params:
        if name not in known:
            raise ValidationFailed(f"unknown query parameter {name!r}", code=Code.UNKNOWN_PARAMETER,
                                   field=name)
    result: dict[str, Any] = {}
    for q in spec:
        raw = request.query_params.get(q.name)
        if raw is None:
            continue
        if q.kind is int:
            value: Any = parse_digits(raw)
            if value is None:
                raise ValidationFailed(f"{q.name} must be a whole number in plain digits",
                                       code=Code.WRONG_TYPE, field=q.name)
            if (q.minimum is not None and value < q.minimum) or value > (
                    q.maximum if q.maximum is not None else MAX_QUERY_INT):
                raise ValidationFailed(f"{q.name} is out of range", code=Code.OUT_OF_RANGE,
                                       field=q.name)
        else:
            value = raw
            if "\x00" in value:
                raise ValidationFailed(f"{q.name} must not contain NUL characters",
                                       code=Code.INVALID_FIELD, field=q.name)
            if q.enum and value not in q.enum:
                raise ValidationFailed(f"{q.name} must be one of {', '.join(q.enum)}",
                                       code=Code.UNKNOWN_VALUE, field=q.name)
        result[q.name] = value
    return result
