"""One change as one reader sees it: the access decision per labelled part, then the frame
(rendered once per distinct view, not per socket), the id-only withdrawal frame, or the
`space.resync` frame for a reader whose own rights narrowed at that point of the log."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..classification.policy import Action, decide
from ..domain.events import ENTRY_CHANGES, RIGHTS_NARROWED, EventKind
from ..domain.levels import Classification
from ..domain.model import ItemLabel, Principal, Space
from .ports import Change, Frame, Part, Render, Wanted

READ_ = Action.READ


@dataclass(frozen=True, slots=True)
class View:
    """One change as one principal sees it: the frame to send (None: nothing visible)."""

    frame: Frame | None
    shown: tuple[bool, ...]
    classified: bool


def may_read(principal: Principal, space: Space) -> Wanted:
    def wanted(label: ItemLabel) -> bool:
        return decide(principal, READ_, space, label).allowed

    return wanted


def withdrawable(change: Change) -> bool:
    """A change to an existing entry (read right or level changed, …), after which a reader
    who may not read it must drop it from the screen."""
    return change.kind in ENTRY_CHANGES


def sent_without_item(change: Change) -> bool:
    """A change that yields a frame even when no item was loaded for it: a withdrawal, or a
    rights-narrowed marker (`space.resync` for the reader it concerns)."""
    return withdrawable(change) or change.kind in RIGHTS_NARROWED


def withdrawn_frame(change: Change) -> Frame:
    kind = EventKind.ENTRY_WITHDRAWN
    text = json.dumps({"type": "event", "space_id": change.space_id, "seq": change.seq,
                       "event": kind.value, "data": {"id": change.ref_id}},
                      separators=(",", ":"))
    return Frame(text, len(text.encode()), "event", change.space_id, change.seq, kind)


def concerns(change: Change, principal: Principal) -> bool:
    """Whether a rights-narrowed marker of the log is about this reader: their own clearance
    was lowered, or their actor's ceiling was and it now holds them below their clearance
    (a reader the ceiling does not cap lost nothing)."""
    if change.kind is EventKind.ACCESS_CLEARANCE_LOWERED:
        return change.ref_id == principal.user_id
    if change.kind is EventKind.ACCESS_CEILING_LOWERED:
        return (change.ref_id == principal.actor_id
                and principal.clearance > principal.effective_clearance)
    return False


def resync_frame(change: Change) -> Frame:
    """Reload the space's view: it was built under rights wider than the reader's now."""
    kind = EventKind.SPACE_RESYNC
    text = json.dumps({"type": "event", "space_id": change.space_id, "seq": change.seq,
                       "event": kind.value, "data": {}}, separators=(",", ":"))
    return Frame(text, len(text.encode()), "event", change.space_id, change.seq, kind)


def narrowing_frame(space_id: str, part: Part) -> Frame:
    """The id-only frame for a part the reader could read before their rights narrowed and
    cannot now; `seq` null: it is no event of the log, so resume positions stay put."""
    if part.key is None:
        kind, data = EventKind.ENTRY_WITHDRAWN, {"id": part.item_id}
    else:
        kind, data = EventKind.REPORT_SECTION_WITHDRAWN, {"id": part.item_id, "key": part.key}
    text = json.dumps({"type": "event", "space_id": space_id, "seq": None,
                       "event": kind.value, "data": data}, separators=(",", ":"))
    return Frame(text, len(text.encode()), "event", space_id, None, kind)


def lost(before: Principal, after: Principal, space: Space, parts: list[Part]) -> list[Part]:
    """The parts `before` could read and `after` cannot (same space, labels as they are)."""
    return [part for part in parts
            if decide(before, READ_, space, part.label).allowed
            and not decide(after, READ_, space, part.label).allowed]


def may_have_narrowed(before: Principal, after: Principal) -> bool:
    """Could `after` read less than `before`? (Only then are the space's labels read.)"""
    return (after.effective_clearance < before.effective_clearance
            or after.actor_id != before.actor_id or after.role != before.role)


class Views:
    """Decides and renders; `frames` caches the frames of one change by what is shown."""

    __slots__ = ("render",)

    def __init__(self, render: Render) -> None:
        self.render = render

    def view(self, space: Space, change: Change, principal: Principal,
             frames: dict[tuple[bool, ...], Frame | None]) -> View:
        if change.kind in RIGHTS_NARROWED:
            if not concerns(change, principal):
                return View(None, (), False)
            key = (True,)
            if key not in frames:
                frames[key] = resync_frame(change)
            return View(frames[key], (), False)
        shown = tuple(decide(principal, READ_, space, label).allowed
                      for label in change.labels)
        if withdrawable(change) and (change.item is None or not any(shown)):
            # A change to an entry this reader may not read (any more): only its id, so a
            # screen that shows it removes it at once (docs/realtime.md, entry.withdrawn).
            key = (False,)
            if key not in frames:
                frames[key] = withdrawn_frame(change)
            return View(frames[key], shown, False)
        if shown and not any(shown):
            return View(None, shown, False)
        if change.personal:
            frame = self.frame(change, principal, space, shown)
        elif shown in frames:
            frame = frames[shown]
        else:
            frame = frames[shown] = self.frame(change, principal, space, shown)
        classified = any(ok and label.classification is not Classification.PUBLIC
                         for label, ok in zip(change.labels, shown, strict=True))
        return View(frame, shown, classified)

    def frame(self, change: Change, principal: Principal, space: Space,
              shown: tuple[bool, ...]) -> Frame | None:
        text = self.render(change, principal, space, shown)
        if text is None:
            return None
        return Frame(text, len(text.encode()), "event", change.space_id, change.seq,
                     change.kind)
