"""Notification preferences, notices, their delivery ledger, the SMS
delivery-report webhook and (WIS_CHANNELS=memory only) the demo page of sent messages."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.responses import Response

from ...channels.sms_webhooks import (
    ReportStatus,
    WebhookError,
    parse_delivery_report,
    secret_matches,
)
from ...domain.codes import Code
from ...domain.errors import Forbidden, ValidationFailed
from ...domain.levels import Role
from ...domain.notifications import Channel, NotificationPreferences, NotifyEvent, SpacesMode
from ...domain.outbox import DeliveryRecord
from ..endpoint import Api, Call, Query
from ..schemas import Array, Choice, Nullable, Obj, Out, Str
from ..shapes import ENTRY_BODY_MAX, IDS, LEVEL, EntryOut, items_of
from ..views import entry_view, ts

_S = {"type": "string"}
_NS = {"type": ["string", "null"]}

QuietIn = Obj("QuietHours", {
    "from": Str(5, 5, "HH:MM local time"), "to": Str(5, 5, "HH:MM local time"),
    "timezone": Str(1, 64, "IANA time zone (default Europe/Stockholm)")},
    required=("from", "to"))
SpacesIn = Obj("NotificationSpaces", {
    "mode": Choice(SpacesMode, "all: every space of my actor; chosen: only space_ids"),
    "space_ids": IDS}, required=("mode",))
PreferencesIn = Obj("NotificationPreferencesIn", {
    "channels": Array(Choice(Channel), max_items=len(Channel), unique=True),
    "spaces": SpacesIn,
    "events": Array(Choice(NotifyEvent), max_items=len(NotifyEvent), unique=True),
    "quiet_hours": Nullable(QuietIn),
    "email": Nullable(Str(0, 254, "your e-mail address for notifications")),
    "phone": Nullable(Str(0, 40, "your mobile number (E.164, or a Swedish number)"))},
    description="Replaces your preferences; an omitted field takes its default (channels: "
                "push, email, sms in that order; spaces: all; events: notice, space_added; "
                "no quiet hours). The first channel is tried first, the next when it fails. "
                "Quiet hours hold messages (they are sent, not dropped, when the window "
                "ends), except from an activated (disruption) space; call-outs go to contact "
                "points and are never held. space_added is told for any new space, whatever "
                "spaces are chosen.")
PreferencesOut = Out("NotificationPreferences", {"type": "object", "properties": {
    "channels": {"type": "array", "items": {"type": "string", "enum": [c.value for c in Channel]}},
    "spaces": {"type": "object", "properties": {"mode": _S, "space_ids": {
        "type": "array", "items": _S}}},
    "events": {"type": "array", "items": {"type": "string",
                                          "enum": [e.value for e in NotifyEvent]}},
    "quiet_hours": {"type": ["object", "null"]}, "email": _NS, "phone": _NS,
    "push_subscriptions": {"type": "integer", "minimum": 0}}})

NoticeIn = Obj("NoticeCreate", {
    "classification": LEVEL, "body": Str(1, ENTRY_BODY_MAX, not_blank=True),
    "audience": Nullable(IDS)}, required=("classification", "body"),
    description="An informationsunderrättelse: an entry of kind notice in the log, also "
                "delivered to every user who may read it and has opted in. audience as for "
                "entries. sekretess/hemlig leave only as a content-free pointer.")
DeliveryOut = Out("Delivery", {"type": "object", "properties": {
    "id": _S, "recipient_user_id": _NS, "recipient_actor_id": _NS, "recipient_ref": _NS,
    "channel": _S, "rank": {"type": "integer"},
    "status": {"type": "string", "enum": ["queued", "sent", "delivered", "failed", "expired",
                                          "standby", "refused"]},
    "attempts": {"type": "integer"}, "error": _NS, "created_at": _S, "updated_at": _S,
    "sent_at": _NS, "delivered_at": _NS}})

def preferences_view(prefs: NotificationPreferences, push_count: int) -> dict[str, Any]:
    quiet = prefs.quiet_hours
    return {
        "channels": [c.value for c in prefs.channels],
        "spaces": {"mode": prefs.spaces.value, "space_ids": sorted(prefs.space_ids)},
        "events": sorted(e.value for e in prefs.events),
        "quiet_hours": {"from": quiet.start.strftime("%H:%M"), "to": quiet.end.strftime("%H:%M"),
                        "timezone": quiet.timezone} if quiet else None,
        "email": prefs.email, "phone": prefs.phone, "push_subscriptions": push_count,
    }


def delivery_view(d: DeliveryRecord) -> dict[str, Any]:
    return {"id": d.id, "recipient_user_id": d.recipient_user_id,
            "recipient_actor_id": d.recipient_actor_id, "recipient_ref": d.recipient_ref,
            "channel": d.channel.value, "rank": d.rank, "status": d.status,
            "attempts": d.attempts, "error": d.error, "created_at": ts(d.created_at),
            "updated_at": ts(d.updated_at), "sent_at": ts(d.sent_at),
            "delivered_at": ts(d.delivered_at)}


def register(api: Api) -> None:
    @api.op("GET", "/api/v1/me/notifications", summary="Your notification preferences",
            tag="notifications", response=PreferencesOut)
    async def get_preferences(call: Call) -> Any:
        service = call.services.notifications
        prefs = await service.get(call.principal)
        return preferences_view(prefs, await service.push_count(call.principal))

    @api.op("PUT", "/api/v1/me/notifications", summary="Replace your notification "
            "preferences", tag="notifications", body=PreferencesIn, response=PreferencesOut,
            errors=(422,))
    async def put_preferences(call: Call) -> Any:
        service = call.services.notifications
        doc = dict(call.body)
        if "channels" in doc:
            doc["channels"] = [c.value for c in doc["channels"]]
        if "events" in doc:
            doc["events"] = [e.value for e in doc["events"]]
        if "spaces" in doc:
            doc["spaces"] = {**doc["spaces"], "mode": doc["spaces"]["mode"].value}
        prefs = await service.put(call.principal, doc)
        return preferences_view(prefs, await service.push_count(call.principal))

    @api.op("POST", "/api/v1/spaces/{space_id}/notices", summary="Send a notice "
            "(informationsunderrättelse) to everyone who may read it and opted in",
            tag="notices", body=NoticeIn, response=EntryOut, status=201, idempotent_post=True,
            errors=(403, 404, 409, 422))
    async def post_notice(call: Call) -> Any:
        b = call.body
        notice = await call.services.notices.post(
            call.principal, call.path["space_id"], classification=b["classification"],
            body=b["body"], audience=b.get("audience"), idempotency_key=call.idempotency_key)
        return entry_view(notice, notice.exercise)

    @api.op("GET", "/api/v1/spaces/{space_id}/notices", summary="The space's notices, as you "
            "may read them", tag="notices", response=items_of(EntryOut, "NoticePage", {
                "head": {"type": "integer"}}),
            query=(Query("after", int, "only notices with seq > after", minimum=0),
                   Query("before", int, "only notices with seq < before", minimum=0),
                   Query("limit", int, "at most this many (default 100)", 1, 500),
                   Query("order", str, "asc (default) or desc", enum=("asc", "desc"))),
            errors=(404,))
    async def list_notices(call: Call) -> Any:
        q = call.query
        items, head = await call.services.notices.page(
            call.principal, call.path["space_id"], after=q.get("after"),
            before=q.get("before"), limit=q.get("limit", 100),
            descending=q.get("order") == "desc")
        return {"items": [entry_view(e, e.exercise) for e in items], "head": head}

    @api.op("GET", "/api/v1/notices/{notice_id}/deliveries", summary="A notice's delivery "
            "ledger: per recipient and channel (its sender and the space's editors)",
            tag="notices", response=items_of(DeliveryOut, "DeliveryList"),
            errors=(403, 404))
    async def notice_deliveries(call: Call) -> Any:
        records = await call.services.notices.deliveries(call.principal,
                                                         call.path["notice_id"])
        return {"items": [delivery_view(d) for d in records]}

    @api.op("POST", "/api/v1/channels/sms/delivery/{secret}", summary="SMS delivery report "
            "(46elks `whendelivered`: form fields id, status, delivered); answers 204 with "
            "an empty body", tag="channels", auth=False, status=204,
            query=(Query("delivery", str, "our delivery id (we put it in the whendelivered "
                         "URL)"),), errors=(404, 422))
    async def sms_delivery(call: Call) -> Any:
        expected: str = getattr(call.request.app.state, "sms_webhook_secret", "") or ""
        if not expected or not secret_matches(call.path["secret"], expected):
            raise HTTPException(status_code=404)
        raw = await call.request.body()
        try:
            pairs = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
            report = parse_delivery_report({k: v[0] for k, v in pairs.items()},
                                           {"delivery": call.query.get("delivery", "")})
        except WebhookError as error:
            raise ValidationFailed(str(error), code=error.code) from None
        except (UnicodeDecodeError, ValueError):
            raise ValidationFailed("send the report form-encoded",
                                   code=Code.MALFORMED_FORM) from None
        if report.status is not ReportStatus.SENT:
            await call.services.outbox.delivery_report(
                Channel.SMS, report.provider_id, report.status is ReportStatus.DELIVERED,
                delivery_id=report.delivery_id)
        return Response(status_code=204)

    @api.op("GET", "/api/v1/channels/memory/messages", summary="Messages the in-memory "
            "channels recorded (WIS_CHANNELS=memory only; system administrators)",
            tag="channels", response=Out("MemoryMessages", {"type": "object"}),
            errors=(403, 404))
    async def memory_messages(call: Call) -> Any:
        recorders = getattr(call.request.app.state, "memory_channels", None)
        if not recorders:
            raise HTTPException(status_code=404)
        if call.principal.role is not Role.SYSTEM_ADMIN:
            raise Forbidden("system administrators only", code=Code.NOT_SYSTEM_ADMIN)
        items = []
        for kind, channel in recorders.items():
            for message in list(channel.sent):
                to = message.to if isinstance(message.to, str) else message.to.endpoint
                items.append({"channel": kind.value, "delivery_id": message.delivery_id,
                              "to": to, "subject": message.rendered.subject,
                              "text": message.rendered.text, "url": message.rendered.url})
        return {"items": items}

