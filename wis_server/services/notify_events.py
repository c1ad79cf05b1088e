"""Outbox rows for the two notification events that are not log entries (issue 10.1): a new
lägesbild version (`situation_report`) and a space one's actor was added to (`space_added`).
Written in the caller's transaction, like entries and notices; the same recipient rule
(`decide` per recipient, opted in, reachable on an enabled channel, the actor himself not
told), and the dispatcher decides again at send time with the label the row carries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..domain.levels import Classification
from ..domain.model import ItemLabel, Principal, ReportSection, Space
from ..domain.notifications import Channel, NotifyEvent
from ..domain.outbox import OutboxDraft
from .outbox import enqueue, recipients_by_label, recipients_for, space_link
from .ports import Transaction

REPORT_SUBJECT = "Ny lägesbild"
SPACE_ADDED_SUBJECT = "Ny yta i WIS"
EVENT_TTL = timedelta(hours=24)  # longer than any quiet-hours hold (a window is < 24 h)


def report_text(joint: bool, version: int, actor_name: str) -> str:
    """What a message about a new version says (no section content: the page has it)."""
    if joint:
        return f"Ny samlad lägesbild, version {version}."
    return f"Ny lägesbild från {actor_name}, version {version}."


@dataclass(frozen=True, slots=True)
class NewVersion:
    """The version being published, as far as telling about it needs (no seq: this runs
    before the space's sequence lock is taken)."""

    report_id: str
    joint: bool
    owner_actor_id: str
    version: int
    sections: Sequence[ReportSection]
    carried: Sequence[ItemLabel]  # sections carried forward unchanged (still in the version)


async def queue_report_published(tx: Transaction, space: Space, new: NewVersion,
                                 enabled: frozenset[Channel], now: datetime, *,
                                 publisher: Principal) -> bool:
    """Tell those who asked for new lägesbild versions and may read at least one section of
    this one (a section carried forward counts: it is in the version). Each recipient gets
    the message under the lowest-level section label they may read, so a reader of a public
    section hears it in full and a reader of only a sekretess one gets the pointer."""
    if not enabled:
        return False
    labels = sorted({*(s.label(new.owner_actor_id) for s in new.sections), *new.carried},
                    key=lambda lb: (lb.classification.rank, lb.audience is not None,
                                    sorted(lb.audience or ())))
    groups = await recipients_by_label(tx, space, labels, NotifyEvent.SITUATION_REPORT,
                                       enabled, now, exclude=publisher.user_id)
    if not groups:
        return False
    owner = await tx.actors.get(new.owner_actor_id)
    body = report_text(new.joint, new.version, owner.name if owner is not None else "")
    link = space_link(space.id) + "/report" + (
        "" if new.joint else f"/actor/{new.owner_actor_id}")
    for label, recipients in groups.items():
        await enqueue(tx, OutboxDraft(
            kind="situation_report", classification=label.classification,
            subject=REPORT_SUBJECT, body=body, expires_at=now + EVENT_TTL, space_id=space.id,
            ref_id=new.report_id, audience=label.audience,
            author_actor_id=label.author_actor_id, exercise=space.is_exercise, link=link,
            created_by=publisher.user_id, recipients=tuple(recipients)), now, space)
    return True


async def queue_space_added(tx: Transaction, space: Space, added: frozenset[str],
                            enabled: frozenset[Channel], now: datetime, *,
                            by: Principal) -> bool:
    """Tell the users of the actors just added to `space` (who may read the space and asked
    for it). The space's title is said only when the space itself is public; otherwise the
    message names no space at all."""
    if not enabled or not added:
        return False
    body = (f"Din aktör deltar nu i ytan {space.title}."
            if space.classification is Classification.PUBLIC
            else "Din aktör deltar nu i en ny yta i WIS.")
    label = ItemLabel(Classification.PUBLIC, None, space.owner_actor_id)
    recipients = await recipients_for(tx, space, label, NotifyEvent.SPACE_ADDED, enabled, now,
                                      exclude=by.user_id, actors=added)
    if not recipients:
        return False
    await enqueue(tx, OutboxDraft(
        kind="space_added", classification=Classification.PUBLIC,
        subject=SPACE_ADDED_SUBJECT, body=body, expires_at=now + EVENT_TTL, space_id=space.id,
        ref_id=space.id, audience=None, author_actor_id=space.owner_actor_id,
        exercise=space.is_exercise, link=space_link(space.id), created_by=by.user_id,
        recipients=tuple(recipients)), now, space)
    return True
