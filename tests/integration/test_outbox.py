"""The outbox and dispatcher over a real database (SQLite and PostgreSQL) with an injected
clock and the in-memory recording channels: claim and lease, retries with backoff, expiry,
failover to the next channel, push subscriptions gone, exercise isolation, per-recipient
decisions at send time, delivery reports."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from wis_server.channels.dispatcher import Dispatcher, DispatchSettings
from wis_server.channels.errors import InvalidAddress, SubscriptionGone, TransientError
from wis_server.channels.memory import MemoryChannel
from wis_server.classification.channel_policy import ChannelKind
from wis_server.classification.crypto import EnvelopeCipher
from wis_server.classification.keys import generate_keyring
from wis_server.domain.levels import Classification, Role, SpaceStatus, SpaceType
from wis_server.domain.model import Actor, Participant, Space, User
from wis_server.domain.notifications import Channel, DeliveryStatus
from wis_server.domain.outbox import Address, Attempt, OutboxDraft, Recipient
from wis_server.services.outbox import OutboxService, enqueue
from wis_server.storage.database import Database
from wis_server.storage.tables import audit_log
from wis_server.storage.unit import Store


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Rig:
    store: Store
    clock: Clock
    channels: dict[ChannelKind, MemoryChannel]
    outbox: OutboxService
    dispatcher: Dispatcher
    space: Space
    actor_in: str
    actor_out: str
    user_id: str

    async def enqueue(self, *recipients: Recipient, level: Classification = Classification.PUBLIC,
                      exercise: bool = False, body: str = "Vattnet stiger",
                      ttl_s: float = 3600, space: Space | None = None) -> str:
        async with self.store.write() as tx:
            return await enqueue(tx, OutboxDraft(
                kind="test", classification=level, subject="Informationsunderrättelse",
                body=body, expires_at=self.clock() + timedelta(seconds=ttl_s),
                space_id=(space or self.space).id, exercise=exercise,
                link=f"/#/spaces/{(space or self.space).id}", recipients=recipients),
                self.clock(), space or self.space)

    async def deliveries(self, message_id: str) -> list:  # type: ignore[type-arg]
        async with self.store.read() as tx:
            return await tx.outbox.deliveries_of([message_id])


def to(channel: Channel, address: str, rank: int = 0) -> Attempt:
    return Attempt(channel, Address(to=address), rank)


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    keyring = generate_keyring()
    database = Database(database_url)
    store = Store(database, EnvelopeCipher(keyring), keyring.audit_key)
    clock = Clock()
    inside, outside = str(uuid.uuid4()), str(uuid.uuid4())
    user_id = str(uuid.uuid4())
    space = Space(str(uuid.uuid4()), "Övning Storm", "", SpaceType.EXERCISE,
                  Classification.HEMLIG, SpaceStatus.OPEN, inside, user_id,
                  (Participant(inside),))
    async with store.write() as tx:
        for actor_id, short in ((inside, "IN"), (outside, "UT")):
            await tx.actors.add(Actor(actor_id, f"Aktör {short}", short,
                                      Classification.HEMLIG), clock())
        await tx.users.add(User(user_id, inside, "tib", "TiB", Role.EDITOR,
                                Classification.HEMLIG), "x", clock())
        await tx.spaces.add(space, clock())
    channels = {kind: MemoryChannel(kind) for kind in
                (ChannelKind.EMAIL, ChannelKind.SMS, ChannelKind.PUSH)}
    outbox = OutboxService(store, clock)
    dispatcher = Dispatcher(outbox, channels, clock, DispatchSettings(lease_s=60),
                            worker="test-a")
    try:
        yield Rig(store, clock, channels, outbox, dispatcher, space, inside, outside, user_id)
    finally:
        await database.dispose()


def statuses(rows: list) -> list[str]:  # type: ignore[type-arg]
    return [r.status for r in rows]


async def test_a_message_is_sent_once_with_its_delivery_id_and_marked_sent(rig: Rig) -> None:
    mid = await rig.enqueue(Recipient((to(Channel.EMAIL, "tib@example.se"),),
                                      actor_id=rig.actor_in))
    assert await rig.dispatcher.run_once() == 1
    assert await rig.dispatcher.run_once() == 0  # nothing is sent twice
    [row] = await rig.deliveries(mid)
    [sent] = rig.channels[ChannelKind.EMAIL].sent
    assert sent.delivery_id == row.id and sent.to == "tib@example.se"
    assert row.status == "sent" and row.attempts == 1 and row.sent_at == rig.clock()
    # an exercise space: every outgoing message starts with ÖVNING (here: public, full text)
    assert sent.rendered.subject.startswith("ÖVNING") and sent.rendered.text.startswith("ÖVNING")


async def test_transient_failure_is_retried_with_backoff_and_the_same_id(rig: Rig) -> None:
    sms = rig.channels[ChannelKind.SMS]
    sms.fail_next(TransientError("gateway timeout"), TransientError("gateway timeout"))
    mid = await rig.enqueue(Recipient((to(Channel.SMS, "+46701234567"),),
                                      actor_id=rig.actor_in))
    await rig.dispatcher.run_once()
    [row] = await rig.deliveries(mid)
    assert row.status == "queued" and row.error == "transient" and row.attempts == 1
    assert await rig.dispatcher.run_once() == 0  # not due yet
    rig.clock.advance(5)  # base backoff 5 s
    await rig.dispatcher.run_once()
    assert await rig.dispatcher.run_once() == 0
    rig.clock.advance(9.9)  # second backoff is 10 s
    assert await rig.dispatcher.run_once() == 0
    rig.clock.advance(0.1)
    await rig.dispatcher.run_once()
    [row] = await rig.deliveries(mid)
    assert row.status == "sent" and row.attempts == 3
    assert [m.delivery_id for m in sms.sent] == [row.id]
    assert sms.attempts == 3


async def test_permanent_failure_fails_over_to_the_next_channel(rig: Rig) -> None:
    rig.channels[ChannelKind.PUSH].fail_next(InvalidAddress("rejected"))
    mid = await rig.enqueue(Recipient((
        to(Channel.PUSH, "https://push.example/a", 0), to(Channel.EMAIL, "tib@example.se", 1),
        to(Channel.SMS, "+46701234567", 2)), actor_id=rig.actor_in, user_id=None, ref="cp1"))
    assert statuses(await rig.deliveries(mid)) == ["queued", "standby", "standby"]
    await rig.dispatcher.run_once()
    assert statuses(await rig.deliveries(mid)) == ["failed", "queued", "standby"]
    await rig.dispatcher.run_once()
    rows = await rig.deliveries(mid)
    assert statuses(rows) == ["failed", "sent", "standby"]  # reached: sms is not needed
    assert rows[0].error == "invalid_address"
    assert len(rig.channels[ChannelKind.EMAIL].sent) == 1
    assert not rig.channels[ChannelKind.SMS].sent


async def test_retries_end_in_expired_after_the_message_lifetime(rig: Rig) -> None:
    rig.channels[ChannelKind.SMS].fail_next(*[TransientError("down")] * 3)
    mid = await rig.enqueue(Recipient((to(Channel.SMS, "+46701234567"),),
                                      actor_id=rig.actor_in), ttl_s=12)
    await rig.dispatcher.run_once()  # retry at +5 s
    rig.clock.advance(5)
    await rig.dispatcher.run_once()  # next retry would be at +15 s: past the lifetime
    [row] = await rig.deliveries(mid)
    assert row.status == "expired"


async def test_a_dead_workers_lease_runs_out_and_the_row_is_resent_with_the_same_id(
        rig: Rig) -> None:
    mid = await rig.enqueue(Recipient((to(Channel.EMAIL, "tib@example.se"),),
                                      actor_id=rig.actor_in))
    # worker "dead" claims and dies before sending or recording
    [job] = await rig.outbox.claim("dead", rig.clock(), timedelta(seconds=60), 10)
    assert await rig.dispatcher.run_once() == 0  # leased: another worker keeps off
    rig.clock.advance(60)
    assert await rig.dispatcher.run_once() == 1
    [row] = await rig.deliveries(mid)
    assert row.status == "sent" and row.attempts == 2
    assert [m.delivery_id for m in rig.channels[ChannelKind.EMAIL].sent] == [job.id]


async def test_recipients_outside_the_exercise_are_refused_and_audited(rig: Rig) -> None:
    mid = await rig.enqueue(
        Recipient((to(Channel.EMAIL, "in@example.se"),), actor_id=rig.actor_in),
        Recipient((to(Channel.EMAIL, "out@example.se"),), actor_id=rig.actor_out),
        exercise=True)
    rows = await rig.deliveries(mid)
    by_actor = {r.recipient_actor_id: r for r in rows}
    assert by_actor[rig.actor_out].status == "refused"
    assert by_actor[rig.actor_out].error == "outside_exercise"
    while await rig.dispatcher.run_once():
        pass
    assert [m.to for m in rig.channels[ChannelKind.EMAIL].sent] == ["in@example.se"]
    async with rig.store.read() as tx:
        trail = await tx.audit.page(actor_id=None, after=0, limit=1000)
    refused = [r.record for r in trail if r.record.action == "outbox.refused"]
    assert refused and refused[0].detail["actors"] == [rig.actor_out]


async def test_an_actor_that_left_the_exercise_before_sending_is_refused_then(rig: Rig) -> None:
    mid = await rig.enqueue(Recipient((to(Channel.SMS, "+46701234567"),),
                                      actor_id=rig.actor_in), exercise=True)
    async with rig.store.write() as tx:  # the actor leaves the exercise
        space = await tx.spaces.get(rig.space.id)
        assert space is not None
        await tx.spaces.update(Space(**{**{f: getattr(space, f) for f in (
            "id", "title", "description", "type", "classification", "status",
            "owner_actor_id", "created_by")}, "participants": ()}), rig.clock())
    await rig.dispatcher.run_once()
    [row] = await rig.deliveries(mid)
    assert row.status == "refused" and row.error == "outside_exercise"
    assert not rig.channels[ChannelKind.SMS].sent
    async with rig.store.read() as tx:
        trail = await tx.audit.page(actor_id=None, after=0, limit=1000)
    assert any(r.record.action == "outbox.refused" and r.record.target_id == row.id
               for r in trail)


async def test_a_recipient_who_can_no_longer_read_is_told_nothing(rig: Rig) -> None:
    mid = await rig.enqueue(Recipient((to(Channel.EMAIL, "tib@example.se"),),
                                      user_id=rig.user_id, actor_id=rig.actor_in),
                            level=Classification.HEMLIG)
    async with rig.store.write() as tx:  # clearance lowered before the dispatcher ran
        user = await tx.users.get(rig.user_id)
        assert user is not None
        await tx.users.update(User(user.id, user.actor_id, user.username, user.display_name,
                                   user.role, Classification.SEKRETESS), rig.clock())
    await rig.dispatcher.run_once()
    [row] = await rig.deliveries(mid)
    assert row.status == "refused" and row.error == "not_readable"
    assert not rig.channels[ChannelKind.EMAIL].sent


async def test_a_push_subscription_that_is_gone_is_deleted_and_fails_over(rig: Rig) -> None:
    async with rig.store.write() as tx:
        sub = await tx.notifications.add_push(rig.user_id, "https://push.example/x",
                                              {"p256dh": "k", "auth": "a"}, rig.clock())
    rig.channels[ChannelKind.PUSH].fail_next(SubscriptionGone("410"))
    mid = await rig.enqueue(Recipient((
        Attempt(Channel.PUSH, Address(push_subscription=sub), 0),
        to(Channel.SMS, "+46701234567", 1)), user_id=rig.user_id, actor_id=rig.actor_in))
    await rig.dispatcher.run_once()
    await rig.dispatcher.run_once()
    assert statuses(await rig.deliveries(mid)) == ["failed", "sent"]
    async with rig.store.read() as tx:
        assert await tx.notifications.push_of_user(rig.user_id) == []
        gone = (await tx.conn.execute(select(audit_log.c.action, audit_log.c.user_id).where(
            audit_log.c.target_id == sub))).all()
    assert [(g.action, g.user_id) for g in gone] == [("push.gone", rig.user_id)]


async def test_delivery_reports_mark_delivered_or_fail_over(rig: Rig) -> None:
    mid = await rig.enqueue(
        Recipient((to(Channel.SMS, "+46701111111", 0), to(Channel.EMAIL, "a@example.se", 1)),
                  actor_id=rig.actor_in, ref="a"),
        Recipient((to(Channel.SMS, "+46702222222", 0), to(Channel.EMAIL, "b@example.se", 1)),
                  actor_id=rig.actor_in, ref="b"))
    await rig.dispatcher.run_once()
    refs = {m.to: r for m, r in zip(rig.channels[ChannelKind.SMS].sent,
                                    [await _ref(rig, m.delivery_id) for m in
                                     rig.channels[ChannelKind.SMS].sent], strict=True)}
    assert await rig.outbox.delivery_report(Channel.SMS, refs["+46701111111"], True)
    assert await rig.outbox.delivery_report(Channel.SMS, refs["+46702222222"], False)
    assert not await rig.outbox.delivery_report(Channel.SMS, "no-such-id", True)
    # our own delivery id (the ?delivery= of the whendelivered URL) matches without the
    # provider's id (its answer to the send may have been lost) — but only on its channel
    [email_a] = [d for d in await rig.deliveries(mid) if d.recipient_ref == "a"
                 and d.channel is Channel.EMAIL]
    assert not await rig.outbox.delivery_report(Channel.SMS, "lost", True,
                                                delivery_id=email_a.id)
    await rig.dispatcher.run_once()
    rows = {(r.recipient_ref, r.channel.value): r.status for r in await rig.deliveries(mid)}
    assert rows == {("a", "sms"): "delivered", ("a", "email"): "standby",
                    ("b", "sms"): "failed", ("b", "email"): "sent"}


async def _ref(rig: Rig, delivery_id: str) -> str:
    from sqlalchemy import select

    from wis_server.storage.tables import deliveries
    async with rig.store.read() as tx:
        return str((await tx.conn.execute(select(deliveries.c.provider_ref).where(
            deliveries.c.id == delivery_id))).scalar_one())


def test_statuses_cover_the_contract() -> None:
    assert {"queued", "sent", "delivered", "failed", "expired"} <= {s.value for s in
                                                                    DeliveryStatus}


async def test_a_final_failure_is_told_to_the_listeners_once(rig: Rig) -> None:
    told: list[tuple[str, str | None]] = []

    async def listener(job: Any) -> None:
        told.append((job.id, job.recipient_ref))

    async def broken(job: Any) -> None:
        raise RuntimeError("a listener bug must not stop the dispatcher")

    rig.outbox.failure_listeners += [broken, listener]
    rig.channels[ChannelKind.SMS].fail_next(InvalidAddress("no such number"))
    mid = await rig.enqueue(
        Recipient((to(Channel.SMS, "+46700000000"),), actor_id=rig.actor_in, ref="cp-1"),
        Recipient((to(Channel.SMS, "+46701111111"),), actor_id=rig.actor_in, ref="cp-2"))
    while await rig.dispatcher.run_once():
        pass
    rows = {r.recipient_ref: r for r in await rig.deliveries(mid)}
    failed = [ref for ref, r in rows.items() if r.status == "failed"]
    assert len(failed) == 1 and told == [(rows[failed[0]].id, failed[0])]
