"""Every kind of event the system emits, by name: the space log's kinds, the frames derived from
them per reader, and the per-user notices. The strings are the wire values (never renamed);
docs/realtime.md and the OpenAPI description list exactly these (a test checks both)."""

from __future__ import annotations

from enum import StrEnum


class Subject(StrEnum):
    """What an event is about (the part of its kind before the dot)."""

    SPACE = "space"
    ENTRY = "entry"
    SITUATION_REPORT = "situation_report"
    MEMBERSHIP = "membership"
    CALLOUT = "callout"
    NOTICE = "notice"
    ACCESS = "access"
    CONFERENCE = "conference"


class EventKind(StrEnum):
    SPACE_CREATED = "space.created"
    SPACE_UPDATED = "space.updated"
    ENTRY_CREATED = "entry.created"
    ENTRY_AUDIENCE_CHANGED = "entry.audience_changed"
    ENTRY_WITHDRAWN = "entry.withdrawn"
    REPORT_PUBLISHED = "situation_report.published"
    REPORT_SECTION_WITHDRAWN = "situation_report.section_withdrawn"
    NOTICE_CREATED = "notice.created"
    MEMBERSHIP_ADDED = "membership.added"
    MEMBERSHIP_REMOVED = "membership.removed"
    CALLOUT_CREATED = "callout.created"
    CALLOUT_UPDATED = "callout.updated"
    ACCESS_CLEARANCE_LOWERED = "access.clearance_lowered"
    ACCESS_CEILING_LOWERED = "access.ceiling_lowered"
    SPACE_RESYNC = "space.resync"
    CONFERENCE_BOOKED = "conference.booked"
    CONFERENCE_JOINED = "conference.joined"
    CONFERENCE_LEFT = "conference.left"
    CONFERENCE_ENDED = "conference.ended"

    @property
    def subject(self) -> Subject:
        return Subject(self.value.partition(".")[0])

    @property
    def logged(self) -> bool:
        """Written to a space's event log (the others are derived when sending)."""
        return self in LOGGED

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    @classmethod
    def parse(cls, value: str) -> EventKind | None:
        """The kind of a stored or received string; None for one this version does not know
        (written by a newer one): it is passed over, never guessed at."""
        try:
            return cls(value)
        except ValueError:
            return None


LOGGED = frozenset({EventKind.SPACE_CREATED, EventKind.SPACE_UPDATED, EventKind.ENTRY_CREATED,
                    EventKind.ENTRY_AUDIENCE_CHANGED, EventKind.REPORT_PUBLISHED,
                    EventKind.NOTICE_CREATED, EventKind.CALLOUT_CREATED,
                    EventKind.CALLOUT_UPDATED, EventKind.ACCESS_CLEARANCE_LOWERED,
                    EventKind.ACCESS_CEILING_LOWERED, EventKind.CONFERENCE_BOOKED,
                    EventKind.CONFERENCE_JOINED, EventKind.CONFERENCE_LEFT,
                    EventKind.CONFERENCE_ENDED})
"""The kinds a service appends to a space's event log (in the transaction of the change)."""

RIGHTS_NARROWED = frozenset(k for k in LOGGED if k.subject is Subject.ACCESS)
"""Markers in the log of each space a reader's actor takes part in, at the seq where the
reader's own rights narrowed (`ref_id` the user, or the actor for its ceiling). Never sent as
such: a reader they concern who resumes from before them gets `space.resync`."""

ENTRY_EVENTS = frozenset(k for k in LOGGED if k.subject is Subject.ENTRY)
ENTRY_CHANGES = ENTRY_EVENTS - {EventKind.ENTRY_CREATED}
"""Changes to an existing entry, after which a reader who may not read it gets
`entry.withdrawn` (the screen must drop it)."""
ENTRY_ITEM_EVENTS = ENTRY_EVENTS | {EventKind.NOTICE_CREATED}
"""Events whose `ref_id` is an entry (a notice is an entry of kind `notice`)."""
REPORT_EVENTS = frozenset(k for k in LOGGED if k.subject is Subject.SITUATION_REPORT)
SPACE_EVENTS = frozenset(k for k in LOGGED if k.subject is Subject.SPACE)
"""Logged events whose `ref_id` is the space itself."""
CALLOUT_EVENTS = frozenset(k for k in LOGGED if k.subject is Subject.CALLOUT)
CONFERENCE_EVENTS = frozenset(k for k in LOGGED if k.subject is Subject.CONFERENCE)
WITHDRAWALS = frozenset({EventKind.ENTRY_WITHDRAWN, EventKind.REPORT_SECTION_WITHDRAWN})
"""Id-only frames sent instead of content a reader may no longer read (derived, not logged)."""
PER_USER = frozenset({EventKind.MEMBERSHIP_ADDED, EventKind.MEMBERSHIP_REMOVED})
"""Sent to every connection of the users concerned, as the frame's `type` (not as an `event`
of a followed space)."""

