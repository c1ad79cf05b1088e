"""Unread counts of the signed-in user (issue 10.8): per space, and marking a space seen."""

from __future__ import annotations

from typing import Any

from ...services.unread import UNREAD_CAP, UnreadCount
from ..endpoint import Api, Call
from ..schemas import Int, Obj, Out

_COUNT = {"type": "object", "properties": {
    "space_id": {"type": "string"},
    "unread": {"type": "integer", "minimum": 0, "maximum": UNREAD_CAP,
               "description": "log items (entries, notices) you may read that arrived after "
                              "you last viewed the space, not your own"},
    "more": {"type": "boolean", "description": f"more than {UNREAD_CAP} (show {UNREAD_CAP}+)"},
    "seen_seq": {"type": "integer", "minimum": 0,
                 "description": "the seq you have seen the space up to"}}}
UnreadOut = Out("UnreadCount", _COUNT)
UnreadListOut = Out("UnreadCounts", {"type": "object", "properties": {
    "items": {"type": "array", "items": _COUNT},
    "total": {"type": "integer", "minimum": 0, "description": "the sum of `unread`"}}})
SeenIn = Obj("SpaceSeen", {"seq": Int(0)}, required=("seq",),
             description="seq: the highest seq of the space's log you have seen (the head "
                         "you were shown)")


def count_view(c: UnreadCount) -> dict[str, Any]:
    return {"space_id": c.space_id, "unread": c.unread, "more": c.more, "seen_seq": c.seen_seq}


def register(api: Api) -> None:
    @api.op("GET", "/api/v1/me/unread", summary="Unread counts of your spaces (decided per "
            "item: only what you may read counts)", tag="spaces", response=UnreadListOut)
    async def unread(call: Call) -> Any:
        counts = await call.services.unread.counts(call.principal)
        return {"items": [count_view(c) for c in counts],
                "total": sum(c.unread for c in counts)}

    @api.op("PUT", "/api/v1/spaces/{space_id}/seen", summary="You have seen the space up to "
            "seq (it never moves back); answers the space's unread count", tag="spaces",
            body=SeenIn, response=UnreadOut, errors=(404, 422))
    async def seen(call: Call) -> Any:
        count = await call.services.unread.mark_seen(call.principal, call.path["space_id"],
                                                     call.body["seq"])
        return count_view(count)
