"""Call-outs over Rakel: contact points of kind rakel_issi / rakel_gssi get a call-out message
on the outbox's `rakel` channel (addressed `issi:` / `gssi:` as the gateway takes it), an SDS
`OK <code>` from that ISSI acknowledges through the one acknowledgement function, and a
talkgroup number is never read as a telephone number (a STOP from the "number" 9001 is no
alarm to the actor whose talkgroup is 9001). SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.test_callouts import (
    CalloutWorld,
    _actor,
    _callout,
    _get,
    _sms,
    _space,
    callout_world,
    points,
)
from wis_server.channels.sms_webhooks import parse_reply
from wis_server.classification.keys import Keyring
from wis_server.domain.levels import Classification, ContactKind, Role
from wis_server.domain.notifications import Channel
from wis_server.services.callouts import contact_address

ISSI, GSSI, OTHER_ISSI = "2011234", "9001", "2019999"


@pytest.fixture
async def rw(database_url: str, keyring: Keyring, tmp_path: Path
             ) -> AsyncIterator[CalloutWorld]:
    async with callout_world(database_url, keyring, tmp_path) as w:
        actor = await w.app.state.services.directory.create_actor(
            None, "Aktör E", "E", Classification.PUBLIC, points(
                (ContactKind.RAKEL_ISSI, ISSI), (ContactKind.SMS, "+46705550001")))
        w.actors["E"] = actor.id
        group = await w.app.state.services.directory.create_actor(
            None, "Aktör F", "F", Classification.PUBLIC, points(
                (ContactKind.RAKEL_GSSI, GSSI),))
        w.actors["F"] = group.id
        await w.add_person("f_admin", "F", Role.ACTOR_ADMIN, Classification.PUBLIC)
        await w.add_person("e_admin", "E", Role.ACTOR_ADMIN, Classification.PUBLIC)
        yield w


def _queued(w: CalloutWorld, address: str) -> list[tuple[Channel, str]]:
    return [(a.channel, m.body) for q in w.outbox.queued for m in [q.message]
            for r in m.recipients for a in r.attempts if a.address.to == address]


def test_contact_addresses_by_kind() -> None:
    assert contact_address(ContactKind.RAKEL_GSSI, "9001") == "gssi:9001"
    assert contact_address(ContactKind.RAKEL_ISSI, "2011234") == "issi:2011234"
    assert contact_address(ContactKind.SMS, "0046 70-111 00 01") == "+46701110001"
    assert contact_address(ContactKind.EMAIL, " tib@b.example ") == "tib@b.example"


async def test_a_callout_reaches_rakel_contact_points_and_an_sds_ok_acknowledges(
        rw: CalloutWorld) -> None:
    w = rw
    space_id = await _space(w, participants=("B", "E"))
    doc = await _callout(w, space_id, ("E",))
    to_issi = _queued(w, f"issi:{ISSI}")
    assert [c for c, _ in to_issi] == [Channel.RAKEL]  # the first contact point, at once
    code = to_issi[0][1].split("Svara OK ")[1][:6]
    assert code.isdigit()
    callouts = w.app.state.services.callouts
    # the right code from another terminal, or a wrong code, answers nothing
    assert await callouts.rakel_reply(OTHER_ISSI, "2010001", parse_reply(f"OK {code}")) == \
        "unmatched"
    assert await callouts.rakel_reply(ISSI, "2010001", parse_reply("hej")) == "unknown"
    assert _actor(await _get(w, doc["id"]), w.actors["E"])["state"] == "notified"
    assert await callouts.rakel_reply(ISSI, "2010001", parse_reply(f"ok  {code}")) == \
        "acknowledged"
    answered = _actor(await _get(w, doc["id"]), w.actors["E"])
    assert answered["state"] == "acknowledged" and answered["channel"] == "rakel_sds"
    assert await callouts.rakel_reply(ISSI, "2010001", parse_reply(f"OK {code}")) == \
        "acknowledged"  # idempotent


async def test_a_reply_to_the_talkgroup_answers_the_talkgroup_contact_point(
        rw: CalloutWorld) -> None:
    w = rw
    space_id = await _space(w, participants=("F",))
    doc = await _callout(w, space_id, ("F",))
    to_group = _queued(w, f"gssi:{GSSI}")
    assert [c for c, _ in to_group] == [Channel.RAKEL]
    group_code = to_group[0][1].split("Svara OK ")[1][:6]
    # any member of talkgroup 9001 answering to the talkgroup with its code
    assert await w.app.state.services.callouts.rakel_reply(
        OTHER_ISSI, GSSI, parse_reply(f"NEJ {group_code}")) == "declined"
    assert _actor(await _get(w, doc["id"]), w.actors["F"])["state"] == "declined"


async def test_a_talkgroup_is_not_a_telephone_number(rw: CalloutWorld) -> None:
    """alarm_stop compared every non-e-mail contact point as a number: a STOP from a number
    that compares as 9001 raised an alarm to F's admins for a talkgroup."""
    w = rw
    callouts = w.app.state.services.callouts
    before = len(w.outbox.queued)
    await callouts.alarm_stop("9001", w.clock())
    assert w.outbox.queued[before:] == []
    await callouts.alarm_stop("2011234", w.clock())  # E's terminal is no number either
    assert w.outbox.queued[before:] == []
    # E's own SMS number still raises the alarm
    assert (await _sms(w, "+46705550001", "STOP")).headers["x-wis-outcome"] == "stop"
    alarms = [q.message for q in w.outbox.queued[before:]]
    assert [m.kind for m in alarms] == ["contact_point.alarm"] and "Aktör E" in alarms[0].body
