"""Simulated phone providers for the tests: a TwiML one (Twilio's shapes) and a 46elks one,
each an HTTP server for the call-creation API and a runner of call scripts that drives our
webhooks exactly as the provider would, signing (TwiML) or keying (46elks) every request.

  TwimlProvider  POST /2010-04-01/Accounts/<sid>/Calls.json  Basic auth (sid, token); To,
      From, Url, StatusCallback, MachineDetection, Timeout → 201 {"sid": "CA…"}.
      Webhooks: form POSTs with CallSid, AccountSid, From, To, Direction, CallStatus
      (+ AnsweredBy with machine detection, Digits after <Gather>, conference callbacks with
      StatusCallbackEvent, ConferenceSid, FriendlyName), X-Twilio-Signature = base64
      HMAC-SHA1(token, URL + sorted params) computed here independently of the server.
      Documents: <Say>, <Gather> (digits POSTed to action; no input falls through to the
      next verb), <Redirect>, <Dial><Conference>, <Hangup>; the end of a document hangs up.
  ElksProvider   POST /a1/calls  Basic auth; from, to, voice_start, whenhangup, timeout →
      200 {"id": "c…", "state": "ongoing"}.  Webhooks: form POSTs (callid, from, to,
      direction, created; `result` after an ivr; whenhangup: id, state, start, duration).
      Actions: play (the audio URL is fetched and must be WAV), ivr (audio, digits → next
      with result; no input → next without result), connect, hangup; a chain ends the call.

A script is what the person at the other end does, in order, at each prompt: digits ("4711#"),
SILENT (waits out the prompt), or HANG_UP. Outcomes `ANSWER` / `NO_ANSWER` / `VOICEMAIL` say
how a dialled-out call is picked up.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.peers.sms_gateway import serve_app, stop_app

SILENT = "<silent>"
HANG_UP = "<hang up>"
ANSWER, NO_ANSWER, VOICEMAIL = "answer", "no-answer", "voicemail"
MAX_STEPS = 40  # documents per call: a loop in the IVR ends the call, it does not hang


@dataclass
class CallLog:
    """What happened on one call, as the far end experienced it."""

    call_id: str
    caller: str
    line: str
    inputs: list[str]
    said: list[str] = field(default_factory=list)
    conference: str | None = None  # the room (TwiML) or bridge (46elks) it was put into
    requests: int = 0
    statuses: list[int] = field(default_factory=list)
    ended: bool = False
    error: str | None = None

    def next_input(self) -> str:
        return self.inputs.pop(0) if self.inputs else HANG_UP


def twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
                            ).decode()


class _Peer:
    def __init__(self, webhooks: httpx.AsyncClient, user: str, password: str) -> None:
        self.webhooks = webhooks  # reaches our server (ASGI transport, absolute public URLs)
        self.user, self.password = user, password
        self.port = 0
        self._server = None
        self._task: asyncio.Task[None] | None = None
        self.calls: list[CallLog] = []
        self.dialled: list[dict[str, str]] = []  # every accepted call-creation form
        self.callees: dict[str, tuple[str, list[str]]] = {}  # number → (outcome, inputs)
        self._running: set[asyncio.Task[None]] = set()
        self.app = Starlette(routes=self.routes())

    def routes(self) -> list[Route]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def callee(self, number: str, outcome: str, *inputs: str) -> None:
        self.callees[number] = (outcome, list(inputs))

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return header.startswith("Basic ") and secrets.compare_digest(user, self.user) and \
            secrets.compare_digest(password, self.password)

    def _spawn(self, coroutine: object) -> None:
        task = asyncio.ensure_future(coroutine)  # type: ignore[arg-type]
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def settle(self, within_s: float = 30.0) -> None:
        """Wait until every dialled-out call has played out (bounded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while self._running:
            if loop.time() > deadline:
                raise TimeoutError("calls still running")
            await asyncio.wait(set(self._running), timeout=max(0.01, deadline - loop.time()))

    async def __aenter__(self) -> _Peer:
        await serve_app(self)  # type: ignore[arg-type]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.settle()
        await stop_app(self)  # type: ignore[arg-type]


# --- TwiML ---------------------------------------------------------------------------------

class TwimlProvider(_Peer):
    def __init__(self, webhooks: httpx.AsyncClient, public_url: str, *,
                 sid: str = "AC0123456789abcdef0123456789abcdef",
                 token: str = "twilio-auth-token-for-tests") -> None:
        self.public_url = public_url.rstrip("/")
        super().__init__(webhooks, sid, token)

    def routes(self) -> list[Route]:
        return [Route("/2010-04-01/Accounts/{sid}/Calls.json", self._create, methods=["POST"])]

    async def post(self, url: str, params: dict[str, str], log: CallLog,
                   token: str | None = None) -> httpx.Response:
        """A signed webhook, exactly as the provider sends it."""
        log.requests += 1
        signature = twilio_signature(token or self.password, url, params)
        response = await self.webhooks.post(url, data=params,
                                            headers={"X-Twilio-Signature": signature})
        log.statuses.append(response.status_code)
        return response

    def voice_url(self, hook: str = "voice") -> str:
        return f"{self.public_url}/api/v1/channels/phone/twiml/{hook}"

    async def inbound(self, caller: str, line: str, *inputs: str) -> CallLog:
        """Someone dials `line` and does `inputs` at the prompts."""
        log = CallLog("CA" + secrets.token_hex(16), caller, line, list(inputs))
        self.calls.append(log)
        base = {"CallSid": log.call_id, "AccountSid": self.user, "From": caller,
                "To": line, "Caller": caller, "Called": line, "Direction": "inbound"}
        await self._play(log, base, self.voice_url(), {"CallStatus": "ringing"})
        return log

    async def _create(self, request: Request) -> Response:
        if request.path_params["sid"] != self.user or not self._authorised(request):
            return JSONResponse({"code": 20003, "message": "Authenticate"}, status_code=401)
        form = dict(parse_qsl((await request.body()).decode()))
        if not all(form.get(k) for k in ("To", "From", "Url")):
            return JSONResponse({"code": 21201, "message": "missing"}, status_code=400)
        self.dialled.append(form)
        sid = "CA" + secrets.token_hex(16)
        self._spawn(self._outbound(sid, form))
        return JSONResponse({"sid": sid, "status": "queued", "to": form["To"],
                             "from": form["From"]}, status_code=201)

    async def _outbound(self, sid: str, form: dict[str, str]) -> None:
        outcome, inputs = self.callees.get(form["To"], (NO_ANSWER, []))
        log = CallLog(sid, form["To"], form["From"], list(inputs))
        self.calls.append(log)
        base = {"CallSid": sid, "AccountSid": self.user, "From": form["From"],
                "To": form["To"], "Direction": "outbound-api"}
        status_url = form.get("StatusCallback")
        try:
            if outcome == NO_ANSWER:
                if status_url:
                    await self.post(status_url, {**base, "CallStatus": "no-answer",
                                                 "CallDuration": "0"}, log)
                return
            answered_by = "machine_end_beep" if outcome == VOICEMAIL else "human" \
                if form.get("MachineDetection") else None
            extra = {"CallStatus": "in-progress"}
            if answered_by:
                extra["AnsweredBy"] = answered_by
            await self._play(log, base, form["Url"], extra)
            if status_url:
                final = {**base, "CallStatus": "completed", "CallDuration": "20"}
                if answered_by:
                    final["AnsweredBy"] = answered_by
                await self.post(status_url, final, log)
        except Exception as error:  # recorded for the test to see, never swallowed silently
            log.error = repr(error)

    async def _play(self, log: CallLog, base: dict[str, str], url: str,
                    extra: dict[str, str]) -> None:
        response = await self.post(url, {**base, **extra}, log)
        for _ in range(MAX_STEPS):
            if response.status_code != 200:
                log.ended = True
                return
            nxt = await self._document(log, base, response.text)
            if nxt is None:
                log.ended = True
                return
            response = nxt
        log.error = "too many documents"

    async def _document(self, log: CallLog, base: dict[str, str], text: str
                        ) -> httpx.Response | None:
        root = ET.fromstring(text)
        assert root.tag == "Response", text
        params = {**base, "CallStatus": "in-progress"}
        for verb in root:
            if verb.tag == "Say":
                assert verb.get("language") == "sv-SE"
                log.said.append(verb.text or "")
            elif verb.tag == "Gather":
                for say in verb.findall("Say"):
                    log.said.append(say.text or "")
                pressed = log.next_input()
                if pressed == HANG_UP:
                    return None
                if pressed != SILENT:  # no input falls through to the next verb
                    return await self.post(verb.get("action") or "", {
                        **params, "Digits": pressed.rstrip("#")}, log)
            elif verb.tag == "Redirect":
                return await self.post(verb.text or "", params, log)
            elif verb.tag == "Dial":
                conference = verb.find("Conference")
                assert conference is not None
                log.conference = conference.text
                callback = conference.get("statusCallback")
                event = {**params, "ConferenceSid": "CF" + secrets.token_hex(16),
                         "FriendlyName": conference.text or ""}
                if callback:
                    await self.post(callback, {**event,
                                               "StatusCallbackEvent": "participant-join"}, log)
                log.next_input()  # talks until the script's next step: then leaves
                if callback:
                    await self.post(callback, {**event,
                                               "StatusCallbackEvent": "participant-leave"}, log)
                return None
            elif verb.tag == "Hangup":
                return None
        return None


# --- 46elks --------------------------------------------------------------------------------

class ElksProvider(_Peer):
    def __init__(self, webhooks: httpx.AsyncClient, public_url: str, key: str, *,
                 clip_text: Callable[[str], str | None], user: str = "u0123456789abcdef",
                 password: str = "elks-API-password-0") -> None:
        self.public_url = public_url.rstrip("/")
        self.key = key
        self.clip_text = clip_text  # what the server rendered behind an audio URL
        super().__init__(webhooks, user, password)

    def routes(self) -> list[Route]:
        return [Route("/a1/calls", self._create, methods=["POST"])]

    def number_url(self, hook: str) -> str:
        """What the number is configured with (voice_start / whenhangup) in the dashboard."""
        return f"{self.public_url}/api/v1/channels/phone/46elks/{hook}?key={self.key}"

    async def post(self, url: str, form: dict[str, str], log: CallLog) -> httpx.Response:
        log.requests += 1
        response = await self.webhooks.post(url, data=form)
        log.statuses.append(response.status_code)
        return response

    async def inbound(self, caller: str, line: str, *inputs: str) -> CallLog:
        log = CallLog("c" + secrets.token_hex(16), caller, line, list(inputs))
        self.calls.append(log)
        base = {"callid": log.call_id, "from": caller, "to": line, "direction": "incoming",
                "created": "2026-12-02T05:00:00.000000"}
        await self._play(log, base, self.number_url("voice"))
        await self.post(self.number_url("status"), {**self._hangup(base), "state": "success"},
                        log)
        return log

    @staticmethod
    def _hangup(base: dict[str, str]) -> dict[str, str]:
        return {"id": base["callid"], "direction": base["direction"], "from": base["from"],
                "to": base["to"], "created": base["created"], "start": base["created"],
                "duration": "20", "actions": "[]", "cost": "0"}

    async def _create(self, request: Request) -> Response:
        if not self._authorised(request):
            return PlainTextResponse("Unauthorized", status_code=401)
        form = dict(parse_qsl((await request.body()).decode()))
        if not all(form.get(k) for k in ("from", "to", "voice_start")):
            return PlainTextResponse("Missing key", status_code=400)
        self.dialled.append(form)
        call_id = "c" + secrets.token_hex(16)
        self._spawn(self._outbound(call_id, form))
        return JSONResponse({"id": call_id, "state": "ongoing", "direction": "outgoing",
                             "from": form["from"], "to": form["to"]})

    async def _outbound(self, call_id: str, form: dict[str, str]) -> None:
        outcome, inputs = self.callees.get(form["to"], (NO_ANSWER, []))
        if outcome == VOICEMAIL:
            inputs = [SILENT] * 5  # a machine listens and never presses a key
        log = CallLog(call_id, form["to"], form["from"], list(inputs))
        self.calls.append(log)
        base = {"callid": call_id, "from": form["from"], "to": form["to"],
                "direction": "outgoing", "created": "2026-12-02T05:00:00.000000"}
        try:
            if outcome != NO_ANSWER:
                await self._play(log, base, form["voice_start"])
            if form.get("whenhangup"):
                await self.post(form["whenhangup"], {
                    **self._hangup(base), "state": "failed" if outcome == NO_ANSWER
                    else "success"}, log)
        except Exception as error:
            log.error = repr(error)

    async def _audio(self, log: CallLog, url: str) -> None:
        response = await self.webhooks.get(url)
        assert response.status_code == 200 and response.content.startswith(b"RIFF"), url
        assert response.headers["content-type"].startswith("audio/wav")
        token = url.rsplit("/", 1)[1].removesuffix(".wav")
        log.said.append(self.clip_text(token) or "<unknown clip>")

    async def _play(self, log: CallLog, base: dict[str, str], url: str) -> None:
        response = await self.post(url, base, log)
        for _ in range(MAX_STEPS):
            if response.status_code != 200:
                log.ended = True
                return
            action: object = json.loads(response.text)
            nxt: httpx.Response | None = None
            while isinstance(action, dict):
                if "play" in action:
                    await self._audio(log, str(action["play"]))
                elif "ivr" in action:
                    await self._audio(log, str(action["ivr"]))
                    pressed = log.next_input()
                    if pressed == HANG_UP:
                        break
                    form = dict(base)
                    if pressed != SILENT:
                        form["result"] = pressed.rstrip("#")
                    nxt = await self.post(str(action["next"]), form, log)
                    break
                elif "connect" in action:
                    log.conference = str(action["connect"])
                    log.next_input()  # talks until the script's next step
                    break
                elif "hangup" in action:
                    break
                follow = action.get("next")
                if isinstance(follow, str):
                    nxt = await self.post(follow, base, log)
                    break
                action = follow
            if nxt is None:
                log.ended = True
                return
            response = nxt
        log.error = "too many documents"
