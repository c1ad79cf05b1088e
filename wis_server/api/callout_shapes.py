"""Request and response shapes of call-outs (aktivering) and saved call-out lists."""

from __future__ import annotations

from typing import Any

from ..domain.callouts import AckChannel, Answer, TargetState
from ..domain.codes import Code
from ..domain.levels import Classification, ContactKind
from ..domain.notifications import Channel
from .schemas import Array, Choice, Int, Name, Nullable, Obj, Out, Str
from .shapes import ID, LEVEL

ACTOR_IDS = Array(ID, max_items=500, unique=True, min_items=1, too_short_code=Code.NO_ACTORS)
TIME = Str(1, 40, "ISO 8601 time with a UTC offset or Z", fmt="date-time")

ConferenceIn = Obj("Conference", {
    "start_at": Nullable(TIME),
    "dial_in": Str(0, 40, "the conference's dial-in number"),
    "pin": Str(0, 20, "the conference PIN"),
    "booking_id": Nullable(ID)},
    description="`booking_id`: a phone conference booked in this space "
                "(`POST /spaces/{id}/conferences`); its line and PIN become `dial_in` and "
                "`pin`, and a callee can press 2 to be connected into it.")
CalloutCreate = Obj("CalloutCreate", {
    "actor_ids": ACTOR_IDS, "list_id": ID,
    "message": Str(1, 1000, not_blank=True),
    "conference": ConferenceIn,
    "deadline_minutes": Int(1, 24 * 60),
    "classification": LEVEL},
    required=("message",),
    description="Give `actor_ids` (participants of the space) or `list_id` (a saved "
                "call-out list of your actor). Deadline default 60 minutes.")
AcknowledgementIn = Obj("Acknowledgement", {
    "code": Str(4, 8, "the short code from the message (optional on the web)"),
    "answer": Choice(Answer, "acknowledge (default) | decline")})
ActorsAdd = Obj("CalloutActorsAdd", {"actor_ids": ACTOR_IDS}, required=("actor_ids",))
CalloutListIn = Obj("CalloutListIn", {"name": Name(1, 200), "actor_ids": ACTOR_IDS},
                    required=("name", "actor_ids"))


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props,
            "required": required if required is not None else list(props)}


_S = {"type": "string"}
_NS = {"type": ["string", "null"]}
_NI = {"type": ["integer", "null"]}
_I = {"type": "integer"}
_STATE = {"type": "string", "enum": [s.value for s in TargetState]}
_CHANNEL = {"type": "string", "enum": [c.value for c in Channel]}

CalloutOut = Out("Callout", _obj({
    "id": _S, "space_id": _S, "owner_actor_id": _S, "created_by": _obj({
        "id": _S, "display_name": _S}),
    "created_at": _S, "deadline_at": _S, "status": {"type": "string",
                                                    "enum": ["open", "closed"]},
    "classification": {"type": "string", "enum": [c.value for c in Classification]},
    "exercise": {"type": "boolean"}, "message": _S,
    "conference": _obj({"start_at": _NS, "dial_in": _S, "pin": _S}),
    "counts": {"type": "object", "additionalProperties": _I,
               "description": "summoned actors per state"},
    "actors": {"type": "array", "items": _obj({
        "actor_id": _S, "state": _STATE, "started_at": _S, "answered_at": _NS,
        "answered_by": {"type": ["object", "null"]},
        "channel": {"type": ["string", "null"],
                    "enum": [c.value for c in AckChannel] + [None]},
        "time_to_acknowledge_s": {**_NI, "description": "seconds from summons to answer"},
        "escalation_stage": _I, "overdue_at": _NS,
        "reached": {"type": ["object", "null"], "description": "which channel finally "
                    "reached the actor and when (confirmed: a delivery report or an answer "
                    "over it; else the channel took it)", "properties": {
                        "channel": _CHANNEL, "at": _S, "confirmed": {"type": "boolean"},
                        "contact_point_id": _S},
                    "required": ["channel", "at", "confirmed", "contact_point_id"],
                    "additionalProperties": False},
        "contact_points": {"type": "array", "items": _obj({
            "id": _S, "kind": {"type": "string", "enum": [k.value for k in ContactKind]},
            "value": _S, "label": _S, "position": _I, "notified_at": _NS,
            "notified_count": _I, "delivered_at": _NS,
            "delivery": {"type": ["object", "null"], "description": "the delivery ledger's "
                         "latest line for this contact point", "properties": {
                             "channel": _CHANNEL, "status": _S, "sent_at": _NS,
                             "delivered_at": _NS, "error": _NS},
                         "required": ["channel", "status", "sent_at", "delivered_at",
                                      "error"], "additionalProperties": False}})}})},
    "ledger": {"type": "object", "description": "reconciliation per channel: contact "
               "points' messages sent, confirmed delivered, failed, and answers over it",
               "additionalProperties": _obj({"sent": _I, "delivered": _I, "failed": _I,
                                             "acknowledged": _I})},
    "updated_at": _NS}))
AckOut = Out("AcknowledgementResult", _obj({
    "callout_id": _S, "actor_id": _S, "state": _STATE,
    "changed": {"type": "boolean", "description": "false: it was answered already"}}))
CalloutListOut = Out("CalloutList", _obj({
    "id": _S, "owner_actor_id": _S, "name": _S, "actor_ids": {"type": "array", "items": _S},
    "created_at": _S, "updated_at": _S}))
