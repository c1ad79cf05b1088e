"""Call-outs (aktivering): create, board, acknowledge, escalate now, add actors, close; saved
call-out lists; the signed link's page (`/k/<token>`: a GET shows it and changes nothing, its
button POSTs); and the inbound SMS webhook (`OK <code>` replies, STOP alarms)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import Response

from ...domain.callouts import Answer, Callout, Conference, TargetState
from ...domain.codes import Code
from ...domain.errors import ValidationFailed
from ...domain.levels import Classification
from ...services.callout_lists import CalloutList
from ..callout_shapes import (
    AcknowledgementIn,
    AckOut,
    ActorsAdd,
    CalloutCreate,
    CalloutListIn,
    CalloutListOut,
    CalloutOut,
)
from ..endpoint import Api, Call
from ..shapes import items_of
from ..views import ts


def _moment(raw: str | None, field: str) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw) if raw.isascii() else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValidationFailed(f"{field} must be an ISO 8601 time with a UTC offset or Z",
                               code=Code.INVALID_TIME, field=field)
    return moment


def callout_view(c: Callout) -> dict[str, Any]:
    counts: dict[str, int] = {s.value: 0 for s in TargetState}
    actors = []
    for t in c.targets:
        counts[t.state.value] += 1
        seconds = t.time_to_answer
        actors.append({
            "actor_id": t.actor_id, "state": t.state.value, "started_at": ts(t.started_at),
            "answered_at": ts(t.answered_at),
            "answered_by": ({"id": t.answered_by, "display_name": t.answered_by_name}
                            if t.answered_by else None),
            "channel": t.answer_channel.value if t.answer_channel else None,
            "time_to_acknowledge_s": int(seconds.total_seconds())
            if seconds is not None else None,
            "escalation_stage": t.stage, "overdue_at": ts(t.overdue_at),
            "reached": ({"channel": reach.channel, "at": ts(reach.at),
                         "confirmed": reach.confirmed, "contact_point_id": reach.contact_id}
                        if (reach := c.reach(t.actor_id)) is not None else None),
            "contact_points": [
                {"id": k.id, "kind": k.kind.value, "value": k.address, "label": k.label,
                 "position": k.position, "notified_at": ts(k.notified_at),
                 "notified_count": k.notified_count, "delivered_at": ts(k.delivered_at),
                 "delivery": ({"channel": k.delivery.channel, "status": k.delivery.status,
                               "sent_at": ts(k.delivery.sent_at),
                               "delivered_at": ts(k.delivery.delivered_at),
                               "error": k.delivery.error} if k.delivery else None)}
                for k in c.contacts_of(t.actor_id)],
        })
    conf = c.conference
    return {
        "id": c.id, "space_id": c.space_id, "owner_actor_id": c.owner_actor_id,
        "created_by": {"id": c.created_by, "display_name": c.created_by_name},
        "created_at": ts(c.created_at), "deadline_at": ts(c.deadline_at),
        "status": c.status.value, "classification": c.classification.value,
        "exercise": c.exercise, "message": c.message,
        "conference": {"start_at": ts(conf.start_at), "dial_in": conf.dial_in,
                       "pin": conf.pin},
        "counts": counts, "actors": actors, "ledger": c.ledger(),
        "updated_at": ts(c.updated_at),
    }


def list_view(item: CalloutList) -> dict[str, Any]:
    return {"id": item.id, "owner_actor_id": item.owner_actor_id, "name": item.name,
            "actor_ids": list(item.actor_ids), "created_at": ts(item.created_at),
            "updated_at": ts(item.updated_at)}


def register(api: Api) -> None:
    @api.op("POST", "/api/v1/spaces/{space_id}/callouts", summary="Call actors out to a "
            "conference (aktivering; the space's editors)", tag="callouts",
            body=CalloutCreate, response=CalloutOut, status=201, idempotent_post=True,
            errors=(403, 404, 409, 422))
    async def create_callout(call: Call) -> Any:
        b = call.body
        conf = b.get("conference") or {}
        conference = Conference(_moment(conf.get("start_at"), "conference.start_at"),
                                conf.get("dial_in", "").strip(), conf.get("pin", "").strip())
        if conf.get("booking_id"):  # a booked phone conference gives the line and PIN
            booked = await call.services.conferences.details(
                call.principal, call.path["space_id"], conf["booking_id"])
            conference = Conference(conference.start_at or booked.start_at, booked.dial_in,
                                    booked.pin)
        callout = await call.services.callouts.create(
            call.principal, call.path["space_id"], actor_ids=b.get("actor_ids"),
            list_id=b.get("list_id"), message=b["message"], conference=conference,
            deadline_minutes=b.get("deadline_minutes"),
            classification=b.get("classification") or Classification.PUBLIC,
            idempotency_key=call.idempotency_key)
        return callout_view(callout)

    @api.op("GET", "/api/v1/spaces/{space_id}/callouts", summary="The space's call-outs "
            "you may read (newest first)", tag="callouts",
            response=items_of(CalloutOut, "CalloutPage"), errors=(404,))
    async def list_callouts(call: Call) -> Any:
        found = await call.services.callouts.for_space(call.principal, call.path["space_id"])
        return {"items": [callout_view(c) for c in found]}

    @api.op("GET", "/api/v1/callouts/{callout_id}", summary="A call-out: per summoned actor "
            "its state, when, by whom, over which channel, time to acknowledge",
            tag="callouts", response=CalloutOut, errors=(404,))
    async def get_callout(call: Call) -> Any:
        return callout_view(await call.services.callouts.get(
            call.principal, call.path["callout_id"]))

    @api.op("POST", "/api/v1/callouts/{callout_id}/acknowledgements", summary="Acknowledge "
            "(or decline) a call-out for your actor (the web button; idempotent)",
            tag="callouts", body=AcknowledgementIn, response=AckOut,
            errors=(403, 404, 409, 422))
    async def acknowledge(call: Call) -> Any:
        b = call.body
        result = await call.services.callouts.acknowledge_web(
            call.principal, call.path["callout_id"], code=b.get("code"),
            answer=b.get("answer") or Answer.ACKNOWLEDGE)
        return {"callout_id": result.callout_id, "actor_id": result.actor_id,
                "state": result.state, "changed": result.changed}

    @api.op("POST", "/api/v1/callouts/{callout_id}/escalations", summary="Escalate now: "
            "every contact point of every actor still missing at once (the calling actor's "
            "editors)", tag="callouts", response=CalloutOut, errors=(403, 404, 409))
    async def escalate(call: Call) -> Any:
        return callout_view(await call.services.callouts.escalate_now(
            call.principal, call.path["callout_id"]))

    @api.op("POST", "/api/v1/callouts/{callout_id}/actors", summary="Add actors to a "
            "call-out (their ladder starts now)", tag="callouts", body=ActorsAdd,
            response=CalloutOut, errors=(403, 404, 409, 422))
    async def add_actors(call: Call) -> Any:
        return callout_view(await call.services.callouts.add_actors(
            call.principal, call.path["callout_id"], call.body["actor_ids"]))

    @api.op("POST", "/api/v1/callouts/{callout_id}/close", summary="Close a call-out (no "
            "more escalation)", tag="callouts", response=CalloutOut, errors=(403, 404, 409))
    async def close(call: Call) -> Any:
        return callout_view(await call.services.callouts.close(
            call.principal, call.path["callout_id"]))

    @api.op("GET", "/api/v1/callout-lists", summary="Your actor's saved call-out lists",
            tag="callouts", response=items_of(CalloutListOut, "CalloutListPage"))
    async def lists(call: Call) -> Any:
        found = await call.services.callout_lists.all(call.principal)
        return {"items": [list_view(x) for x in found]}

    @api.op("POST", "/api/v1/callout-lists", summary="Save a call-out list (your actor's "
            "editors)", tag="callouts", body=CalloutListIn, response=CalloutListOut,
            status=201, errors=(403, 409, 422))
    async def create_list(call: Call) -> Any:
        return list_view(await call.services.callout_lists.create(
            call.principal, call.body["name"], call.body["actor_ids"]))

    @api.op("GET", "/api/v1/callout-lists/{list_id}", summary="A saved call-out list",
            tag="callouts", response=CalloutListOut, errors=(404,))
    async def get_list(call: Call) -> Any:
        return list_view(await call.services.callout_lists.get(
            call.principal, call.path["list_id"]))

    @api.op("PUT", "/api/v1/callout-lists/{list_id}", summary="Replace a saved call-out "
            "list", tag="callouts", body=CalloutListIn, response=CalloutListOut,
            errors=(403, 404, 409, 422))
    async def put_list(call: Call) -> Any:
        return list_view(await call.services.callout_lists.replace(
            call.principal, call.path["list_id"], call.body["name"], call.body["actor_ids"]))

    @api.op("DELETE", "/api/v1/callout-lists/{list_id}", summary="Delete a saved call-out "
            "list", tag="callouts", status=204, errors=(403, 404))
    async def delete_list(call: Call) -> Any:
        await call.services.callout_lists.delete(call.principal, call.path["list_id"])
        return Response(status_code=204)