_DESCRIPTIONS: dict[EventKind, str] = {
    EventKind.SPACE_CREATED:
        "the space (`GET /spaces/{id}` shape, with this reader's `my_role`).",
    EventKind.SPACE_UPDATED:
        "the space (`GET /spaces/{id}` shape, with this reader's `my_role`). One that removes "
        "the reader's actor yields `revoked` instead.",
    EventKind.ENTRY_CREATED: "the entry (`GET …/entries/{id}` shape).",
    EventKind.ENTRY_AUDIENCE_CHANGED:
        "the entry **as it is now**. When an audience grows, readers who were just let in "
        "receive this event carrying the whole entry (clients upsert by `id`).",
    EventKind.ENTRY_WITHDRAWN:
        "`{\"id\": \"<entry id>\"}` and nothing else: sent instead of an entry change to every "
        "reader of the space who may **not** read the entry after the change (audience "
        "narrowed, level raised). Clients remove the item at once. The replay after a "
        "reconnect (`after=N`) yields the same frame for entries withdrawn while offline, as "
        "does long-poll. Trade-off: a reader who never saw the entry also gets the frame; it "
        "reveals only the id of an entry that changed (the seq gap already shows that "
        "something happened), never content, level or audience. Also sent, with `\"seq\": "
        "null` (it is no event of the log: resume positions stay as they are), when the "
        "reader's own rights narrow while the space stays readable (clearance or the actor's "
        "ceiling lowered): one frame per entry they could read before and cannot now, before "
        "anything else under the new rights.",
    EventKind.REPORT_PUBLISHED:
        "the report with only the sections this reader may read "
        "(`GET …/situation-reports/{version}` shape); not sent at all if no section is "
        "readable.",
    EventKind.REPORT_SECTION_WITHDRAWN:
        "`{\"id\": \"<report id>\", \"key\": \"<section key>\"}`, `\"seq\": null`: when the "
        "reader's own rights narrow while the space stays readable, one frame per section of "
        "a current situation report (the newest version, joint or an actor's) they could "
        "read before and cannot now. Clients drop the section (or reload the report).",
    EventKind.NOTICE_CREATED:
        "the notice, an entry of kind `notice` (`GET …/entries/{id}` shape); it was also "
        "delivered over e-mail/SMS/push to those who may read it and opted in.",
    EventKind.MEMBERSHIP_ADDED:
        "frame `{\"type\":\"membership.added\",\"space_id\":…}`, per user on every connection "
        "(followed or not): your actor now takes part in the space (sent after deciding you "
        "may read it).",
    EventKind.MEMBERSHIP_REMOVED:
        "frame `{\"type\":\"membership.removed\",\"space_id\":…}`, per user: your actor no "
        "longer takes part in the space (followed subscriptions also get `revoked`).",
    EventKind.CALLOUT_CREATED:
        "the call-out (`GET /callouts/{id}` shape: per summoned actor its state, when, by "
        "whom, over which channel, time to acknowledge); only to readers who may read it.",
    EventKind.CALLOUT_UPDATED:
        "the call-out as it is now, after an acknowledgement, a decline, a delivery receipt, "
        "an escalation step, the deadline, an added actor or its closing.",
    EventKind.ACCESS_CLEARANCE_LOWERED:
        "never sent as such: written to the log of every space of the user's actor when an "
        "administrator lowers the user's (effective) clearance; that user gets "
        "`space.resync` at its seq, nobody else anything (a seq gap).",
    EventKind.ACCESS_CEILING_LOWERED:
        "never sent as such: written to the log of every space of an actor whose clearance "
        "ceiling is lowered; each user of that actor whom the ceiling now holds below their "
        "own clearance gets `space.resync` at its seq, nobody else anything.",
    EventKind.SPACE_RESYNC:
        "`{}`, with the seq of the narrowing: the reader's own rights narrowed (clearance or "
        "the actor's ceiling lowered) after the position they resumed from, so the screen may "
        "still show what they can no longer read. Clients drop the space's view and load it "
        "again over REST (then follow on from the reloaded head). Sent on every path that "
        "reads the log (websocket replay and live, long-poll, SSE), so a reader who was "
        "offline when it happened is told on resume; a connected reader gets the id-only "
        "withdrawals first.",
    EventKind.CONFERENCE_BOOKED:
        "the phone conference (`GET /conferences/{id}` shape: line, PIN, status, who joined "
        "when and for how long); booked from the space, to every participant of it.",
    EventKind.CONFERENCE_JOINED:
        "the conference as it is now, after a caller joined (their number, their actor when "
        "the number is one of its contact points, when).",
    EventKind.CONFERENCE_LEFT:
        "the conference as it is now, after a caller left (with `duration_s`).",
    EventKind.CONFERENCE_ENDED:
        "the conference as it is now, ended: its line is free for another booking.",
}


def kinds_markdown() -> str:
    """The list of kinds for docs/realtime.md and the OpenAPI description (one source)."""
    return "\n".join(f"- `{kind.value}` → {kind.description}" for kind in EventKind)


if __name__ == "__main__":  # regenerate the list in docs/realtime.md
    print(kinds_markdown())
