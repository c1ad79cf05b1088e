"""Who a rights-narrowed marker of the log concerns (realtime.views.concerns): the user whose
clearance was lowered; for a lowered actor ceiling, only the actor's users it now holds below
their own clearance. Everyone else gets nothing; the frame carries no content."""

from __future__ import annotations

import json

from wis_server.domain.events import EventKind
from wis_server.domain.levels import Classification as C
from wis_server.domain.levels import Role
from wis_server.domain.model import Principal
from wis_server.realtime.ports import Change
from wis_server.realtime.views import concerns, resync_frame


def _p(user: str, actor: str, clearance: C, ceiling: C) -> Principal:
    return Principal(user, actor, user, Role.EDITOR, clearance, ceiling)


def test_a_lowered_clearance_concerns_that_user_only() -> None:
    change = Change("s", 7, EventKind.ACCESS_CLEARANCE_LOWERED, "u1")
    assert concerns(change, _p("u1", "a", C.PUBLIC, C.HEMLIG))
    assert not concerns(change, _p("u2", "a", C.SEKRETESS, C.HEMLIG))


def test_a_lowered_ceiling_concerns_the_users_it_caps() -> None:
    change = Change("s", 7, EventKind.ACCESS_CEILING_LOWERED, "a")
    assert concerns(change, _p("u1", "a", C.HEMLIG, C.SEKRETESS))
    assert not concerns(change, _p("u2", "a", C.SEKRETESS, C.SEKRETESS))  # lost nothing
    assert not concerns(change, _p("u3", "b", C.HEMLIG, C.PUBLIC))  # another actor
    other = Change("s", 8, EventKind.ENTRY_CREATED, "u1")
    assert not concerns(other, _p("u1", "a", C.HEMLIG, C.PUBLIC))


def test_the_frame_is_a_positioned_event_without_content() -> None:
    frame = resync_frame(Change("s", 7, EventKind.ACCESS_CEILING_LOWERED, "a"))
    assert json.loads(frame.text) == {"type": "event", "space_id": "s", "seq": 7,
                                      "event": "space.resync", "data": {}}
    assert (frame.seq, frame.event) == (7, EventKind.SPACE_RESYNC)
