"""Failover (issue 11, item 3), on SQLite and PostgreSQL with a simulated clock: with one
channel made unreachable at a time, a call-out to 10 actors still reaches all 10 through
each actor's next contact point and records every acknowledgement, within 60 s of
simulated time. The dispatcher's breaker marks the dead channel down after its first
failures, so the rest fail over without trying; a failed SMS delivery report escalates too.
Push is a person's channel, not a contact point's: with push down, a notice to ten people
who asked for push first reaches all ten by e-mail, on the same clock.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import FAST_PASSWORDS, make_settings
from wis_server.bootstrap import Runtime, runtime
from wis_server.channels.dispatcher import Dispatcher, DispatchSettings
from wis_server.channels.errors import ChannelUnavailable
from wis_server.channels.health import HealthRegistry
from wis_server.channels.memory import MemoryChannel
from wis_server.channels.sms_webhooks import parse_reply
from wis_server.classification.channel_policy import ChannelKind
from wis_server.classification.keys import Keyring
from wis_server.domain.callouts import AckChannel, Callout, Conference, TargetState
from wis_server.domain.levels import Classification, ContactKind, Role, SpaceType
from wis_server.domain.model import ContactPoint, Participant, Principal
from wis_server.domain.notifications import Channel
from wis_server.services.directory import load_principal

PUBLIC_URL = "https://wis.example.se"
ACTORS = 10
KINDS = {ChannelKind.SMS: ContactKind.SMS, ChannelKind.EMAIL: ContactKind.EMAIL,
         ChannelKind.RAKEL: ContactKind.RAKEL_ISSI}
ACK_OVER = {ChannelKind.SMS: AckChannel.SMS, ChannelKind.EMAIL: AckChannel.LINK,
            ChannelKind.RAKEL: AckChannel.RAKEL_SDS}


class SimClock:
    def __init__(self) -> None:
        self.start = datetime.now(UTC).replace(microsecond=0)
        self.now = self.start

    def __call__(self) -> datetime:
        return self.now


def address(kind: ChannelKind, i: int) -> str:
    return {ChannelKind.SMS: f"+4670{i:07d}", ChannelKind.EMAIL: f"tib{i}@aktor.example",
            ChannelKind.RAKEL: f"{2010100 + i}"}[kind]


@dataclass
class Rig:
    rt: Runtime
    clock: SimClock
    channels: dict[ChannelKind, MemoryChannel]
    dispatcher: Dispatcher
    editor: Principal
    actor_ids: list[str]


@asynccontextmanager
async def rig(database_url: str, keyring: Keyring, tmp_path: Path,
              order: tuple[ChannelKind, ...], **env: str) -> AsyncIterator[Rig]:
    """10 actors, each with one contact point per channel in `order` (priority order)."""
    clock = SimClock()
    settings = make_settings(tmp_path, database_url, WIS_PUBLIC_URL=PUBLIC_URL,
                             WIS_CALLOUT_STEP_S="600", **env)
    async with runtime(settings, keyring, clock=clock, passwords=FAST_PASSWORDS) as rt:
        channels = {kind: MemoryChannel(kind, clock=clock)
                    for kind in (*KINDS, ChannelKind.PUSH)}
        health = HealthRegistry(clock)
        dispatcher = Dispatcher(rt.services.outbox, channels, clock,
                                DispatchSettings(public_url=PUBLIC_URL), health=health)
        d = rt.services.directory
        owner = await d.create_actor(None, "Länsstyrelsen", "LST", Classification.HEMLIG)
        user = await d.create_user(None, owner.id, "tib", "pw-" + "x" * 16, "TiB", Role.EDITOR,
                                   Classification.PUBLIC)
        actor_ids = []
        for i in range(ACTORS):
            points = tuple(ContactPoint(KINDS[kind], address(kind, i), n + 1, kind.value)
                           for n, kind in enumerate(order))
            actor = await d.create_actor(None, f"Kommun {i}", f"K{i}", Classification.PUBLIC,
                                         points)
            actor_ids.append(actor.id)
        async with rt.store.read() as tx:
            editor = await load_principal(tx, user.id)
        assert editor is not None
        yield Rig(rt, clock, channels, dispatcher, editor, actor_ids)


async def call_out(r: Rig) -> Callout:
    space = await r.rt.services.spaces.create(
        r.editor, title="Storm", description="", type=SpaceType.DISRUPTION,
        classification=Classification.PUBLIC,
        participants=[Participant(a) for a in [r.editor.actor_id, *r.actor_ids]])
    return await r.rt.services.callouts.create(
        r.editor, space.space.id, actor_ids=r.actor_ids, list_id=None,
        message="Samverkanskonferens om stormen", conference=Conference(),
        deadline_minutes=60)


async def answer(r: Rig, kind: ChannelKind, to: str, text: str) -> str:
    """Answer what reached `to` over `kind`, the way a person there would."""
    callouts = r.rt.services.callouts
    if kind is ChannelKind.SMS:
        code = re.search(r"OK (\d{6})", text)
        assert code, text
        return await callouts.sms_reply(to, parse_reply(f"OK {code.group(1)}"))
    if kind is ChannelKind.RAKEL:
        code = re.search(r"OK (\d{6})", text)
        assert code, text
        ssi = to.rpartition(":")[2]
        return await callouts.rakel_reply(ssi, "2010001", parse_reply(f"ok {code.group(1)}"))
    link = re.search(re.escape(PUBLIC_URL) + r"/k/(\S+)", text)
    assert link, text
    return (await callouts.acknowledge_link(link.group(1))).state


async def run_until_all_answered(r: Rig, callout_id: str, limit_s: int = 60) -> int:
    """Each simulated second: the dispatcher empties what is due, the escalation loop runs,
    and whatever reached somebody is answered. Returns the simulated seconds it took."""
    answered: set[str] = set()
    for second in range(limit_s + 1):
        for _ in range(20):  # bounded: a round that claims nothing ends it
            if await r.dispatcher.run_once() == 0:
                break
        await r.rt.services.callouts.run_due()
        for kind, channel in r.channels.items():
            for message in list(channel.sent):
                if message.delivery_id in answered:
                    continue
                answered.add(message.delivery_id)
                assert isinstance(message.to, str)
                await answer(r, kind, message.to, message.rendered.text)
        callout = await r.rt.services.callouts.get(r.editor, callout_id)
        if all(t.state is TargetState.ACKNOWLEDGED for t in callout.targets):
            return second
        r.clock.now += timedelta(seconds=1)
    raise AssertionError("not everybody acknowledged within the simulated minute")


@pytest.mark.parametrize("down", [ChannelKind.SMS, ChannelKind.EMAIL, ChannelKind.RAKEL])
async def test_one_channel_unreachable_the_callout_still_reaches_all_ten(
        database_url: str, keyring: Keyring, tmp_path: Path, down: ChannelKind) -> None:
    others = tuple(k for k in KINDS if k is not down)
    async with rig(database_url, keyring, tmp_path, (down, *others)) as r:
        r.channels[down].down = ChannelUnavailable("unreachable", code="test_unreachable")
        callout = await call_out(r)
        took = await run_until_all_answered(r, callout.id)
        assert took <= 60
        done = await r.rt.services.callouts.get(r.editor, callout.id)
        fallback = ACK_OVER[others[0]]
        assert [t.answer_channel for t in done.targets] == [fallback] * ACTORS
        assert not r.channels[down].sent
        # The breaker took the channel down: not every actor's message was tried on it.
        view = r.dispatcher.health.breaker(down.value).view()
        assert view.trips >= 1 and r.channels[down].attempts < ACTORS
        # The ledger: per actor, the dead channel failed and the next one reached them.
        for target in done.targets:
            lines = [c.delivery for c in done.contacts_of(target.actor_id) if c.delivery]
            assert [line.channel for line in lines] == [down.value, others[0].value]
            assert lines[0].status == "failed"
            assert lines[0].error in ("channel_down", "test_unreachable")
            assert lines[1].status in ("sent", "delivered") and lines[1].sent_at is not None
            reach = done.reach(target.actor_id)
            assert reach is not None and (reach.channel, reach.at) == (
                others[0].value, lines[1].sent_at)
        # Reconciliation: what went out per channel against the answers that came back.
        assert done.ledger() == {
            down.value: {"sent": 0, "delivered": 0, "failed": ACTORS, "acknowledged": 0},
            others[0].value: {"sent": ACTORS, "delivered": 0, "failed": 0,
                              "acknowledged": ACTORS}}


async def test_push_unreachable_a_notice_reaches_all_ten_by_their_next_channel(
        database_url: str, keyring: Keyring, tmp_path: Path) -> None:
    """Push is a person's channel (call-outs go to contact points, which have no push): ten
    people who asked for push first, then e-mail. Push down: the breaker opens after its
    first failures, and every one of them gets the notice by e-mail within the minute."""
    async with rig(database_url, keyring, tmp_path, (ChannelKind.SMS,),
                   WIS_CHANNELS="memory") as r:
        r.channels[ChannelKind.PUSH].down = ChannelUnavailable("unreachable",
                                                               code="test_unreachable")
        d = r.rt.services.directory
        people = []
        for i, actor_id in enumerate(r.actor_ids):
            user = await d.create_user(None, actor_id, f"tib{i}", "pw-" + "z" * 16, f"TiB {i}",
                                       Role.READER, Classification.PUBLIC)
            async with r.rt.store.read() as tx:
                person = await load_principal(tx, user.id)
            assert person is not None
            await r.rt.services.notifications.put(person, {
                "channels": ["push", "email"], "email": f"tib{i}@aktor.example"})
            async with r.rt.store.write() as tx:
                await tx.notifications.add_push(user.id, f"https://push.example/{i}",
                                                {"p256dh": "p", "auth": "a"}, r.clock())
            people.append(user.id)
        space = await r.rt.services.spaces.create(
            r.editor, title="Elavbrott", description="", type=SpaceType.DISRUPTION,
            classification=Classification.PUBLIC,
            participants=[Participant(a) for a in [r.editor.actor_id, *r.actor_ids]])
        notice = await r.rt.services.notices.post(
            r.editor, space.space.id, classification=Classification.PUBLIC,
            body="Elavbrott i norra länet, värmestuga i Tensta")
        emails: list[str] = []
        for _ in range(61):
            for _ in range(20):
                if await r.dispatcher.run_once() == 0:
                    break
            emails = [m.to for m in r.channels[ChannelKind.EMAIL].sent  # not "space added"
                      if isinstance(m.to, str) and "värmestuga" in m.rendered.text]
            if len(emails) == ACTORS:
                break
            r.clock.now += timedelta(seconds=1)
        assert sorted(emails) == sorted(f"tib{i}@aktor.example" for i in range(ACTORS))
        assert r.clock.now - r.clock.start <= timedelta(seconds=60)
        assert not r.channels[ChannelKind.PUSH].sent
        assert r.channels[ChannelKind.PUSH].attempts < ACTORS  # the breaker spared the rest
        ledger = await r.rt.services.notices.deliveries(r.editor, notice.id)
        by_person = {p: sorted((d.channel.value, d.status) for d in ledger
                               if d.recipient_user_id == p) for p in people}
        assert all(lines == [("email", "sent"), ("push", "failed")]
                   for lines in by_person.values()), by_person


async def test_a_failed_sms_delivery_report_escalates_to_the_next_contact_point(
        database_url: str, keyring: Keyring, tmp_path: Path) -> None:
    """The SMS provider took the message, then reported it undelivered: the call-out's
    failure listener hears it and the actor's next contact point is tried at once."""
    async with rig(database_url, keyring, tmp_path,
                   (ChannelKind.SMS, ChannelKind.EMAIL)) as r:
        callout = await call_out(r)
        await r.dispatcher.run_once()
        assert len(r.channels[ChannelKind.SMS].sent) == ACTORS
        first = r.channels[ChannelKind.SMS].sent[0]
        r.clock.now += timedelta(seconds=5)
        assert await r.rt.services.outbox.delivery_report(
            Channel.SMS, "provider-ref", False, delivery_id=first.delivery_id)
        await r.dispatcher.run_once()
        emails = list(r.channels[ChannelKind.EMAIL].sent)
        assert isinstance(first.to, str)
        assert len(emails) == 1 and emails[0].to == f"tib{int(first.to[-7:])}@aktor.example"
        after = await r.rt.services.callouts.get(r.editor, callout.id)
        moved = [t for t in after.targets if t.stage == 1]
        assert len(moved) == 1 and moved[0].stage_at == r.clock.now
        # a repeated report changes nothing more
        assert await r.rt.services.outbox.delivery_report(
            Channel.SMS, "provider-ref", False, delivery_id=first.delivery_id)
        await r.dispatcher.run_once()
        assert len(r.channels[ChannelKind.EMAIL].sent) == 1


