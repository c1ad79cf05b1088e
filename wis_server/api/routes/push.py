"""Web Push subscriptions of the signed-in user (issue 10.6): the VAPID public key the browser
subscribes with, register (the browser's PushSubscription.toJSON()), list, unregister."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ...services.push_subscriptions import MAX_ENDPOINT
from ..endpoint import Api, Call
from ..schemas import Int, Nullable, Obj, Out, Str
from ..shapes import items_of
from ..views import ts

_S = {"type": "string"}
_KEY = Str(1, 200, "base64url")
ENDPOINT = Str(1, MAX_ENDPOINT, "the push service URL the browser was given (https)")
PushKeys = Obj("PushSubscriptionKeys", {
    "p256dh": Str(1, 200, "the browser's P-256 public key, base64url (65 bytes)"),
    "auth": Str(1, 200, "the authentication secret, base64url (16 bytes)")},
    required=("p256dh", "auth"))
PushIn = Obj("PushSubscriptionIn", {
    "endpoint": ENDPOINT, "keys": PushKeys,
    "expirationTime": Nullable(Int(0)),
}, required=("endpoint", "keys"), description="PushSubscription.toJSON() as the browser gives it")
PushDelete = Obj("PushSubscriptionDelete", {"endpoint": ENDPOINT}, required=("endpoint",))
PushOut = Out("PushSubscription", {
    "type": "object", "properties": {
        "id": _S, "service": {"type": "string", "description": "the push service's origin"},
        "created_at": _S}})
VapidOut = Out("VapidKey", {"type": "object", "properties": {
    "public_key": {"type": "string",
                   "description": "applicationServerKey for pushManager.subscribe (base64url)"}}})


def register(api: Api) -> None:
    @api.op("GET", "/api/v1/me/push-subscriptions/vapid-key", summary="The server's VAPID "
            "public key (404 push_disabled when Web Push is off)", tag="notifications",
            response=VapidOut, errors=(404,))
    async def vapid_key(call: Call) -> Any:
        return {"public_key": call.services.push.vapid_public_key()}

    @api.op("GET", "/api/v1/me/push-subscriptions", summary="Your browsers registered for Web "
            "Push (never their keys)", tag="notifications",
            response=items_of(PushOut, "PushSubscriptions"))
    async def list_push(call: Call) -> Any:
        subs = await call.services.push.mine(call.principal)
        return {"items": [{"id": s.id, "service": s.service, "created_at": ts(s.created_at)}
                          for s in subs]}

    @api.op("POST", "/api/v1/me/push-subscriptions", summary="Register this browser for Web "
            "Push", tag="notifications", body=PushIn, status=201,
            response=Out("PushSubscriptionCreated", {"type": "object", "properties": {
                "id": _S}}), errors=(404, 409, 422))
    async def add_push(call: Call) -> Any:
        b = call.body
        sub_id = await call.services.push.subscribe(
            call.principal, b["endpoint"], b["keys"]["p256dh"], b["keys"]["auth"])
        return {"id": sub_id}

    @api.op("DELETE", "/api/v1/me/push-subscriptions", summary="Unregister a browser from Web "
            "Push", tag="notifications", body=PushDelete, status=204, errors=(404, 422))
    async def remove_push(call: Call) -> Any:
        await call.services.push.unsubscribe(call.principal, call.body["endpoint"])
        return Response(status_code=204)
