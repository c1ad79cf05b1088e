"""`wis notify test` (issue 10.9): a test message to one user on one channel, through the
real outbox and ledger and the configured channel, sent at once by a dispatcher that claims
only this message's deliveries (a one-shot command must not send other people's rows)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..channels.dispatcher import Channels, Dispatcher, DispatchSettings
from ..domain.audit import AuditRecord
from ..domain.levels import Classification
from ..domain.notifications import Channel, DeliveryStatus
from ..domain.outbox import Address, Attempt, DeliveryRecord, Job, OutboxDraft, Recipient
from .outbox import OutboxService, enqueue
from .ports import Clock, UnitOfWork

TEST_SUBJECT = "Testmeddelande från WIS"
TEST_BODY = ("Det här är ett testmeddelande från WIS. Kommer det fram når aviseringar dig "
             "på den här vägen.")
TEST_TTL = timedelta(hours=1)
_WHAT = {Channel.EMAIL: "e-mail address", Channel.SMS: "mobile number"}


class NotifyTestRefused(Exception):
    """Why no test message could be queued (said to the operator; no content in it)."""


@dataclass(frozen=True, slots=True)
class NotifyTestOutcome:
    message_id: str
    deliveries: list[DeliveryRecord]

    @property
    def reached(self) -> bool:
        return any(d.status in ("sent", "delivered") for d in self.deliveries)


class _OneMessage(OutboxService):
    """The outbox port narrowed to one message's deliveries."""

    def __init__(self, store: UnitOfWork, clock: Clock, message_id: str) -> None:
        super().__init__(store, clock)
        self.message_id = message_id

    async def claim(self, worker: str, now: datetime, lease: timedelta, limit: int
                    ) -> list[Job]:
        async with self.store.write() as tx:
            return await tx.outbox.claim(worker, now, now + lease, limit,
                                         message_id=self.message_id)


async def queue_test(store: UnitOfWork, clock: Clock, username: str, channel: Channel,
                     enabled: frozenset[Channel]) -> str:
    """Write the test message for `username` on `channel`; NotifyTestRefused says why not."""
    if channel not in enabled:
        raise NotifyTestRefused(f"the {channel.value} channel is not enabled on this server "
                          "(WIS_CHANNELS)")
    now = clock()
    async with store.write() as tx:
        found = await tx.users.credentials(username)
        user = found[0] if found is not None else None
        if user is None:
            raise NotifyTestRefused(f"no user named {username!r}")
        if not user.active:
            raise NotifyTestRefused(f"user {username!r} is disabled")
        if channel is Channel.PUSH:
            subs = await tx.notifications.push_of_user(user.id)
            if not subs:
                raise NotifyTestRefused(f"user {username!r} has no push subscription (they turn "
                                  "push on under Inställningar in the web client)")
            attempts = tuple(Attempt(channel, Address(push_subscription=s), 0) for s in subs)
        else:
            prefs = await tx.notifications.preferences(user.id)
            if not (prefs.email if channel is Channel.EMAIL else prefs.phone):
                raise NotifyTestRefused(f"user {username!r} has no {_WHAT[channel]} in their "
                                  "notification preferences (Inställningar → Aviseringar)")
            attempts = (Attempt(channel, Address(preference=channel), 0),)
        message_id = await enqueue(tx, OutboxDraft(
            kind="test", classification=Classification.PUBLIC, subject=TEST_SUBJECT,
            body=TEST_BODY, expires_at=now + TEST_TTL, link="/#/settings",
            recipients=(Recipient(attempts, user_id=user.id, actor_id=user.actor_id),)), now)
        await tx.audit.append(AuditRecord(
            "notify.test", actor_id=user.actor_id, target_type="user", target_id=user.id,
            detail={"channel": channel.value, "deliveries": len(attempts)}), now)
    return message_id


async def send_test(store: UnitOfWork, clock: Clock, message_id: str, channels: Channels,
                    settings: DispatchSettings, *, wait_s: float = 30.0) -> NotifyTestOutcome:
    """Send the message's deliveries now, and the ledger once none is in flight (another
    process's dispatcher may have claimed them first: then wait for it, bounded). One
    attempt only: a delivery the dispatcher would retry is recorded as failed, with why."""
    dispatcher = Dispatcher(_OneMessage(store, clock, message_id), channels, clock, settings)
    await dispatcher.run_once()
    deadline = time.monotonic() + wait_s
    while True:
        async with store.read() as tx:
            records = await tx.outbox.deliveries_of([message_id])
            in_flight = await tx.outbox.in_flight(message_id, clock())
        if not in_flight or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.2)
    retrying = [d for d in records if d.status == DeliveryStatus.QUEUED.value and d.attempts]
    if retrying:  # a test is one attempt: no test message turns up an hour later
        async with store.write() as tx:
            for d in retrying:
                await tx.outbox.finish(d.id, DeliveryStatus.FAILED, d.error or "not_sent",
                                       clock())
            records = await tx.outbox.deliveries_of([message_id])
    return NotifyTestOutcome(message_id, records)
