"""Routes outside the JSON API: the signed link's acknowledgement page and the inbound SMS
webhook.

`GET /k/<token>`  a phone-friendly page (Swedish, or English by Accept-Language / ?lang=en)
                  with a button; it acknowledges NOTHING (link scanners open links).
`POST /k/<token>` the button: acknowledges (or declines) that contact point, once.
`POST /api/v1/channels/sms/inbound/<secret>`  46elks-style form fields `from`, `to`,
                  `message`; the secret is compared in constant time with
                  WIS_SMS_WEBHOOK_SECRET (wrong: a plain 404 problem).
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qs

import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ...channels.sms_webhooks import WebhookError, parse_inbound, parse_reply, secret_matches
from ...config import Settings
from ...domain.callouts import Answer
from ...domain.codes import Code
from ...domain.errors import NotFound, ValidationFailed, WisError
from ...domain.levels import Classification
from ...services.callouts import LinkPage
from ..endpoint import Api, Call, Query

log = structlog.get_logger("wis.callouts")
MAX_FORM_BYTES = 8192
LANG = Query("lang", str, "sv (default, or by Accept-Language) or en", enum=("sv", "en"))

_TEXT = {
    "sv": {
        "title": "Aktivering", "exercise": "ÖVNING", "from": "Aktivering från",
        "conference": "Samverkanskonferens", "start": "Start", "dial_in": "Ring",
        "pin": "PIN", "classified": "Innehållet är skyddat ({level}). Logga in i WIS för "
        "att läsa det.", "ack": "Kvittera – jag deltar", "decline": "Kan inte delta",
        "acknowledged": "Kvitterad", "declined": "Avböjd", "deadline": "Svara senast",
        "done_ack": "Tack! Din aktör är kvitterad.", "done_decline": "Noterat: kan inte delta.",
        "already": "Redan besvarad.", "other": "In English", "other_lang": "en",
        "invalid": "Länken är ogiltig.", "expired": "Länken har gått ut.",
        "closed": "Aktiveringen är avslutad.", "lang": "sv",
    },
    "en": {
        "title": "Call-out", "exercise": "EXERCISE (ÖVNING)", "from": "Call-out from",
        "conference": "Collaboration conference", "start": "Start", "dial_in": "Dial",
        "pin": "PIN", "classified": "The content is protected ({level}). Sign in to WIS "
        "to read it.", "ack": "Acknowledge – I will take part", "decline": "Cannot take part",
        "acknowledged": "Acknowledged", "declined": "Declined", "deadline": "Answer by",
        "done_ack": "Thank you! Your actor is acknowledged.",
        "done_decline": "Noted: cannot take part.", "already": "Already answered.",
        "other": "På svenska", "other_lang": "sv", "invalid": "This link is not valid.",
        "expired": "This link has expired.", "closed": "The call-out is closed.", "lang": "en",
    },
}


def _lang(request: Request) -> str:
    chosen = request.query_params.get("lang", "")
    if chosen in _TEXT:
        return chosen
    accept = request.headers.get("accept-language", "").lower()
    first = accept.split(",")[0].strip()
    return "en" if first.startswith("en") else "sv"


def _page(t: dict[str, str], body: str, status: int = 200) -> HTMLResponse:
    doc = (f'<!doctype html><html lang="{t["lang"]}"><head><meta charset="utf-8">'
           '<meta name="viewport" content="width=device-width, initial-scale=1">'
           '<meta name="robots" content="noindex, nofollow">'
           f'<title>{t["title"]} – WIS</title><link rel="stylesheet" href="/css/ack.css">'
           f'</head><body><main class="ack">{body}</main></body></html>')
    return HTMLResponse(doc, status_code=status, headers={
        "cache-control": "no-store", "x-robots-tag": "noindex, nofollow"})


def _time(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else ""


def _render(page: LinkPage, t: dict[str, str], token: str, note: str = "") -> str:
    e = html.escape
    parts = []
    if page.exercise:
        parts.append(f'<p class="exercise" data-exercise>{t["exercise"]}</p>')
    parts.append(f'<h1>{t["title"]}</h1>')
    if page.actor_name:
        parts.append(f'<p class="from">{t["from"]} {e(page.actor_name)}</p>')
    if page.classification is Classification.PUBLIC:
        parts.append(f'<p class="message" data-message>{e(page.message)}</p>')
        conf = page.conference
        rows = []
        if conf.start_at is not None:
            rows.append(f'<dt>{t["start"]}</dt><dd>{_time(conf.start_at)}</dd>')
        if conf.dial_in:
            rows.append(f'<dt>{t["dial_in"]}</dt><dd><a href="tel:{e(conf.dial_in)}">'
                        f'{e(conf.dial_in)}</a></dd>')
        if conf.pin:
            rows.append(f'<dt>{t["pin"]}</dt><dd>{e(conf.pin)}</dd>')
        if rows:
            parts.append(f'<h2>{t["conference"]}</h2><dl>{"".join(rows)}</dl>')
    else:
        parts.append(f'<p class="classified">'
                     f'{t["classified"].format(level=page.classification.value.upper())}</p>')
    if note:
        parts.append(f'<p class="note" role="status" data-note>{note}</p>')
    if page.state in ("acknowledged", "declined"):
        word = t["acknowledged"] if page.state == "acknowledged" else t["declined"]
        parts.append(f'<p class="state" data-state="{page.state}">{word} '
                     f'{_time(page.answered_at)}</p>')
    if page.state != "acknowledged":
        parts.append(
            f'<form method="post" action="/k/{e(token)}?lang={t["lang"]}">'
            f'<button type="submit" name="answer" value="acknowledge" class="primary" '
            f'data-ack>{t["ack"]}</button>'
            + (f'<button type="submit" name="answer" value="decline" data-decline>'
               f'{t["decline"]}</button>' if page.state != "declined" else "")
            + '</form>')
    parts.append(f'<p class="deadline">{t["deadline"]} {_time(page.deadline_at)}</p>')
    parts.append(f'<p class="lang"><a href="/k/{e(token)}?lang={t["other_lang"]}">'
                 f'{t["other"]}</a></p>')
    return "".join(parts)


def _refusal(error: WisError, t: dict[str, str]) -> HTMLResponse:
    word = {Code.LINK_EXPIRED: t["expired"], Code.CALLOUT_CLOSED: t["closed"]}.get(
        error.code, t["invalid"])
    status = error.status if error.status in (404, 409, 410) else 404
    return _page(t, f'<h1>{t["title"]}</h1><p class="note" data-note>{word}</p>', status)


async def _form(request: Request) -> dict[str, str]:
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        return {}
    try:
        fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0] for k, v in fields.items() if v}


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept or not accept.strip()


def register(api: Api) -> None:
    @api.op("GET", "/k/{token}", summary="The signed link's acknowledgement page (shows, "
            "acknowledges nothing)", tag="callouts", auth=False, media_type="text/html",
            query=(LANG,), errors=(404, 410))
    async def link_page(call: Call) -> Any:
        return await _link(call, post=False)

    @api.op("POST", "/k/{token}", summary="The acknowledgement page's button (form field "
            "answer=acknowledge|decline): answers for that contact point, once",
            tag="callouts", auth=False, media_type="text/html", query=(LANG,),
            errors=(404, 409, 410))
    async def link_answer(call: Call) -> Any:
        return await _link(call, post=True)

    @api.op("POST", "/api/v1/channels/sms/inbound/{secret}", summary="Inbound SMS webhook "
            "(46elks-style form fields from, to, message): OK <code> acknowledges, NEJ <code> "
            "declines, STOP alarms the actor's admins", tag="channels", auth=False,
            media_type="text/plain", errors=(404, 422))
    async def sms_inbound(call: Call) -> Any:
        return await _sms(call.request)


async def _link(call: Call, *, post: bool) -> Response:
    """GET shows; POST (the button) answers. Nothing else acknowledges. A browser gets pages
    for refusals too; other clients get problem+json."""
    request = call.request
    t = _TEXT[_lang(request)]
    token = call.path["token"]
    services = request.app.state.services
    try:
        note = ""
        if post:
            form = await _form(request)
            how = Answer.DECLINE if form.get("answer") == "decline" else Answer.ACKNOWLEDGE
            result = await services.callouts.acknowledge_link(token, how)
            note = t["already"] if not result.changed else (
                t["done_ack"] if result.state == "acknowledged" else t["done_decline"])
        page = await services.callouts.link_page(token)
    except WisError as error:
        if not _wants_html(request):
            raise
        return _refusal(error, t)
    return _page(t, _render(page, t, token, note))


def _expected_secret(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.channels.sms_webhook_secret.reveal()


async def _sms(request: Request) -> Response:
    expected = _expected_secret(request)
    if not expected or not secret_matches(request.path_params["secret"], expected):
        raise NotFound("no such resource")
    form = await _form(request)
    try:
        inbound = parse_inbound(form)
    except WebhookError as error:
        raise ValidationFailed(str(error), code=error.code) from None
    outcome = await request.app.state.services.callouts.sms_reply(
        inbound.sender, parse_reply(inbound.text))
    log.info("sms reply", outcome=outcome)  # never the text or the number
    # An EMPTY answer: a non-empty one would go back to the sender as an SMS.
    return Response(status_code=200, media_type="text/plain",
                    headers={"x-wis-outcome": outcome})
