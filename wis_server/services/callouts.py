"""Call-outs (aktivering): create, read, answer, escalate — the walk of DESIGN.md §3 and §7.

    create ── one transaction ──▶ callout + targets + contacts + event + audit + outbox rows
    escalation loop (supervised) ─▶ due call-outs ─▶ domain.callouts.tick ─▶ outbox + event
    web button / link page POST / SMS "OK <code>" / (Rakel SDS, DTMF) ─▶ acknowledge() ─▶ event

Every change is a `callout.created` / `callout.updated` event in the space's log (live to the
board); every read goes through `classification.policy.decide`.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from ..channels.sms_webhooks import Reply, ReplyKind
from ..classification.channel_policy import ChannelKind, may_carry
from ..classification.policy import Action, Reason, decide
from ..domain import callouts as ladder
from ..domain.audit import AuditRecord
from ..domain.callouts import (
    AckChannel,
    Answer,
    Callout,
    CalloutStatus,
    Conference,
    Contact,
    EscalationPolicy,
    Notify,
    Step,
    Target,
    TellEditors,
)
from ..domain.codes import Code
from ..domain.errors import Forbidden, NotFound, ValidationFailed, WisError
from ..domain.events import EventKind
from ..domain.levels import Classification, ContactKind, Role
from ..domain.model import ItemLabel, Principal, Space
from ..domain.notifications import Channel
from ..domain.outbox import Address, Attempt, OutboxDraft
from ..domain.outbox import Recipient as OutboxRecipient
from .audit import ItemRead, record_reads
from .callout_links import LinkSigner
from .idempotency import fingerprint, previous_result, remember, retrying_on_race
from .ports import Clock, EventPublisher, Outbox, Transaction, UnitOfWork
from .spaces import visible_space

CREATED = EventKind.CALLOUT_CREATED
UPDATED = EventKind.CALLOUT_UPDATED
MAX_TARGETS = 500
LINK_GRACE = timedelta(hours=24)  # links and codes keep working this long past the deadline

log = structlog.get_logger("wis.callouts")


class CodeInvalid(WisError):
    code = Code.CODE_INVALID
    status = 422


class CalloutClosed(WisError):
    code = Code.CALLOUT_CLOSED
    status = 409


# The contact point kinds a message can go to, and over which outbox channel; phone (voice,
# DTMF) contact points are on the ladder only where the phone adapter is (WIS_PHONE_PROVIDER).
CHANNEL_OF = {ContactKind.SMS: Channel.SMS, ContactKind.EMAIL: Channel.EMAIL,
              ContactKind.RAKEL_ISSI: Channel.RAKEL, ContactKind.RAKEL_GSSI: Channel.RAKEL,
              ContactKind.PHONE: Channel.PHONE}
NUMBER_KINDS = frozenset({ContactKind.PHONE, ContactKind.SMS})  # telephone numbers


def contact_address(kind: ContactKind, value: str) -> str:
    """A contact point's address as its channel takes it: a number in comparison form, an
    e-mail address, or `issi:<ssi>` / `gssi:<ssi>` for the Rakel gateway (never a Rakel SSI
    read as a telephone number)."""
    if kind in NUMBER_KINDS:
        return normalise_number(value)
    if kind is ContactKind.RAKEL_ISSI:
        return f"issi:{int(value)}"
    if kind is ContactKind.RAKEL_GSSI:
        return f"gssi:{int(value)}"
    return value.strip()


def carries_content(channel: Channel, level: Classification) -> bool:
    """May this channel carry the call-out's content (message, dial-in, PIN)? The one
    channel policy decides (classification.channel_policy)."""
    return may_carry(ChannelKind(channel.value), level)


@dataclass(frozen=True, slots=True)
class AckResult:
    callout_id: str
    actor_id: str
    changed: bool
    state: str


@dataclass(frozen=True, slots=True)
class LinkPage:
    """What the acknowledgement page may show: nothing classified unless public."""

    callout_id: str
    actor_name: str
    exercise: bool
    classification: Classification
    message: str          # empty unless the call-out is public
    conference: Conference  # empty unless public
    state: str
    answered_at: datetime | None
    deadline_at: datetime
    contact_label: str


def _label(callout: Callout) -> ItemLabel:
    return ItemLabel(callout.classification, callout.audience, callout.owner_actor_id)


def _new_codes(count: int, taken: set[str]) -> list[str]:
    codes: list[str] = []
    while len(codes) < count:
        code = f"{secrets.randbelow(10 ** ladder.CODE_DIGITS):0{ladder.CODE_DIGITS}d}"
        if code not in taken:
            taken.add(code)
            codes.append(code)
    return codes


def _personal(user_id: str, actor_id: str) -> OutboxRecipient:
    """A person, over their own channels (their addresses from their preferences at send
    time): e-mail first, then SMS if that fails."""
    return OutboxRecipient((Attempt(Channel.EMAIL, Address(preference=Channel.EMAIL), 0),
                            Attempt(Channel.SMS, Address(preference=Channel.SMS), 1)),
                           user_id=user_id, actor_id=actor_id)


def normalise_number(number: str) -> str:
    """E.164-ish comparison form: digits with a leading +, `00` read as `+`."""
    digits = "".join(ch for ch in number if ch.isdigit() or ch == "+")
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    return digits


class Callouts:
    def __init__(self, store: UnitOfWork, clock: Clock, publisher: EventPublisher, outbox: Outbox,
                 links: LinkSigner, policy: EscalationPolicy | None = None,
                 wake: Callable[[], None] = lambda: None, *, phone: bool = False) -> None:
        self.wake = wake  # the dispatcher: new outbox rows are committed
        self.phone = phone  # phone contact points are called (the phone adapter is on)
        self.store = store
        self.clock = clock
        self.publisher = publisher
        self.outbox = outbox
        self.links = links
        self.policy = policy or EscalationPolicy()

    # --- create ------------------------------------------------------------------------

    async def create(self, principal: Principal, space_id: str, *,
                     actor_ids: Sequence[str] | None, list_id: str | None, message: str,
                     conference: Conference, deadline_minutes: int | None,
                     classification: Classification = Classification.PUBLIC,
                     idempotency_key: str | None = None) -> Callout:
        print_ = fingerprint("callout.create", [
            space_id, sorted(actor_ids) if actor_ids is not None else None, list_id, message,
            conference.start_at, conference.dial_in, conference.pin, deadline_minutes,
            classification.value])

        async def attempt() -> str:
            now = self.clock()
            async with self.store.write() as tx:
                space = await visible_space(tx, principal, space_id)
                earlier = await previous_result(tx, principal.user_id, idempotency_key, print_)
                if earlier is not None:
                    return earlier
                self._check_call_out(principal, space, classification)
                wanted = await self._resolve_actors(tx, principal, actor_ids, list_id)
                self._check_participants(space, wanted)
                deadline = timedelta(minutes=deadline_minutes) if deadline_minutes \
                    else self.policy.deadline
                callout_id = str(uuid.uuid4())
                contacts = await self._contacts(tx, callout_id, wanted, set())
                callout = Callout(
                    callout_id, space.id, principal.actor_id, principal.user_id, now,
                    now + deadline, classification, message.strip(), conference,
                    space.is_exercise, tuple(Target(a, now) for a in wanted),
                    tuple(contacts), created_by_name=principal.display_name, updated_at=now)
                started, steps = ladder.tick(callout, now, self.policy)
                key = await tx.callouts.new_key(classification)
                await remember(tx, principal.user_id, idempotency_key, print_, "callout",
                               callout_id, now)
                done = await self._carry_out(tx, space, started, steps, now)
                await tx.callouts.add(done, key, ladder.next_due_at(done, self.policy))
                seq = await tx.spaces.append_event(space.id, CREATED, callout_id, now)
                await tx.audit.append(AuditRecord(
                    "callout.create", user_id=principal.user_id, actor_id=principal.actor_id,
                    target_type="callout", target_id=callout_id, space_id=space.id,
                    detail={"seq": seq, "level": classification.value, "actors": wanted,
                            "contact_points": len(contacts),
                            "deadline": done.deadline_at.isoformat()}), now)
            self.publisher.space_changed(space.id, seq)
            self.wake()
            return callout_id

        callout_id = await retrying_on_race(attempt)
        return await self.get(principal, callout_id)

    def _check_call_out(self, principal: Principal, space: Space,
                        level: Classification) -> None:
        decision = decide(principal, Action.CALL_OUT, space,
                          ItemLabel(level, None, principal.actor_id))
        if decision:
            return
        if decision.reason is Reason.SPACE_CLOSED:
            raise Forbidden("the space is closed", code=Code.SPACE_CLOSED)
        if decision.reason is Reason.LEVEL_ABOVE_SPACE_CEILING:
            raise ValidationFailed("classification above the space's ceiling",
                                   code=Code.CLASSIFICATION_ABOVE_CEILING, field="classification")
        if decision.reason is Reason.LEVEL_ABOVE_CLEARANCE:
            raise ValidationFailed("classification above your clearance",
                                   code=Code.CLASSIFICATION_ABOVE_CLEARANCE,
                                   field="classification")
        raise Forbidden("only editors in the space call actors out",
                        code=Code.SPACE_ROLE_TOO_LOW)

    async def _resolve_actors(self, tx: Transaction, principal: Principal,
                              actor_ids: Sequence[str] | None, list_id: str | None
                              ) -> list[str]:
        if (actor_ids is None) == (list_id is None):
            raise ValidationFailed("give either actor_ids or list_id", code=Code.ACTORS_OR_LIST,
                                   field="actor_ids")
        if list_id is not None:
            saved = await tx.callouts.get_list(list_id)
            if saved is None or saved.owner_actor_id != principal.actor_id:
                raise NotFound("no such call-out list", code=Code.NOT_FOUND)
            actor_ids = saved.actor_ids
        wanted = list(dict.fromkeys(actor_ids or ()))
        if not wanted:
            raise ValidationFailed("summon at least one actor", code=Code.NO_ACTORS,
                                   field="actor_ids")
        if len(wanted) > MAX_TARGETS:
            raise ValidationFailed(f"at most {MAX_TARGETS} actors", code=Code.TOO_MANY_ACTORS,
                                   field="actor_ids")
        return wanted

    def _check_participants(self, space: Space, wanted: Sequence[str]) -> None:
        outside = sorted(set(wanted) - space.participant_ids)
        if outside:
            raise ValidationFailed(
                "only actors participating in the space can be called out; not "
                f"participating: {', '.join(outside)}", code=Code.ACTOR_NOT_PARTICIPANT,
                field="actor_ids")

    async def _contacts(self, tx: Transaction, callout_id: str, actor_ids: Sequence[str],
                        taken: set[str]) -> list[Contact]:
        result: list[Contact] = []
        # Many actors: one query for all of them rather than one each.
        known = {a.id: a for a in await tx.actors.all()} if len(actor_ids) > 8 else None
        for actor_id in actor_ids:
            actor = known.get(actor_id) if known is not None else await tx.actors.get(actor_id)
            if actor is None:
                raise ValidationFailed(f"no such actor: {actor_id}", code=Code.UNKNOWN_ACTOR,
                                       field="actor_ids")
            points = sorted((p for p in actor.contact_points if p.kind in CHANNEL_OF
                             and (self.phone or p.kind is not ContactKind.PHONE)),
                            key=lambda p: p.priority)
            codes = _new_codes(len(points), taken)
            result += [Contact(str(uuid.uuid4()), actor_id, i, p.kind,
                               contact_address(p.kind, p.value), code, p.label)
                       for i, (p, code) in enumerate(zip(points, codes, strict=True))]
        return result

    # --- carrying out the ladder's steps -----------------------------------------------

    async def _carry_out(self, tx: Transaction, space: Space, callout: Callout,
                         steps: Sequence[Step], now: datetime) -> Callout:
        """Queue what the steps ask for, in this transaction; returns the call-out with its
        contact points' notification times updated."""
        contacts = {c.id: c for c in callout.contacts}
        names: dict[str, str] | None = None
        for step in steps:
            if isinstance(step, Notify):
                if step.actor_id not in space.participant_ids:
                    # Never outside the space (for an exercise, outside the exercise): an
                    # actor that left since it was summoned is refused, and that is logged.
                    log.warning("call-out recipient refused: actor not participating",
                                callout_id=callout.id, actor_id=step.actor_id)
                    await tx.audit.append(AuditRecord(
                        "callout.recipient_refused", outcome="refused",
                        actor_id=step.actor_id, target_type="callout", target_id=callout.id,
                        space_id=space.id, detail={"reason": "not participating"}), now)
                    continue
                if names is None:
                    names = await self._actor_names(tx, [callout.owner_actor_id])
                for contact_id in step.contact_ids:
                    contact = contacts[contact_id]
                    await self._notify(tx, space, callout, contact, names.get(
                        callout.owner_actor_id, ""), now)
                    contacts[contact_id] = replace(contact, notified_at=now,
                                                   notified_count=contact.notified_count + 1)
            elif isinstance(step, TellEditors):
                await self._tell_editors(tx, space, callout, step, now)
        return replace(callout, contacts=tuple(contacts[c.id] for c in callout.contacts))

    async def _notify(self, tx: Transaction, space: Space, callout: Callout, contact: Contact,
                      owner_name: str, now: datetime) -> None:
        channel = CHANNEL_OF[contact.kind]
        carry = carries_content(channel, callout.classification)
        subject, body = ladder.message_text(callout, contact, carry_content=carry,
                                            actor_name=owner_name)
        await self.outbox.enqueue(tx, OutboxDraft(
            kind="callout", classification=callout.classification if carry
            else Classification.PUBLIC,  # the level of what the body holds
            subject=subject, body=body, expires_at=callout.deadline_at + LINK_GRACE,
            space_id=callout.space_id, ref_id=callout.id,
            author_actor_id=callout.owner_actor_id, exercise=callout.exercise,
            link=self.links.link(contact.id, callout.deadline_at + LINK_GRACE),
            created_by=callout.created_by,
            recipients=(OutboxRecipient((Attempt(channel, Address(to=contact.address), 0),),
                                        actor_id=contact.actor_id, ref=contact.id),)),
            now, space)

    async def _tell_editors(self, tx: Transaction, space: Space, callout: Callout,
                            step: TellEditors, now: datetime) -> None:
        names = await self._actor_names(tx, step.missing)
        subject, body = ladder.missing_text(callout, names, step.missing, step.reason)
        editors = [u for u in await tx.users.of_actor(callout.owner_actor_id)
                   if u.active and u.role is Role.EDITOR]
        if editors:
            await self.outbox.enqueue(tx, OutboxDraft(
                kind="callout.missing", classification=Classification.PUBLIC,
                subject=subject, body=body, expires_at=callout.deadline_at + LINK_GRACE,
                space_id=callout.space_id, ref_id=callout.id,
                author_actor_id=callout.owner_actor_id, exercise=callout.exercise,
                link=f"/#/spaces/{callout.space_id}", created_by=callout.created_by,
                recipients=tuple(_personal(u.id, u.actor_id) for u in editors)), now, space)
        await tx.audit.append(AuditRecord(
            "callout.missing_reported", actor_id=callout.owner_actor_id,
            target_type="callout", target_id=callout.id, space_id=callout.space_id,
            detail={"missing": list(step.missing), "reason": step.reason,
                    "editors": len(editors)}), now)

    async def _actor_names(self, tx: Transaction, actor_ids: Sequence[str]) -> dict[str, str]:
        names = {}
        for actor_id in dict.fromkeys(actor_ids):
            actor = await tx.actors.get(actor_id)
            if actor is not None:
                names[actor_id] = actor.name
        return names

    # --- reading -----------------------------------------------------------------------

    async def get(self, principal: Principal, callout_id: str) -> Callout:
        async with self.store.read() as tx:
            callout = await self._visible(tx, principal, callout_id)
        await self._audit_reads(principal, [callout])
        return callout

    async def for_space(self, principal: Principal, space_id: str) -> list[Callout]:
        async with self.store.read() as tx:
            space = await visible_space(tx, principal, space_id)
            found = [c for c in await tx.callouts.for_space(space.id)
                     if decide(principal, Action.READ, space, _label(c))]
        await self._audit_reads(principal, found)
        return found

    async def _visible(self, tx: Transaction, principal: Principal, callout_id: str, *,
                       lock: bool = False) -> Callout:
        labelled = await tx.callouts.label(callout_id, lock=lock)
        if labelled is None:
            raise NotFound("no such call-out")
        space_id, label = labelled
        space = await tx.spaces.get(space_id, content=False)
        if space is None or not decide(principal, Action.READ, space, label):
            raise NotFound("no such call-out")
        callout = await tx.callouts.get(callout_id)
        assert callout is not None
        return callout

    async def _audit_reads(self, principal: Principal, items: Sequence[Callout]) -> None:
        classified = [c for c in items if c.classification is not Classification.PUBLIC]
        if classified:
            async with self.store.write() as tx:
                await record_reads(tx, user_id=principal.user_id, actor_id=principal.actor_id,
                                   reads=[ItemRead("callout", c.id, c.space_id,
                                                   c.classification) for c in classified],
                                   now=self.clock())

    # --- the one acknowledgement function ------------------------------------------------

    async def acknowledge(self, callout_id: str, *, contact_id: str | None, code: str | None,
                          channel: AckChannel, answer: Answer = Answer.ACKNOWLEDGE,
                          by: Principal | None = None, actor_id: str | None = None
                          ) -> AckResult:
        """Every way of answering ends here: the web button (a signed-in `by`, for their
        actor), the link page's button (`contact_id` from the signed link), an SMS reply,
        a Rakel SDS and phone DTMF (`code`, or the contact point the call came from).
        Idempotent: a repeat answers with the state as it is and changes nothing."""
        now = self.clock()
        async with self.store.write() as tx:
            labelled = await tx.callouts.label(callout_id, lock=True)
            if labelled is None:
                raise NotFound("no such call-out")
            callout = await tx.callouts.get(callout_id, content=False)
            assert callout is not None
            contact = callout.contact(contact_id) if contact_id else None
            if contact_id and contact is None:
                raise NotFound("no such call-out")
            if code is not None:
                matching = [c for c in callout.contacts if c.code == code and
                            (contact is None or c.id == contact.id) and
                            (actor_id is None or c.actor_id == actor_id)]
                if not matching:
                    await tx.audit.append(AuditRecord(
                        "callout.code_refused", outcome="refused",
                        user_id=by.user_id if by else None,
                        actor_id=by.actor_id if by else None, target_type="callout",
                        target_id=callout_id, space_id=callout.space_id,
                        detail={"channel": channel.value}), now)
                    raise CodeInvalid("that code does not answer this call-out",
                                      field="code")
                contact = matching[0]
            target_actor = contact.actor_id if contact else actor_id
            target = callout.target(target_actor) if target_actor else None
            if target is None:
                raise Forbidden("your actor is not summoned by this call-out",
                                code=Code.NOT_SUMMONED)
            moved, changed = ladder.answer(
                target, contact.id if contact else None, answer, now, channel,
                by.user_id if by else None, by.display_name if by else "")
            if not changed:
                return AckResult(callout_id, target.actor_id, False, target.state.value)
            if callout.status is not CalloutStatus.OPEN or \
                    now >= callout.deadline_at + LINK_GRACE:
                raise CalloutClosed("this call-out is closed; nothing to acknowledge")
            after = replace(callout, targets=tuple(moved if t.actor_id == target.actor_id
                                                   else t for t in callout.targets))
            await tx.callouts.save(callout, after, ladder.next_due_at(after, self.policy), now)
            seq = await tx.spaces.append_event(callout.space_id, UPDATED, callout_id, now)
            await tx.audit.append(AuditRecord(
                f"callout.{'acknowledge' if answer is Answer.ACKNOWLEDGE else 'decline'}",
                user_id=by.user_id if by else None,
                actor_id=by.actor_id if by else target.actor_id, target_type="callout",
                target_id=callout_id, space_id=callout.space_id,
                detail={"seq": seq, "summoned": target.actor_id, "channel": channel.value,
                        "contact_point": contact.id if contact else None,
                        "seconds": int((now - target.started_at).total_seconds())}), now)
        self.publisher.space_changed(callout.space_id, seq)
        return AckResult(callout_id, target.actor_id, True, moved.state.value)

    async def acknowledge_web(self, principal: Principal, callout_id: str, *,
                              code: str | None = None, answer: Answer = Answer.ACKNOWLEDGE
                              ) -> AckResult:
        """The signed-in button: a person of a summoned actor answers for their actor."""
        async with self.store.read() as tx:
            await self._visible(tx, principal, callout_id)
        return await self.acknowledge(callout_id, contact_id=None, code=code,
                                      channel=AckChannel.WEB, answer=answer, by=principal,
                                      actor_id=principal.actor_id)

    # --- the signed link ---------------------------------------------------------------

    async def link_page(self, token: str) -> LinkPage:
        claim = self.links.verify(token, self.clock())
        async with self.store.read() as tx:
            ref = await tx.callouts.contact_ref(claim.contact_id)
            if ref is None:
                raise NotFound("no such link", code=Code.LINK_INVALID)
            callout = await tx.callouts.get(ref.callout_id)
            assert callout is not None
            contact = callout.contact(claim.contact_id)
            assert contact is not None
            target = callout.target(contact.actor_id)
            assert target is not None
            names = await self._actor_names(tx, [callout.owner_actor_id])
        public = callout.classification is Classification.PUBLIC
        return LinkPage(callout.id, names.get(callout.owner_actor_id, ""), callout.exercise,
                        callout.classification, callout.message if public else "",
                        callout.conference if public else Conference(), target.state.value,
                        target.answered_at, callout.deadline_at, contact.label)

    async def acknowledge_link(self, token: str, answer: Answer = Answer.ACKNOWLEDGE
                               ) -> AckResult:
        claim = self.links.verify(token, self.clock())
        async with self.store.read() as tx:
            ref = await tx.callouts.contact_ref(claim.contact_id)
        if ref is None:
            raise NotFound("no such link", code=Code.LINK_INVALID)
        return await self.acknowledge(ref.callout_id, contact_id=claim.contact_id, code=None,
                                      channel=AckChannel.LINK, answer=answer)

    # --- SMS replies ---------------------------------------------------------------------

    async def sms_reply(self, sender: str, reply: Reply) -> str:
        """An inbound SMS (parsed by channels.sms_webhooks): `OK <code>` acknowledges,
        `NEJ <code>` declines, STOP is an alarm to the sender's actor's admins (never
        silence). Returns what happened (a word, for the log and the webhook's header)."""
        number = normalise_number(sender)
        now = self.clock()
        if reply.kind is ReplyKind.STOP:
            await self.alarm_stop(number, now)
            return "stop"
        if reply.kind is ReplyKind.OTHER or not reply.code:
            async with self.store.write() as tx:
                await tx.audit.append(AuditRecord(
                    "callout.reply_unmatched", outcome="refused", target_type="sms",
                    detail={"reason": "not a reply"}), now)
            return "unknown"
        async with self.store.read() as tx:
            matches = await tx.callouts.by_code(reply.code, number)
        if not matches:
            async with self.store.write() as tx:
                await tx.audit.append(AuditRecord(
                    "callout.reply_unmatched", outcome="refused", target_type="sms",
                    detail={"reason": "no open call-out with that code from that number"}),
                    now)
            return "unmatched"
        found = matches[0]
        try:
            result = await self.acknowledge(
                found.callout_id, contact_id=found.contact_id, code=reply.code,
                channel=AckChannel.SMS,
                answer=Answer.ACKNOWLEDGE if reply.kind is ReplyKind.ACKNOWLEDGE
                else Answer.DECLINE)
        except CalloutClosed:
            return "closed"
        return result.state

    # --- Rakel SDS replies ---------------------------------------------------------------

    async def rakel_reply(self, sender: str | None, destination: str, reply: Reply) -> str:
        """An inbound SDS `OK <code>` / `NEJ <code>` (parsed like an SMS reply): the code must
        belong to an open call-out's contact point of the sender's ISSI, or of the talkgroup
        the reply was sent to. Returns what happened (a word, for the log)."""
        now = self.clock()
        if reply.kind not in (ReplyKind.ACKNOWLEDGE, ReplyKind.DECLINE) or not reply.code:
            return "unknown"
        addresses = [f"issi:{int(sender)}"] if sender and sender.isdigit() else []
        if destination.isdigit():
            addresses.append(f"gssi:{int(destination)}")
        matches = []
        async with self.store.read() as tx:
            for address in addresses:
                matches += await tx.callouts.by_code(reply.code, address)
        if not matches:
            async with self.store.write() as tx:
                await tx.audit.append(AuditRecord(
                    "callout.reply_unmatched", outcome="refused", target_type="rakel_sds",
                    detail={"reason": "no open call-out with that code from that ISSI"}), now)
            return "unmatched"
        found = matches[0]
        try:
            result = await self.acknowledge(
                found.callout_id, contact_id=found.contact_id, code=reply.code,
                channel=AckChannel.RAKEL_SDS,
                answer=Answer.ACKNOWLEDGE if reply.kind is ReplyKind.ACKNOWLEDGE
                else Answer.DECLINE)
        except CalloutClosed:
            return "closed"
        return result.state

    async def alarm_stop(self, number: str, now: datetime) -> None:
        """A STOP reply: the actors whose contact point this number is are told through
        their admins (audit record + outbox message to each admin) — never silence."""
        async with self.store.write() as tx:
            owners = [actor for actor in await tx.actors.all()
                      if any(p.kind in NUMBER_KINDS
                             and normalise_number(p.value) == number
                             for p in actor.contact_points)]
            for actor in owners:
                await self._alarm(tx, actor.id, actor.name, "stop", now)
            if not owners:
                await tx.audit.append(AuditRecord(
                    "contact_point.alarm", outcome="error", target_type="sms",
                    detail={"reason": "stop", "known": False}), now)
        self.wake()

    async def record_failure(self, contact_id: str) -> None:
        """The dispatcher gave up on a call-out message for good (a permanent failure, a
        failed delivery report, or its channel is down): an alarm to the contact point's
        actor's admins, and the ladder goes on to the actor's next contact point at once."""
        now = self.clock()
        seq = None
        async with self.store.write() as tx:
            ref = await tx.callouts.contact_ref(contact_id)
            if ref is None:
                return
            await tx.callouts.label(ref.callout_id, lock=True)
            callout = await tx.callouts.get(ref.callout_id)
            contact = callout.contact(contact_id) if callout else None
            if callout is None or contact is None:
                return
            actor = await tx.actors.get(contact.actor_id)
            await self._alarm(tx, contact.actor_id, actor.name if actor else "",
                              "permanent_failure", now, callout_id=ref.callout_id)
            target = callout.target(contact.actor_id)
            space = await tx.spaces.get(callout.space_id, content=False)
            if target is not None and space is not None \
                    and callout.status is CalloutStatus.OPEN:
                moved, steps = ladder.failed(target, callout.contacts_of(target.actor_id),
                                             contact_id, now)
                if steps:
                    turned = replace(callout, targets=tuple(
                        moved if t.actor_id == moved.actor_id else t for t in callout.targets))
                    after = await self._carry_out(tx, space, turned, steps, now)
                    await tx.callouts.save(callout, after,
                                           ladder.next_due_at(after, self.policy), now)
                    seq = await tx.spaces.append_event(callout.space_id, UPDATED, callout.id,
                                                       now)
                    await tx.audit.append(AuditRecord(
                        "callout.failover", target_type="callout", target_id=callout.id,
                        space_id=callout.space_id, actor_id=callout.owner_actor_id,
                        detail={"seq": seq, "summoned": target.actor_id,
                                "failed_contact_point": contact_id,
                                "steps": len(steps)}), now)
        if seq is not None and callout is not None:
            self.publisher.space_changed(callout.space_id, seq)
        self.wake()

    async def _alarm(self, tx: Transaction, actor_id: str, actor_name: str, reason: str,
                     now: datetime, callout_id: str | None = None) -> None:
        admins = [u for u in await tx.users.of_actor(actor_id)
                  if u.active and u.role is Role.ACTOR_ADMIN]
        await tx.audit.append(AuditRecord(
            "contact_point.alarm", outcome="error", actor_id=actor_id, target_type="actor",
            target_id=actor_id, detail={"reason": reason, "admins": len(admins),
                                        "callout": callout_id}), now)
        log.warning("contact point alarm", actor_id=actor_id, reason=reason)
        if not admins:
            return
        body = (f"LARM: en kontaktväg för {actor_name} svarade STOP och kan sluta ta emot "
                "aktiveringar. Kontrollera kontaktvägarna i WIS." if reason == "stop" else
                f"LARM: en kontaktväg för {actor_name} gick inte att nå (permanent fel) vid "
                "en aktivering. Kontrollera kontaktvägarna i WIS.")
        await self.outbox.enqueue(tx, OutboxDraft(
            kind="contact_point.alarm", classification=Classification.PUBLIC,
            subject="LARM: kontaktväg", body=body, expires_at=now + timedelta(days=1),
            ref_id=actor_id, author_actor_id=actor_id,
            recipients=tuple(_personal(u.id, actor_id) for u in admins)), now)

    async def record_delivery(self, contact_id: str) -> None:
        """The dispatcher's delivery receipt for a call-out message (notified → delivered)."""
        now = self.clock()
        async with self.store.write() as tx:
            ref = await tx.callouts.contact_ref(contact_id)
            if ref is None:
                return
            await tx.callouts.label(ref.callout_id, lock=True)
            callout = await tx.callouts.get(ref.callout_id, content=False)
            assert callout is not None
            contact = callout.contact(contact_id)
            target = callout.target(contact.actor_id) if contact else None
            if contact is None or target is None or contact.delivered_at is not None:
                return
            moved, contact2 = ladder.delivered(target, contact, now)
            after = replace(callout, targets=tuple(moved if t.actor_id == moved.actor_id
                                                   else t for t in callout.targets),
                            contacts=tuple(contact2 if c.id == contact_id else c
                                           for c in callout.contacts))
            await tx.callouts.save(callout, after, ladder.next_due_at(after, self.policy), now)
            seq = await tx.spaces.append_event(callout.space_id, UPDATED, callout.id, now)
        self.publisher.space_changed(callout.space_id, seq)

    # --- the board's operations ---------------------------------------------------------

    async def escalate_now(self, principal: Principal, callout_id: str) -> Callout:
        await self._change(principal, callout_id, "callout.escalate_now", self._escalate)
        return await self.get(principal, callout_id)

    async def add_actors(self, principal: Principal, callout_id: str,
                         actor_ids: Sequence[str]) -> Callout:
        async def add(tx: Transaction, space: Space, callout: Callout, now: datetime
                      ) -> tuple[Callout, dict[str, object]]:
            fresh = [a for a in dict.fromkeys(actor_ids) if callout.target(a) is None]
            if not fresh:
                return callout, {}
            if len(callout.targets) + len(fresh) > MAX_TARGETS:
                raise ValidationFailed(f"at most {MAX_TARGETS} actors",
                                       code=Code.TOO_MANY_ACTORS, field="actor_ids")
            self._check_participants(space, fresh)
            contacts = await self._contacts(tx, callout.id, fresh,
                                            {c.code for c in callout.contacts})
            targets = [Target(a, now) for a in fresh]
            await tx.callouts.add_targets(callout.id, targets, contacts,
                                          start_position=len(callout.targets))
            grown = replace(callout, targets=(*callout.targets, *targets),
                            contacts=(*callout.contacts, *contacts))
            # The stored rows are the fresh ones as inserted; `save` then writes their start.
            started, steps = ladder.tick(grown, now, self.policy)
            done = await self._carry_out(tx, space, started, steps, now)
            return done, {"added": fresh}

        await self._change(principal, callout_id, "callout.add_actors", add, grow=True)
        return await self.get(principal, callout_id)

    async def close(self, principal: Principal, callout_id: str) -> Callout:
        async def shut(tx: Transaction, space: Space, callout: Callout, now: datetime
                       ) -> tuple[Callout, dict[str, object]]:
            return replace(callout, status=CalloutStatus.CLOSED), {
                "missing": list(callout.missing)}

        await self._change(principal, callout_id, "callout.close", shut)
        return await self.get(principal, callout_id)

    async def _escalate(self, tx: Transaction, space: Space, callout: Callout, now: datetime
                        ) -> tuple[Callout, dict[str, object]]:
        steps: list[Step] = []
        targets = []
        for t in callout.targets:
            moved, done = ladder.escalate_now(t, callout.contacts_of(t.actor_id), now)
            targets.append(moved)
            steps += [s for s in done if isinstance(s, Notify)]
            missing = tuple(a for s in done if isinstance(s, TellEditors) for a in s.missing)
            if missing:
                steps.append(TellEditors(missing, "escalation"))
        moved_callout = replace(callout, targets=tuple(targets))
        done_callout = await self._carry_out(tx, space, moved_callout, steps, now)
        return done_callout, {"steps": len(steps)}

    async def _change(self, principal: Principal, callout_id: str, action: str,
                      change: object, *, grow: bool = False) -> None:
        now = self.clock()
        async with self.store.write() as tx:
            callout = await self._visible(tx, principal, callout_id, lock=True)
            space = await tx.spaces.get(callout.space_id, content=False)
            assert space is not None
            if principal.actor_id != callout.owner_actor_id:
                raise Forbidden("only the calling actor's editors change a call-out",
                                code=Code.NOT_CALLOUT_OWNER)
            self._check_call_out(principal, space, callout.classification)
            if callout.status is not CalloutStatus.OPEN:
                raise CalloutClosed("this call-out is closed")
            after, detail = await change(tx, space, callout, now)  # type: ignore[operator]
            if after == callout:
                return
            before = callout
            if grow:  # the new rows were inserted as they were before their ladder started
                before = replace(callout, targets=tuple(
                    t if callout.target(t.actor_id) else Target(t.actor_id, now)
                    for t in after.targets), contacts=tuple(
                    c if callout.contact(c.id) else replace(
                        c, notified_at=None, notified_count=0) for c in after.contacts))
            await tx.callouts.save(before, after, ladder.next_due_at(after, self.policy), now)
            seq = await tx.spaces.append_event(callout.space_id, UPDATED, callout_id, now)
            await tx.audit.append(AuditRecord(
                action, user_id=principal.user_id, actor_id=principal.actor_id,
                target_type="callout", target_id=callout_id, space_id=callout.space_id,
                detail={"seq": seq, **detail}), now)
        self.publisher.space_changed(callout.space_id, seq)
        self.wake()

    # --- the escalation loop -------------------------------------------------------------

    async def run_due(self, limit: int = 100) -> int:
        """Carry out every transition due now (the supervised loop calls this; tests call it
        after moving their clock). Returns how many call-outs changed."""
        now = self.clock()
        async with self.store.read() as tx:
            due = await tx.callouts.due(now, limit)
        changed = 0
        for callout_id in due:
            if await self._tick_one(callout_id, now):
                changed += 1
        return changed

    async def _tick_one(self, callout_id: str, now: datetime) -> bool:
        async with self.store.write() as tx:
            await tx.callouts.label(callout_id, lock=True)  # one process at a time
            callout = await tx.callouts.get(callout_id)
            if callout is None or callout.status is not CalloutStatus.OPEN:
                return False
            space = await tx.spaces.get(callout.space_id, content=False)
            assert space is not None
            moved, steps = ladder.tick(callout, now, self.policy)
            after = await self._carry_out(tx, space, moved, steps, now)
            due = ladder.next_due_at(after, self.policy)
            if after == callout:
                # Nothing moved (an early wake-up): keep the due time honest and stop.
                await tx.callouts.save(callout, after, due, now)
                return False
            await tx.callouts.save(callout, after, due, now)
            seq = await tx.spaces.append_event(callout.space_id, UPDATED, callout_id, now)
            overdue = [t.actor_id for t, old in zip(after.targets, callout.targets, strict=True)
                       if t.state is not old.state and t.state.value == "overdue"]
            await tx.audit.append(AuditRecord(
                "callout.escalate", target_type="callout", target_id=callout_id,
                space_id=callout.space_id, actor_id=callout.owner_actor_id,
                detail={"seq": seq, "steps": len(steps), "overdue": overdue}), now)
        self.publisher.space_changed(callout.space_id, seq)
        if steps:
            self.wake()
        return True


async def run_escalations(callouts: Callouts, every_s: float = 5.0) -> None:
    """The escalation loop: carry out what is due, then sleep; a failure is logged and the
    next round retries (the runtime's supervisor restarts the loop if it dies)."""
    import asyncio

    while True:
        try:
            await callouts.run_due()
        except Exception:  # logged; the next round retries
            log.exception("call-out escalation round failed")
        await asyncio.sleep(every_s)