async def test_operators_see_each_channels_health_on_readyz_and_the_admin_page(
        database_url: str, keyring: Keyring, tmp_path: Path) -> None:
    """/readyz details and GET /api/v1/admin/channels (system administrators only): per
    channel the sends, failures, error rate and breaker; a channel down shows as open."""
    import httpx

    from wis_server.api.app import create_app

    settings = make_settings(tmp_path, database_url, WIS_CHANNELS="memory")
    app = create_app(settings, keyring, passwords=FAST_PASSWORDS)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            d = app.state.services.directory
            actor = await d.create_actor(None, "Länsstyrelsen", "LST", Classification.PUBLIC)
            tokens = {}
            for name, role in (("sys", Role.SYSTEM_ADMIN), ("admin", Role.ACTOR_ADMIN)):
                user = await d.create_user(None, actor.id, name, "pw-" + "y" * 16, name, role,
                                           Classification.PUBLIC)
                tokens[name] = app.state.tokens.issue(user.id, actor.id, app.state.clock())
            health = app.state.runtime.dispatch.health
            for _ in range(health.policy.failures):
                health.record("sms", ok=False, code="channel_unavailable")
            health.record("email", ok=True)
            ready = (await c.get("/readyz")).json()["channels"]
            assert ready["sms"]["breaker"]["state"] == "open"
            assert ready["sms"]["failed"] == health.policy.failures
            assert ready["sms"]["error_rate"] == 1.0
            assert ready["email"]["sent"] == 1 and ready["email"]["breaker"]["state"] == "closed"
            assert set(ready) >= {"sms", "email", "push"}
            r = await c.get("/api/v1/admin/channels",
                            headers={"Authorization": f"Bearer {tokens['admin']}"})
            assert r.status_code == 403 and r.json()["code"] == "not_system_admin"
            r = await c.get("/api/v1/admin/channels",
                            headers={"Authorization": f"Bearer {tokens['sys']}"})
            assert r.status_code == 200
            assert r.json()["channels"]["sms"]["breaker"]["state"] == "open"
