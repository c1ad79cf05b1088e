"""Call-outs (aktivering): summoning actors' 24/7 contact functions to a conference, and the
per-actor escalation ladder. Pure: no I/O, no clock (every function is handed `now`).

Per summoned actor, with contact points c0..c(n-1) in priority order and a step S:

    stage -1  pending      nothing sent yet
    stage 0   notified     c0 told                       (delivered once c0's channel confirms)
    stage k   escalated    ck told, after S without an answer (k = 1..n-1)
    stage n   escalated    every contact point told at once
    stage n+1 escalated    the owning actor's editors told that this actor is still missing
    deadline  overdue      not answered by the deadline (default 60 min)

An answer ends the ladder: `acknowledged` (a person confirmed, on any channel) or `declined`
(a NEJ reply). An acknowledgement after the deadline still counts (late, but reached); an
acknowledgement wins over an earlier decline; nothing moves an acknowledged actor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from .levels import Classification, ContactKind


class TargetState(str, Enum):
    PENDING = "pending"
    NOTIFIED = "notified"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    DECLINED = "declined"
    ESCALATED = "escalated"
    OVERDUE = "overdue"


ANSWERED = frozenset({TargetState.ACKNOWLEDGED, TargetState.DECLINED})


class CalloutStatus(str, Enum):
    OPEN = "open"
    CLOSED = "closed"


class AckChannel(str, Enum):
    """Where an answer came from (all go through the one acknowledgement function)."""

    WEB = "web"          # the signed-in web button
    LINK = "link"        # the signed one-time link's page (its button, never the GET)
    SMS = "sms"          # an SMS reply "OK <code>"
    RAKEL_SDS = "rakel_sds"
    DTMF = "dtmf"


class Answer(str, Enum):
    ACKNOWLEDGE = "acknowledge"
    DECLINE = "decline"


# The channel a contact point's messages go out on (wire values of notifications.Channel).
CONTACT_CHANNEL = {ContactKind.SMS: "sms", ContactKind.EMAIL: "email",
                   ContactKind.RAKEL_ISSI: "rakel", ContactKind.RAKEL_GSSI: "rakel",
                   ContactKind.PHONE: "phone"}
DEFAULT_STEP = timedelta(minutes=10)
DEFAULT_DEADLINE = timedelta(minutes=60)
CODE_DIGITS = 6


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """How long one contact point gets before the next is tried; when it is too late."""

    step: timedelta = DEFAULT_STEP
    deadline: timedelta = DEFAULT_DEADLINE


@dataclass(frozen=True, slots=True)
class Conference:
    """The samverkanskonferens: content (sealed at rest, carried only where policy allows)."""

    start_at: datetime | None = None
    dial_in: str = ""
    pin: str = ""


@dataclass(frozen=True, slots=True)
class ContactDelivery:
    """The delivery ledger's latest line for a contact point (read from the outbox, never
    written with the call-out): over which channel, what became of it, when."""

    channel: str  # a domain.notifications.Channel value: sms, email, push, rakel
    status: str  # queued | standby | sent | delivered | failed | expired | refused
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    error: str | None = None  # a code, never content


@dataclass(frozen=True, slots=True)
class Reach:
    """Which channel finally reached a summoned actor, and when (the board's "nådd via
    Rakel 03:12"): the first delivery a channel confirmed, else the latest one a channel
    took (e-mail never confirms), else the contact point the answer came from."""

    channel: str
    at: datetime
    confirmed: bool
    contact_id: str


@dataclass(frozen=True, slots=True)
class Contact:
    """One contact point of a summoned actor, as it was when the call-out was made, with its
    short acknowledgement code (one per call-out and contact point)."""

    id: str
    actor_id: str
    position: int
    kind: ContactKind
    address: str
    code: str
    label: str = ""
    notified_at: datetime | None = None  # last time a message was queued for it
    notified_count: int = 0
    delivered_at: datetime | None = None
    delivery: ContactDelivery | None = None  # from the ledger, when loaded with it


@dataclass(frozen=True, slots=True)
class Target:
    """A summoned actor and where its ladder stands."""

    actor_id: str
    started_at: datetime
    stage: int = -1
    stage_at: datetime | None = None
    state: TargetState = TargetState.PENDING
    answered_at: datetime | None = None
    answered_by: str | None = None        # user id (web), or None (link/SMS: a contact point)
    answered_by_name: str = ""
    answer_contact_id: str | None = None
    answer_channel: AckChannel | None = None
    overdue_at: datetime | None = None
    missing_reported_at: datetime | None = None

    @property
    def answered(self) -> bool:
        return self.state in ANSWERED

    @property
    def time_to_answer(self) -> timedelta | None:
        return self.answered_at - self.started_at if self.answered_at is not None else None


@dataclass(frozen=True, slots=True)
class Callout:
    id: str
    space_id: str
    owner_actor_id: str
    created_by: str
    created_at: datetime
    deadline_at: datetime
    classification: Classification
    message: str
    conference: Conference
    exercise: bool
    targets: tuple[Target, ...]
    contacts: tuple[Contact, ...]
    status: CalloutStatus = CalloutStatus.OPEN
    created_by_name: str = ""
    updated_at: datetime | None = None

    def target(self, actor_id: str) -> Target | None:
        for t in self.targets:
            if t.actor_id == actor_id:
                return t
        return None

    def contacts_of(self, actor_id: str) -> tuple[Contact, ...]:
        return tuple(sorted((c for c in self.contacts if c.actor_id == actor_id),
                            key=lambda c: c.position))

    def contact(self, contact_id: str) -> Contact | None:
        for c in self.contacts:
            if c.id == contact_id:
                return c
        return None

    @property
    def audience(self) -> frozenset[str] | None:
        """Who may read it: every participant when public; otherwise the calling actor and
        the summoned ones (they must be able to see what they are called to)."""
        if self.classification is Classification.PUBLIC:
            return None
        return frozenset({self.owner_actor_id, *(t.actor_id for t in self.targets)})

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(t.actor_id for t in self.targets if not t.answered)

    def reach(self, actor_id: str) -> Reach | None:
        """See Reach: from the ledger lines of the actor's contact points."""
        lines = [(c, c.delivery) for c in self.contacts_of(actor_id) if c.delivery]
        confirmed = [(line.delivered_at, c.id, line.channel) for c, line in lines
                     if line.delivered_at is not None]
        if confirmed:
            at, contact_id, channel = min(confirmed)
            return Reach(channel, at, True, contact_id)
        sent = [(line.sent_at, c.id, line.channel) for c, line in lines
                if line.sent_at is not None and line.status in ("sent", "delivered")]
        if sent:
            at, contact_id, channel = max(sent)
            return Reach(channel, at, False, contact_id)
        target = self.target(actor_id)
        answering = self.contact(target.answer_contact_id) \
            if target is not None and target.answer_contact_id else None
        if target is not None and target.answered_at is not None and answering is not None \
                and answering.kind in CONTACT_CHANNEL:
            return Reach(CONTACT_CHANNEL[answering.kind], target.answered_at, True,
                         answering.id)
        return None

    def ledger(self) -> dict[str, dict[str, int]]:
        """Reconciliation: per channel, how many contact points' messages went out, were
        confirmed, failed, and how many answers came back over it (what went out over
        Rakel or SMS set against the digital record of acknowledgements)."""
        result: dict[str, dict[str, int]] = {}
        for c in self.contacts:
            if c.delivery is None:
                continue
            row = result.setdefault(c.delivery.channel, {
                "sent": 0, "delivered": 0, "failed": 0, "acknowledged": 0})
            if c.delivery.sent_at is not None or c.delivery.delivered_at is not None:
                row["sent"] += 1
            if c.delivery.delivered_at is not None:
                row["delivered"] += 1
            if c.delivery.status in ("failed", "expired"):
                row["failed"] += 1
        for t in self.targets:
            answering = self.contact(t.answer_contact_id) if t.answer_contact_id else None
            if t.state is TargetState.ACKNOWLEDGED and answering is not None \
                    and answering.kind in CONTACT_CHANNEL:
                row = result.setdefault(CONTACT_CHANNEL[answering.kind], {
                    "sent": 0, "delivered": 0, "failed": 0, "acknowledged": 0})
                row["acknowledged"] += 1
        return result


# --- the steps a transition asks the service to carry out -------------------------------

@dataclass(frozen=True, slots=True)
class Notify:
    """Queue the call-out message to these contact points (of one actor)."""

    actor_id: str
    contact_ids: tuple[str, ...]
    reason: str  # "first", "next", "all", "now", "added", "failover"


@dataclass(frozen=True, slots=True)
class TellEditors:
    """Tell the owning actor's editors which summoned actors are still missing."""

    missing: tuple[str, ...]
    reason: str  # "escalation", "overdue"


Step = Notify | TellEditors


def _state_for_stage(stage: int, delivered: bool) -> TargetState:
    if stage < 0:
        return TargetState.PENDING
    if stage == 0:
        return TargetState.DELIVERED if delivered else TargetState.NOTIFIED
    return TargetState.ESCALATED


def _enter(target: Target, contacts: tuple[Contact, ...], stage: int, now: datetime,
           reason: str) -> tuple[Target, list[Step]]:
    n = len(contacts)
    moved = replace(target, stage=stage, stage_at=now, state=_state_for_stage(stage, False))
    if stage < n:
        return moved, [Notify(target.actor_id, (contacts[stage].id,), reason)]
    if stage == n and n:
        return moved, [Notify(target.actor_id, tuple(c.id for c in contacts), reason)]
    return replace(moved, stage=n + 1, state=TargetState.ESCALATED,
                   missing_reported_at=now), [
        TellEditors((target.actor_id,), "escalation")]


def start(target: Target, contacts: tuple[Contact, ...], now: datetime,
          reason: str = "first") -> tuple[Target, list[Step]]:
    """Begin the ladder: the first contact point (or, with none, the editors at once)."""
    if target.stage >= 0 or target.answered or target.state is TargetState.OVERDUE:
        return target, []
    return _enter(target, contacts, 0, now, reason)


def advance(target: Target, contacts: tuple[Contact, ...], now: datetime,
            policy: EscalationPolicy, deadline_at: datetime) -> tuple[Target, list[Step]]:
    """One due transition of an actor's ladder at `now` (none if nothing is due)."""
    if target.answered or target.state is TargetState.OVERDUE:
        return target, []
    if now >= deadline_at:
        return replace(target, state=TargetState.OVERDUE, overdue_at=now), []
    if target.stage < 0:
        return start(target, contacts, now)
    n = len(contacts)
    if target.stage > n or target.stage_at is None or now < target.stage_at + policy.step:
        return target, []
    return _enter(target, contacts, target.stage + 1, now, "next" if target.stage + 1 < n
                  else "all")


def escalate_now(target: Target, contacts: tuple[Contact, ...], now: datetime
                 ) -> tuple[Target, list[Step]]:
    """The board's "escalate now": every contact point at once (or, if that was done, the
    editors)."""
    if target.answered or target.state is TargetState.OVERDUE:
        return target, []
    n = len(contacts)
    if target.stage < n:
        return _enter(target, contacts, n, now, "now")
    if target.stage == n:
        return _enter(target, contacts, n + 1, now, "now")
    return target, []


def failed(target: Target, contacts: tuple[Contact, ...], contact_id: str, now: datetime
           ) -> tuple[Target, list[Step]]:
    """A channel gave up on a contact point for good (its send failed, its delivery report
    said failed, or its channel's breaker is open): if that was the contact point the ladder
    stands on, go on to the next one now rather than when the step runs out."""
    if target.answered or target.state is TargetState.OVERDUE:
        return target, []
    n = len(contacts)
    if not 0 <= target.stage < n or contacts[target.stage].id != contact_id:
        return target, []
    return _enter(target, contacts, target.stage + 1, now,
                  "failover" if target.stage + 1 < n else "all")


def next_due(target: Target, contacts: tuple[Contact, ...], policy: EscalationPolicy,
             deadline_at: datetime) -> datetime | None:
    """When `advance` will next have something to do for this actor (None: never)."""
    if target.answered or target.state is TargetState.OVERDUE:
        return None
    if target.stage < 0 or target.stage_at is None:
        return target.started_at
    if target.stage > len(contacts):
        return deadline_at
    return min(target.stage_at + policy.step, deadline_at)


def answer(target: Target, contact_id: str | None, how: Answer, now: datetime,
           channel: AckChannel, by_user: str | None = None, by_name: str = ""
           ) -> tuple[Target, bool]:
    """Record an answer; returns (target, changed). Idempotent: a repeat changes nothing."""
    if target.state is TargetState.ACKNOWLEDGED:
        return target, False
    if how is Answer.DECLINE and target.state is TargetState.DECLINED:
        return target, False
    state = TargetState.ACKNOWLEDGED if how is Answer.ACKNOWLEDGE else TargetState.DECLINED
    return replace(target, state=state, answered_at=now, answered_by=by_user,
                   answered_by_name=by_name, answer_contact_id=contact_id,
                   answer_channel=channel), True


def delivered(target: Target, contact: Contact, now: datetime) -> tuple[Target, Contact]:
    """A channel confirmed delivery to a contact point (moves `notified` to `delivered`)."""
    contact = replace(contact, delivered_at=contact.delivered_at or now)
    if target.state is TargetState.NOTIFIED:
        target = replace(target, state=TargetState.DELIVERED)
    return target, contact


def tick(callout: Callout, now: datetime, policy: EscalationPolicy
         ) -> tuple[Callout, list[Step]]:
    """Every due transition of an open call-out at `now`; the editors get ONE message listing
    who is missing, and one more when the deadline passes with actors still missing."""
    if callout.status is not CalloutStatus.OPEN:
        return callout, []
    targets: list[Target] = []
    steps: list[Step] = []
    escalation_missing: list[str] = []
    became_overdue: list[str] = []
    for t in callout.targets:
        moved, done = advance(t, callout.contacts_of(t.actor_id), now, policy,
                              callout.deadline_at)
        if moved.state is TargetState.OVERDUE and t.state is not TargetState.OVERDUE:
            became_overdue.append(t.actor_id)
        for step in done:
            if isinstance(step, TellEditors):
                escalation_missing.extend(step.missing)
            else:
                steps.append(step)
        targets.append(moved)
    if escalation_missing:
        steps.append(TellEditors(tuple(escalation_missing), "escalation"))
    if became_overdue:
        steps.append(TellEditors(tuple(became_overdue), "overdue"))
    return replace(callout, targets=tuple(targets)), steps


def next_due_at(callout: Callout, policy: EscalationPolicy) -> datetime | None:
    if callout.status is not CalloutStatus.OPEN:
        return None
    moments = [m for t in callout.targets
               if (m := next_due(t, callout.contacts_of(t.actor_id), policy,
                                 callout.deadline_at)) is not None]
    return min(moments) if moments else None


# --- the words that leave the house --------------------------------------------------------
# The channel renderer adds the ÖVNING mark of an exercise and the link (never cut off); the
# code comes first so that no cut to a channel's length can take it away.

_LEVEL_WORD = {Classification.SEKRETESS: "SEKRETESS", Classification.HEMLIG: "HEMLIG"}


def ack_line(code: str) -> str:
    return f"Svara OK {code} för att kvittera."


def message_text(callout: Callout, contact: Contact, *, carry_content: bool,
                 actor_name: str = "") -> tuple[str, str]:
    """(subject, body) of the call-out for one contact point. With `carry_content` False the
    body is a content-free pointer: no message, no dial-in, no PIN — only that there is a
    call-out, how to acknowledge it, and to sign in for the rest."""
    subject = "AKTIVERING – samverkanskonferens"
    if not carry_content:
        level = _LEVEL_WORD.get(callout.classification, callout.classification.value.upper())
        return subject, (f"AKTIVERING i WIS ({level}) – logga in för att läsa. "
                         f"{ack_line(contact.code)}")
    conf = callout.conference
    parts = ["AKTIVERING" + (f" från {actor_name}" if actor_name else "") + ". "
             + ack_line(contact.code)]
    details = []
    if conf.start_at is not None:
        details.append(f"Konferens {conf.start_at.strftime('%Y-%m-%d %H:%M')} UTC")
    if conf.dial_in:
        details.append(f"ring {conf.dial_in}")
    if conf.pin:
        details.append(f"PIN {conf.pin}")
    if details:
        parts.append(", ".join(details) + ".")
    parts.append(callout.message.strip())
    return subject, " ".join(parts)


def missing_text(callout: Callout, names: dict[str, str], missing: tuple[str, ...],
                 reason: str) -> tuple[str, str]:
    """The editors' message: who is still missing (actor names only, never content)."""
    answered = sum(1 for t in callout.targets if t.answered)
    who = ", ".join(names.get(a, a) for a in missing)
    head = "Aktivering försenad" if reason == "overdue" else "Aktivering: ej kvitterad"
    body = (f"{head} – saknas: {who} ({answered} av {len(callout.targets)} har svarat). "
            "Se aktiveringstavlan i WIS.")
    return head, body
