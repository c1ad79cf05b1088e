"""Phone conferences: booking from a space, and the providers' call webhooks.

`POST /api/v1/spaces/{id}/conferences`  book a line + PIN (the space's editors)
`GET  /api/v1/spaces/{id}/conferences`  the space's conferences, who joined when, how long
`GET  /api/v1/conferences/{id}` · `POST /api/v1/conferences/{id}/end`
`POST /api/v1/channels/phone/{provider}/{voice|gather|status}`  the provider's webhooks,
      each authenticated as that provider does it: TwiML by `X-Twilio-Signature` over our
      public URL + the sorted form parameters; 46elks (unsigned) by `?key=` or Basic auth
      with WIS_PHONE_WEBHOOK_SECRET. A failure is a 403 problem (`phone_signature_invalid`),
      logged with the provider and hook only.
`GET  /api/v1/channels/phone/46elks/audio/{token}.wav`  an espeak-ng clip (short-lived)
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any
from urllib.parse import parse_qsl

import structlog
from starlette.requests import Request
from starlette.responses import Response

from ...channels.phone import signature
from ...channels.phone.script import render_twiml
from ...channels.phone.settings import Provider
from ...channels.phone.urls import HOOKS, PREFIX
from ...channels.phone.webhooks import parse_elks, parse_twiml
from ...channels.sms_webhooks import WebhookError
from ...domain.codes import Code
from ...domain.conferences import Booking
from ...domain.errors import Forbidden, NotFound, ValidationFailed
from ...services.phone import PhoneCalls
from ..endpoint import Api, Call, Query
from ..schemas import Out
from ..shapes import items_of
from ..views import ts

log = structlog.get_logger("wis.phone")
MAX_FORM_BYTES = 16_384

_S = {"type": "string"}
_NS = {"type": ["string", "null"]}
ConferenceOut = Out("PhoneConference", {"type": "object", "properties": {
    "id": _S, "space_id": _S, "owner_actor_id": _S,
    "status": {"type": "string", "enum": ["active", "ended"]},
    "dial_in": _S, "pin": _S, "booked_at": _S, "ended_at": _NS,
    "booked_by": {"type": "object", "properties": {"id": _S, "display_name": _S}},
    "participants": {"type": "array", "items": {"type": "object", "properties": {
        "id": _S, "caller": _S, "actor_id": _NS, "joined_at": _S, "left_at": _NS,
        "duration_s": {"type": ["integer", "null"]}}}}}})

WEBHOOK_QUERY = (
    Query("delivery", str, "our delivery id (a call-out's dial-out)"),
    Query("step", str, "where the IVR is", enum=("menu", "code", "report", "callout")),
    Query("tries", int, "wrong or empty inputs so far", minimum=0, maximum=9),
    Query("conference", str, "the conference whose events these are"),
    Query("key", str, "46elks: the webhook secret (46elks does not sign)"),
)


def conference_view(b: Booking) -> dict[str, Any]:
    return {
        "id": b.id, "space_id": b.space_id, "owner_actor_id": b.owner_actor_id,
        "status": b.status.value, "dial_in": b.number, "pin": b.pin,
        "booked_at": ts(b.booked_at), "ended_at": ts(b.ended_at),
        "booked_by": {"id": b.booked_by, "display_name": b.booked_by_name},
        "participants": [{"id": p.id, "caller": p.caller, "actor_id": p.actor_id,
                          "joined_at": ts(p.joined_at), "left_at": ts(p.left_at),
                          "duration_s": p.duration_s} for p in b.participants],
    }


def _phone(request: Request, provider: Provider) -> PhoneCalls:
    phone: PhoneCalls | None = request.app.state.services.phone
    if phone is None or phone.settings.provider is not provider:
        raise NotFound("no such resource")
    return phone


def _basic_password(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return ""
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[2]


def authentic(phone: PhoneCalls, request: Request, pairs: list[tuple[str, str]]) -> bool:
    """TwiML: the signature over the URL the provider called (our public URL, this path and
    query) and the sorted form. 46elks: the secret as `?key=` or as the Basic password."""
    settings = phone.settings
    if settings.provider is Provider.TWIML:
        query = request.url.query
        url = settings.public_url + request.url.path + (f"?{query}" if query else "")
        return signature.valid(settings.password.reveal(), url, pairs,
                               request.headers.get(signature.HEADER))
    expected = settings.webhook_secret.reveal().encode()
    given = [request.query_params.get("key", ""), _basic_password(request)]
    return bool(expected) and any(
        hmac.compare_digest(g.encode(), expected) for g in given if g)


async def _webhook(call: Call, provider: Provider, hook: str) -> Response:
    request = call.request
    phone = _phone(request, provider)
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise ValidationFailed("the webhook body is too large", code=Code.MALFORMED_FORM)
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=80)
    except (UnicodeDecodeError, ValueError):
        raise ValidationFailed("send the webhook form-encoded", code=Code.MALFORMED_FORM) \
            from None
    if not authentic(phone, request, pairs):
        log.warning("phone webhook refused", provider=provider.value, hook=hook)
        raise Forbidden("the webhook's signature is not valid for this URL and body",
                        code=Code.PHONE_SIGNATURE_INVALID)
    form = dict(pairs)
    try:
        event = parse_twiml(form) if provider is Provider.TWIML else \
            parse_elks(form, hangup=hook == "status")
    except WebhookError as error:
        raise ValidationFailed(str(error), code=error.code) from None
    query = {k: str(v) for k, v in call.query.items()}
    script = await phone.handle(hook, event, query)
    log.info("phone webhook", provider=provider.value, hook=hook,
             step=query.get("step"), answered=script is not None)
    if script is None:
        if provider is Provider.TWIML:
            return Response(render_twiml(()), media_type="application/xml")
        return Response(status_code=204)
    answer = await phone.render(script)
    return Response(answer.body, media_type=answer.media_type)


def _register_webhook(api: Api, provider: Provider, hook: str) -> None:
    what = {"voice": "answers a call (inbound, or a call-out's dial-out)",
            "gather": "the digits a caller pressed", "status": "a call's end or a conference "
            "participant's join/leave"}[hook]
    media = "application/xml" if provider is Provider.TWIML else "application/json"

    async def webhook(call: Call) -> Any:
        return await _webhook(call, provider, hook)

    webhook.__name__ = f"phone_{provider.name.lower()}_{hook}"
    api.op("POST", f"{PREFIX}/{provider.value}/{hook}",
           summary=f"Phone provider webhook ({provider.value}): {what}", tag="channels",
           auth=False, query=WEBHOOK_QUERY, media_type=media,
           errors=(403, 404, 422))(webhook)


def register(api: Api) -> None:
    for provider in Provider:
        for hook in HOOKS:
            _register_webhook(api, provider, hook)

    @api.op("GET", PREFIX + "/46elks/audio/{clip}", summary="A spoken text for 46elks "
            "(espeak-ng WAV under a short-lived unguessable token, `<token>.wav`)",
            tag="channels", auth=False, media_type="audio/wav", errors=(404,))
    async def phone_audio(call: Call) -> Any:
        phone = _phone(call.request, Provider.ELKS)
        clip = call.path["clip"]
        audio = phone.clips.audio(clip.removesuffix(".wav")) if phone.clips and \
            clip.endswith(".wav") else None
        if audio is None:
            raise NotFound("no such clip")
        return Response(audio, media_type="audio/wav", headers={"cache-control": "no-store"})

    @api.op("POST", "/api/v1/spaces/{space_id}/conferences", summary="Book a phone "
            "conference for the space: a free dial-in line (one of WIS_PHONE_NUMBERS) and a "
            "fresh PIN (the space's editors)", tag="conferences", response=ConferenceOut,
            status=201, errors=(403, 404, 409))
    async def book_conference(call: Call) -> Any:
        return conference_view(await call.services.conferences.book(
            call.principal, call.path["space_id"]))

    @api.op("GET", "/api/v1/spaces/{space_id}/conferences", summary="The space's phone "
            "conferences (newest first): line, PIN, who joined when and for how long",
            tag="conferences", response=items_of(ConferenceOut, "PhoneConferencePage"),
            errors=(404,))
    async def list_conferences(call: Call) -> Any:
        found = await call.services.conferences.for_space(call.principal,
                                                          call.path["space_id"])
        return {"items": [conference_view(b) for b in found]}

    @api.op("GET", "/api/v1/conferences/{conference_id}", summary="A phone conference",
            tag="conferences", response=ConferenceOut, errors=(404,))
    async def get_conference(call: Call) -> Any:
        return conference_view(await call.services.conferences.get(
            call.principal, call.path["conference_id"]))

    @api.op("POST", "/api/v1/conferences/{conference_id}/end", summary="End a phone "
            "conference: its line is free again (the space's editors; idempotent)",
            tag="conferences", response=ConferenceOut, errors=(403, 404))
    async def end_conference(call: Call) -> Any:
        return conference_view(await call.services.conferences.end(
            call.principal, call.path["conference_id"]))
