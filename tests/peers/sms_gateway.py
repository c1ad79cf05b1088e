"""A local SMS gateway that follows 46elks' published API, for the tests and the benchmark.

  POST /a1/sms  (form: from, to, message; optional whendelivered, dontlog, flashsms, dryrun)
      Basic auth checked; from = E.164 or a 3-11 character text sender id; to = E.164;
      200 + JSON {"id": "s…", "status": "created", "direction": "outgoing", "from", "to",
      "created", "parts", "cost", "message" (left out with dontlog=message)}; errors are
      text/plain 4xx as the provider's are (401 for bad credentials).
  report(sms_id, status)  POSTs a delivery report (id, status[, delivered]) form-encoded to the
      message's whendelivered URL, exactly as the provider does.
  reply(url, from, to, message)  POSTs an inbound SMS (id, from, to, message, direction,
      created) to a webhook, as the provider does for a reply.

It runs in the test's event loop (uvicorn on a socket bound to 127.0.0.1:0), records every
request body byte for scans, and can be told to fail the next requests with a status.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import secrets
import socket
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SENDER_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,10}$")
# GSM 03.38, written out independently of wis_server.channels.render (a cross-check).
_GSM = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
           "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM_EXT = set("^{}\\[~]|€\f")
_FIELDS = {"from", "to", "message", "whendelivered", "dontlog", "flashsms", "dryrun"}
COST_PER_PART = 3500  # 0.35 SEK, in the provider's 1/10000 units


def parts_of(text: str) -> int:
    if all(ch in _GSM or ch in _GSM_EXT for ch in text):
        units = sum(2 if ch in _GSM_EXT else 1 for ch in text)
        single, multi = 160, 153
    else:
        units = len(text.encode("utf-16-be")) // 2
        single, multi = 70, 67
    return 1 if units <= single else -(-units // multi)


@dataclass
class SentSms:
    id: str
    sender: str
    to: str
    message: str
    whendelivered: str | None
    dontlog: bool
    parts: int
    raw: bytes
    status: str = "created"


class SmsGateway:
    def __init__(self, user: str = "elk-user", password: str = "elk-Hunter2-pw") -> None:
        self.user, self.password = user, password
        self.sent: list[SentSms] = []
        self.requests: list[bytes] = []  # every body received, accepted or not
        self._failures: deque[int] = deque()
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._client = httpx.AsyncClient(timeout=20)
        self.app = Starlette(routes=[Route("/a1/sms", self._send, methods=["POST"]),
                                     Route("/a1/SMS", self._send, methods=["POST"])])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, *statuses: int) -> None:
        self._failures.extend(statuses)

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.user) and \
            secrets.compare_digest(password, self.password)

    async def _send(self, request: Request) -> Response:
        raw = await request.body()
        self.requests.append(raw)
        if self._failures:
            status = self._failures.popleft()
            return PlainTextResponse("Temporary failure" if status >= 500 else "Error",
                                     status_code=status)
        if not self._authorised(request):
            return PlainTextResponse("Unauthorized", status_code=401)
        if not request.headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"):
            return PlainTextResponse("Content-Type must be form-encoded", status_code=400)
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return PlainTextResponse("Malformed body", status_code=400)
        form = dict(pairs)
        for name in ("from", "to", "message"):
            if not form.get(name):
                return PlainTextResponse(f"Missing key {name}", status_code=400)
        unknown = set(form) - _FIELDS
        if unknown:
            return PlainTextResponse(f"Unknown key {sorted(unknown)[0]}", status_code=400)
        if not (_E164.match(form["from"]) or _SENDER_ID.match(form["from"])):
            return PlainTextResponse("Invalid sender", status_code=400)
        if not _E164.match(form["to"]):
            return PlainTextResponse("Invalid to number", status_code=400)
        hook = form.get("whendelivered")
        if hook is not None and urlsplit(hook).scheme not in ("http", "https"):
            return PlainTextResponse("Invalid whendelivered url", status_code=400)
        if form.get("dontlog") not in (None, "message"):
            return PlainTextResponse("Invalid dontlog", status_code=400)
        parts = parts_of(form["message"])
        sms = SentSms("s" + secrets.token_hex(16), form["from"], form["to"], form["message"],
                      hook, form.get("dontlog") == "message", parts, raw)
        self.sent.append(sms)
        body = {"status": "created", "direction": "outgoing", "from": sms.sender, "to": sms.to,
                "created": datetime.now(UTC).replace(tzinfo=None).isoformat(),
                "parts": parts, "cost": COST_PER_PART * parts, "id": sms.id}
        if not sms.dontlog:
            body["message"] = sms.message
        return JSONResponse(body)

    async def report(self, sms_id: str, status: str) -> httpx.Response:
        """POST a delivery report for `sms_id` to its whendelivered URL."""
        sms = next(s for s in self.sent if s.id == sms_id)
        assert sms.whendelivered, "the message asked for no delivery report"
        form = {"id": sms.id, "status": status}
        if status == "delivered":
            form["delivered"] = datetime.now(UTC).replace(tzinfo=None).isoformat()
        sms.status = status
        return await self._client.post(sms.whendelivered, data=form)

    async def reply(self, url: str, sender: str, to: str, message: str) -> httpx.Response:
        """POST an inbound SMS to `url`, as the provider does when someone answers."""
        form = {"direction": "incoming", "id": "s" + secrets.token_hex(16), "from": sender,
                "to": to, "created": datetime.now(UTC).replace(tzinfo=None).isoformat(),
                "message": message}
        return await self._client.post(url, data=form)

    async def __aenter__(self) -> SmsGateway:
        await serve_app(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await stop_app(self)


async def serve_app(peer: SmsGateway | WebhookReceiver) -> None:
    """Serve `peer.app` with uvicorn on a socket already bound to 127.0.0.1:0."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    peer.port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(peer.app, log_level="warning", lifespan="off"))
    peer._server = server
    peer._task = asyncio.create_task(server.serve(sockets=[sock]))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not server.started:  # a condition, bounded in time
        if peer._task.done() or loop.time() > deadline:
            raise RuntimeError("peer did not start")
        await asyncio.sleep(0.01)


async def stop_app(peer: SmsGateway | WebhookReceiver) -> None:
    assert peer._server is not None and peer._task is not None
    peer._server.should_exit = True
    await asyncio.wait_for(peer._task, 30)


class WebhookReceiver:
    """Stands in for our server's webhook routes (built by the notices/call-out work): records
    each POST (path, query, form) and answers 204 with an empty body, as those routes must."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.app = Starlette(routes=[Route("/{path:path}", self._record, methods=["POST"])])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _record(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        self.posts.append((request.url.path, dict(request.query_params), form))
        return Response(status_code=204)

    async def __aenter__(self) -> WebhookReceiver:
        await serve_app(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await stop_app(self)
