"""The outbox over storage: `enqueue` (inside the item's transaction) and the dispatcher's
port (channels.dispatcher.OutboxPort). The recipient is decided again at send time with the
one decision function: somebody who lost read right (or left the exercise) since the notice
was written is told nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from ..channels.ports import Receipt
from ..classification.policy import Action, decide
from ..domain.audit import AuditRecord
from ..domain.levels import Classification, SpaceType
from ..domain.model import ItemLabel, Space
from ..domain.notifications import Channel, DeliveryStatus, NotifyEvent
from ..domain.outbox import Address, Attempt, Job, OutboxDraft, Outgoing, Recipient, Refusal
from ..domain.records import Candidate
from .directory import load_principal
from .ports import Clock, Transaction, UnitOfWork
from .push_subscriptions import forget_gone_in

log = structlog.get_logger("wis.outbox")

Wake = Callable[[], None]
FailureListener = Callable[[Job], Awaitable[None]]
"""Told after a delivery failed for good (e.g. call-outs alarm the contact's actor admins)."""


def no_wake() -> None:
    return None


async def enqueue(tx: Transaction, draft: OutboxDraft, now: datetime, space: Space | None = None
                  ) -> str:
    """Write `draft` and its deliveries in the caller's transaction. In an exercise space a
    recipient whose actor does not take part is refused here already, and audited; and the
    message is marked as an exercise whatever the caller said (ÖVNING on every channel)."""
    if space is not None and space.is_exercise and not draft.exercise:
        draft = replace(draft, exercise=True)
    message_id, _queued = await tx.outbox.add(draft, now)
    if draft.exercise and space is not None:
        outside = sorted({r.actor_id or "" for r in draft.recipients
                          if r.actor_id not in space.participant_ids})
        if outside:
            await _refuse_outside(tx, message_id, space.id, outside, now)
    return message_id


async def _refuse_outside(tx: Transaction, message_id: str, space_id: str, actor_ids: Sequence[str],
                          now: datetime) -> None:
    records = [d for d in await tx.outbox.deliveries_of([message_id])
               if (d.recipient_actor_id or "") in actor_ids]
    await tx.outbox.refuse_new([d.id for d in records], "outside_exercise", now)
    await tx.audit.append(AuditRecord(
        "outbox.refused", outcome="denied", target_type="outbox_message",
        target_id=message_id, space_id=space_id,
        detail={"reason": "outside_exercise", "actors": sorted(actor_ids),
                "deliveries": len(records)}), now)


class OutboxService:
    """Implements channels.dispatcher.OutboxPort."""

    def __init__(self, store: UnitOfWork, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._push_ids: dict[str, str] = {}  # delivery id -> subscription id, while sending
        self.failure_listeners: list[FailureListener] = []
        # Told the recipient_ref of a delivery that reached its recipient (a call-out's
        # contact point moves to `delivered`).
        self.delivery_listeners: list[Callable[[str], Awaitable[None]]] = []

    async def claim(self, worker: str, now: datetime, lease: timedelta, limit: int
                    ) -> list[Job]:
        async with self.store.write() as tx:
            return await tx.outbox.claim(worker, now, now + lease, limit)

    async def prepare(self, jobs: Sequence[Job], now: datetime) -> list[Outgoing | Refusal]:
        result: list[Outgoing | Refusal] = []
        async with self.store.read() as tx:
            spaces: dict[str, Space | None] = {}
            for space_id in {j.space_id for j in jobs if j.space_id}:
                spaces[space_id] = await tx.spaces.get(space_id)
            allowed: list[Job] = []
            for job in jobs:
                space = spaces.get(job.space_id or "")
                if space is not None and space.is_exercise and not job.exercise:
                    job = replace(job, exercise=True)
                refusal = await self._check(tx, job, space)
                if refusal is not None:
                    result.append(refusal)
                else:
                    allowed.append(job)
            opened = await tx.outbox.open(allowed)
            for job in allowed:
                payload, address = opened[job.id]
                space = spaces.get(job.space_id or "")
                title = space.title if space is not None \
                    and space.classification is Classification.PUBLIC else None
                to: str | None = address.to
                keys = None
                if address.preference is not None and job.recipient_user_id:
                    prefs = await tx.notifications.preferences(job.recipient_user_id)
                    to = prefs.email if address.preference is Channel.EMAIL else prefs.phone
                elif address.push_subscription is not None:
                    sub = await tx.notifications.push_subscription(address.push_subscription)
                    if sub is not None and sub.user_id == job.recipient_user_id:
                        to, keys = sub.endpoint, sub.keys
                        self._push_ids[job.id] = sub.id
                if not to:
                    result.append(Refusal(job, "no_address", fail_over=True))
                    continue
                result.append(Outgoing(job, to, payload.get("subject", ""),
                                       payload.get("body", ""), payload.get("link", ""),
                                       title, keys))
        return result

    async def _check(self, tx: Transaction, job: Job, space: Space | None) -> Refusal | None:
        if job.space_id is not None and space is None:
            return Refusal(job, "space_gone")
        if job.exercise and space is not None \
                and job.recipient_actor_id not in space.participant_ids:
            return Refusal(job, "outside_exercise", audit=True)
        if job.recipient_user_id is None:
            return None
        principal = await load_principal(tx, job.recipient_user_id)
        if principal is None or not principal.active:
            return Refusal(job, "recipient_inactive")
        if space is not None and not decide(principal, Action.READ, space, job.label):
            return Refusal(job, "not_readable")
        return None

    async def sent(self, job: Job, receipt: Receipt, now: datetime) -> None:
        self._push_ids.pop(job.id, None)
        async with self.store.write() as tx:
            await tx.outbox.mark_sent(job.id, delivered=receipt.status == "delivered",
                                      provider_ref=receipt.provider_id, now=now)
        if receipt.status == "delivered" and job.recipient_ref:
            await self._delivered(job.id, job.recipient_ref)

    async def _delivered(self, delivery_id: str, ref: str) -> None:
        for listener in self.delivery_listeners:
            try:
                await listener(ref)
            except Exception:  # a listener's failure must not stop the dispatcher
                log.exception("delivery listener raised", delivery_id=delivery_id)

    async def retry(self, job: Job, at: datetime, error: str, now: datetime) -> None:
        self._push_ids.pop(job.id, None)
        async with self.store.write() as tx:
            await tx.outbox.retry_later(job.id, at, error, now)

    async def finish(self, job: Job, status: DeliveryStatus, error: str | None,
                     now: datetime, *, audit: bool = False) -> None:
        self._push_ids.pop(job.id, None)
        async with self.store.write() as tx:
            queued = await tx.outbox.finish(job.id, status, error, now)
            if audit:
                await tx.audit.append(AuditRecord(
                    "outbox.refused", outcome="denied", target_type="delivery",
                    target_id=job.id, space_id=job.space_id,
                    detail={"reason": error, "actor": job.recipient_actor_id,
                            "channel": job.channel.value}), now)
        if queued:
            log.info("delivery failed over", delivery_id=job.id, next=len(queued))
        if status is DeliveryStatus.FAILED:
            await self._failed(job)

    async def _failed(self, job: Job) -> None:
        for listener in self.failure_listeners:
            try:
                await listener(job)
            except Exception:  # a listener's failure must not stop the dispatcher
                log.exception("failure listener raised", delivery_id=job.id)

    async def gone(self, job: Job, now: datetime) -> None:
        sub_id = self._push_ids.pop(job.id, None)
        if sub_id is None:
            return
        async with self.store.write() as tx:  # deleted and audited as push.gone
            await forget_gone_in(tx, sub_id, now)

    async def next_due(self) -> datetime | None:
        async with self.store.read() as tx:
            return await tx.outbox.next_due()

    async def delivery_report(self, channel: Channel, provider_ref: str, delivered: bool, *,
                              delivery_id: str | None = None) -> bool:
        """A provider's delivery report (SMS `whendelivered`): delivered, or failed (then
        the recipient's next channel is tried). Matched by our delivery id when the report
        carries it (also when the send's answer was lost), else by the provider's id.
        False if no such delivery."""
        now = self.clock()
        async with self.store.write() as tx:
            found = await tx.outbox.delivery(delivery_id) if delivery_id else None
            if found is not None and found.channel is not channel:
                found = None
            delivery_id = found.id if found is not None else \
                await tx.outbox.by_provider_ref(channel, provider_ref)
            if delivery_id is None:
                return False
            ref = None
            failed: Job | None = None
            if delivered:
                await tx.outbox.mark_delivered(delivery_id, now)
                record = await tx.outbox.delivery(delivery_id)
                ref = record.recipient_ref if record is not None else None
            else:
                record = await tx.outbox.delivery(delivery_id)
                if record is not None and not DeliveryStatus(record.status).final:
                    failed = await tx.outbox.job(delivery_id)
                await tx.outbox.finish(delivery_id, DeliveryStatus.FAILED, "provider_failed",
                                       now)
        if ref:
            await self._delivered(delivery_id, ref)
        if failed is not None:  # a late failure is a failure for good, as at send time
            await self._failed(failed)
        return True


def plan(candidate: Candidate, enabled: frozenset[Channel], *, now: datetime,
         activated: bool) -> Recipient | None:
    """The recipient's channels in their order, those they have an address for; all push
    subscriptions share a rank (every device rings), the next channel waits for them all."""
    prefs = candidate.preferences
    attempts: list[Attempt] = []
    rank = 0
    for channel in prefs.channels:
        if channel not in enabled:
            continue
        if channel is Channel.PUSH:
            if not candidate.push_ids:
                continue
            attempts += [Attempt(channel, Address(push_subscription=s), rank)
                         for s in candidate.push_ids]
        elif (channel is Channel.EMAIL and prefs.email) or \
                (channel is Channel.SMS and prefs.phone):
            attempts.append(Attempt(channel, Address(preference=channel), rank))
        else:
            continue
        rank += 1
    if not attempts:
        return None
    p = candidate.principal
    return Recipient(tuple(attempts), user_id=p.user_id, actor_id=p.actor_id,
                     not_before=prefs.not_before(now, activated=activated))


async def recipients_for(tx: Transaction, space: Space, label: ItemLabel, event: NotifyEvent,
                         enabled: frozenset[Channel], now: datetime, *,
                         exclude: str | None = None,
                         actors: frozenset[str] | None = None) -> list[Recipient]:
    """Who is told about an item: may read it (the one decision), opted in, reachable.
    `actors` narrows the candidates further (e.g. only the actors just added to a space)."""
    return (await recipients_by_label(tx, space, [label], event, enabled, now,
                                      exclude=exclude, actors=actors)).get(label, [])


async def recipients_by_label(tx: Transaction, space: Space, labels: Sequence[ItemLabel],
                              event: NotifyEvent, enabled: frozenset[Channel],
                              now: datetime, *, exclude: str | None = None,
                              actors: frozenset[str] | None = None
                              ) -> dict[ItemLabel, list[Recipient]]:
    """For an item made of parts with labels of their own (a lägesbild's sections): each
    candidate who may read at least one part, under the first of `labels` they may read
    (pass them lowest level first, so the message says as much as that recipient may be
    told). The outbox row carries that label, so the dispatcher decides again with it."""
    wanted: set[str] = set()
    for each in labels:
        wanted |= space.participant_ids if each.audience is None \
            else each.audience & space.participant_ids
    if actors is not None:
        wanted &= actors
    found: dict[ItemLabel, list[Recipient]] = {}
    activated = space.type is SpaceType.DISRUPTION
    for candidate in await tx.notifications.candidates(sorted(wanted)):
        if candidate.principal.user_id == exclude:
            continue
        if not candidate.preferences.wants(event, space.id):
            continue
        readable = next((lb for lb in labels
                         if decide(candidate.principal, Action.READ, space, lb)), None)
        if readable is None:
            continue
        recipient = plan(candidate, enabled, now=now, activated=activated)
        if recipient is not None:
            found.setdefault(readable, []).append(recipient)
    return found


def space_link(space_id: str) -> str:
    return f"/#/spaces/{space_id}"
