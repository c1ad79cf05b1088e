"""Phone conferences through simulated providers of both dialects (TwiML signing its webhooks
as Twilio does; 46elks keyed, with espeak-ng speech), on SQLite and PostgreSQL: two parallel
conferences booked from spaces with their own line and PIN, PIN join with who/when/how long
as events, the lägesbild read out (public sections only), DTMF acknowledgement by caller id
and by code, and the call-out's dial-out (answered: 1 acknowledges and 2 joins; no answer
and voicemail: never acknowledged). Webhooks with a bad signature or key are refused."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import assert_problem, create_space
from tests.integration.test_callouts import (
    PUBLIC_URL,
    CalloutWorld,
    _actor,
    _get,
    callout_world,
    points,
)
from tests.peers.phone_provider import (
    ANSWER,
    HANG_UP,
    NO_ANSWER,
    SILENT,
    VOICEMAIL,
    ElksProvider,
    TwimlProvider,
    twilio_signature,
)
from wis_server.classification.keys import Keyring
from wis_server.domain.levels import Classification, ContactKind, Role

LINES = ("+46850000001", "+46850000002")
BRIDGES = ("+46850009001", "+46850009002")
KEY = "phone-hook-key-0123456789"
E_PHONE = "+46705550001"    # actor E's 24/7 phone (its contact point)
STRANGER = "+46709999999"   # a number that is nobody's contact point
PUBLIC_TEXT = "Storm över Mälardalen, vägarna plogas."
SEKRETESS_TEXT = "Vattenverket Lovö har reservkraft i sex timmar."
HEMLIG_TEXT = "Skyddsobjekt Alfa saknar bevakning."

Peer = TwimlProvider | ElksProvider
PROVIDERS = ["twiml", pytest.param("46elks", marks=pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="46elks speech needs espeak-ng (.ci/run "
    "installs it)"))]


@asynccontextmanager
async def phone_world(database_url: str, keyring: Keyring, tmp_path: Path, provider: str
                      ) -> AsyncIterator[tuple[CalloutWorld, Peer]]:
    peer: Peer = TwimlProvider(None, PUBLIC_URL) if provider == "twiml" else \
        ElksProvider(None, PUBLIC_URL, KEY, clip_text=lambda _t: None)  # type: ignore[arg-type]
    async with peer:
        env = {"WIS_PHONE_PROVIDER": provider, "WIS_PHONE_API_URL": peer.url,
               "WIS_PHONE_API_USER": peer.user, "WIS_PHONE_API_PASSWORD": peer.password,
               "WIS_PHONE_NUMBERS": ",".join(LINES), "WIS_OUTBOX_SWEEP_S": "0.5"}
        if provider == "46elks":
            env |= {"WIS_PHONE_WEBHOOK_SECRET": KEY, "WIS_PHONE_BRIDGES": ",".join(BRIDGES)}
        async with callout_world(database_url, keyring, tmp_path, **env) as w:
            peer.webhooks = w.client
            if isinstance(peer, ElksProvider):
                clips = w.app.state.services.phone.clips
                peer.clip_text = clips.text_of
            actor = await w.app.state.services.directory.create_actor(
                None, "Aktör E", "E", Classification.PUBLIC, points(
                    (ContactKind.PHONE, E_PHONE),))
            w.actors["E"] = actor.id
            await w.add_person("e_editor", "E", Role.EDITOR, Classification.PUBLIC)
            yield w, peer


async def _until(check: Callable[[], bool], within_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not check():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


async def _space(w: CalloutWorld, *participants: str) -> str:
    space = await create_space(w.client, w["a_editor"], participants=[
        w.actors[p] for p in participants])
    return str(space["id"])


async def _book(w: CalloutWorld, space_id: str) -> dict[str, Any]:
    r = await w.client.post(f"/api/v1/spaces/{space_id}/conferences",
                            headers=w["a_editor"].auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _where(peer: Peer, booking: dict[str, Any]) -> str:
    """Where a caller who joined `booking` is: its room (TwiML) or its line's bridge."""
    if isinstance(peer, TwimlProvider):
        return f"wis-{booking['id']}"
    return BRIDGES[LINES.index(booking["dial_in"])]


def _heard(log: Any) -> str:
    return " | ".join(log.said)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_two_parallel_conferences_pin_join_records_and_public_readout(
        database_url: str, keyring: Keyring, tmp_path: Path, provider: str) -> None:
    async with phone_world(database_url, keyring, tmp_path, provider) as (w, peer):
        storm, flood = await _space(w, "B", "E"), await _space(w, "C")
        one, two = await _book(w, storm), await _book(w, flood)
        assert {one["dial_in"], two["dial_in"]} == set(LINES) and one["pin"] != two["pin"]
        r = await w.client.post(f"/api/v1/spaces/{storm}/conferences",
                                headers=w["a_editor"].auth)
        assert assert_problem(r, 409)["code"] == "no_free_conference_line"
        r = await w.client.post(f"/api/v1/spaces/{storm}/conferences",
                                headers=w["b_reader"].auth)
        assert r.status_code == 403

        # PIN joins the line's own conference; the other's PIN is wrong on this line.
        first = await peer.inbound(E_PHONE, one["dial_in"], one["pin"] + "#", HANG_UP)
        assert first.conference == _where(peer, one), _heard(first)
        second = await peer.inbound(STRANGER, two["dial_in"], one["pin"] + "#",
                                    two["pin"] + "#", HANG_UP)
        assert second.conference == _where(peer, two), _heard(second)
        assert "Fel PIN-kod." in second.said
        assert all(s in (200, 204) for s in first.statuses + second.statuses)

        conf = (await w.client.get(f"/api/v1/conferences/{one['id']}",
                                   headers=w["b_reader"].auth)).json()
        [who] = conf["participants"]
        assert who["caller"] == E_PHONE and who["actor_id"] == w.actors["E"]
        assert who["joined_at"] and who["left_at"] and who["duration_s"] == 0  # sim. clock
        [other] = (await w.client.get(f"/api/v1/spaces/{flood}/conferences",
                                      headers=w["c_editor"].auth)).json()["items"][0][
            "participants"]
        assert other["caller"] == STRANGER and other["actor_id"] is None
        events = (await w.client.get(f"/api/v1/spaces/{storm}/events",
                                     headers=w["a_editor"].auth)).text
        kinds = re.findall(r'"event":"(conference\.[a-z]+)"', events)
        assert kinds == ["conference.booked", "conference.joined", "conference.left"]
        # The compact sync (degraded links) carries the line and PIN too.
        r = await w.client.get("/api/v1/sync", headers=w["b_reader"].auth)
        assert r.status_code == 200, r.text
        items = [i for sp in r.json()["spaces"] if sp["id"] == storm for i in sp["items"]
                 if i["event"].startswith("conference.")]
        assert items and items[-1]["dial_in"] == one["dial_in"] and items[-1]["pin"] == one["pin"]
        # Nobody outside the space sees its conference.
        r = await w.client.get(f"/api/v1/conferences/{one['id']}", headers=w["c_editor"].auth)
        assert r.status_code == 404

        # The lägesbild: public sections only, never sekretess or hemlig.
        r = await w.client.post(f"/api/v1/spaces/{storm}/situation-reports",
                                headers=w["a_editor"].auth, json={"scope": "joint",
                                "sections": [
                                    {"key": "event", "classification": "public",
                                     "body": PUBLIC_TEXT},
                                    {"key": "consequences", "classification": "sekretess",
                                     "body": SEKRETESS_TEXT},
                                    {"key": "needs", "classification": "hemlig",
                                     "body": HEMLIG_TEXT}]})
        assert r.status_code == 201, r.text
        # E's own phone takes part in the space: 2 reads at once; 9 repeats the menu.
        known = await peer.inbound(E_PHONE, one["dial_in"], "2", "9", HANG_UP)
        # A stranger must give the PIN first; a wrong one reads nothing.
        stranger = await peer.inbound(STRANGER, one["dial_in"], "2", "0000#", "2",
                                      one["pin"] + "#", HANG_UP)
        for log in (known, stranger):
            heard = _heard(log)
            assert "Händelse: " + PUBLIC_TEXT in heard, heard
            for secret in (SEKRETESS_TEXT, HEMLIG_TEXT, "Lovö", "Alfa"):
                assert secret not in heard
        menu = [s for s in known.said if s.startswith("Ange konferensens PIN-kod och")]
        assert len(menu) == 3  # first, after the read-out, and again for 9
        assert stranger.said.count("Fel PIN-kod.") == 1
        assert [s for s in stranger.said if s.startswith("Senaste")].__len__() == 1

        # Ending frees the line for another booking.
        r = await w.client.post(f"/api/v1/conferences/{two['id']}/end",
                                headers=w["a_editor"].auth)
        assert r.status_code == 200 and r.json()["status"] == "ended"
        third = await _book(w, flood)
        assert third["dial_in"] == two["dial_in"] and third["pin"] != two["pin"]

        # Webhooks that are not the provider's are refused, and say nothing.
        if isinstance(peer, TwimlProvider):
            url = peer.voice_url()
            form = {"CallSid": "CAx", "From": STRANGER, "To": LINES[0],
                    "Direction": "inbound"}
            good = twilio_signature(peer.password, url, form)
            r = await w.client.post(url, data={**form, "From": E_PHONE},
                                    headers={"X-Twilio-Signature": good})
            assert assert_problem(r, 403)["code"] == "phone_signature_invalid"
            r = await w.client.post(url + "?step=menu", data=form,
                                    headers={"X-Twilio-Signature": good})
            assert assert_problem(r, 403)["code"] == "phone_signature_invalid"
            r = await w.client.post(url, data=form)
            assert assert_problem(r, 403)["code"] == "phone_signature_invalid"
            r = await w.client.post(url, data=form, headers={"X-Twilio-Signature": good})
            assert r.status_code == 200 and "<Gather" in r.text
            other = "/api/v1/channels/phone/46elks/voice"
        else:
            form = {"callid": "cx", "from": STRANGER, "to": LINES[0], "direction": "incoming"}
            base = f"{PUBLIC_URL}/api/v1/channels/phone/46elks/voice"
            r = await w.client.post(f"{base}?key=wrong-key-0123456789", data=form)
            assert assert_problem(r, 403)["code"] == "phone_signature_invalid"
            r = await w.client.post(base, data=form)
            assert assert_problem(r, 403)["code"] == "phone_signature_invalid"
            r = await w.client.post(base, data=form, auth=("elks", KEY))  # Basic auth works
            assert r.status_code == 200 and '"ivr"' in r.text
            other = "/api/v1/channels/phone/twiml/voice"
            r = await w.client.get(f"{PUBLIC_URL}/api/v1/channels/phone/46elks/audio/"
                                   "not-a-clip.wav")
            assert r.status_code == 404
        r = await w.client.post(PUBLIC_URL + other, data={"CallSid": "x"})
        assert r.status_code == 404


async def _callout(w: CalloutWorld, space_id: str, actors: tuple[str, ...], **conference: Any
                   ) -> dict[str, Any]:
    r = await w.client.post(f"/api/v1/spaces/{space_id}/callouts", headers=w["a_editor"].auth,
                            json={"actor_ids": [w.actors[a] for a in actors],
                                  "message": "Storm över Mälardalen, samverkan 16.00",
                                  "conference": conference})
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_dtmf_acknowledgements_and_a_dial_out_that_joins(
        database_url: str, keyring: Keyring, tmp_path: Path, provider: str) -> None:
    async with phone_world(database_url, keyring, tmp_path, provider) as (w, peer):
        space = await _space(w, "B", "E")
        booking = await _book(w, space)
        # E is dialled out (its contact point is a phone) and answers: 2 = straight in.
        peer.callee(E_PHONE, ANSWER, "9", "1", "2", HANG_UP)
        doc = await _callout(w, space, ("E", "B"), booking_id=booking["id"])
        assert doc["conference"]["dial_in"] == booking["dial_in"]
        await _until(lambda: any(c.caller == E_PHONE for c in peer.calls))
        await peer.settle()
        [call] = [c for c in peer.calls if c.caller == E_PHONE]
        assert call.error is None, call.error
        heard = _heard(call)
        assert "Aktivering från Aktör A." in heard and "Storm över Mälardalen" in heard
        assert "PIN-kod " + " ".join(booking["pin"]) in heard
        assert "Tack. Aktiveringen är kvitterad för din aktör." in heard
        assert call.conference == _where(peer, booking)
        e = _actor(await _get(w, doc["id"]), w.actors["E"])
        assert e["state"] == "acknowledged" and e["channel"] == "dtmf"
        assert await _first_delivery(w, doc, "E") == "delivered"
        assert [p["caller"] for p in (await w.client.get(
            f"/api/v1/conferences/{booking['id']}", headers=w["a_editor"].auth)
        ).json()["participants"]] == [E_PHONE]

        # B was told by SMS (code in the message); B's duty officer phones in from a
        # number that is not B's contact point: 1, then the code.
        b_code = re.search(r"Svara OK (\d{6})", next(
            q.message.body for q in w.outbox.queued if q.message.kind == "callout"
            and any(a.address.to == "+46702220001" for r in q.message.recipients
                    for a in r.attempts)))
        assert b_code
        log = await peer.inbound(STRANGER, booking["dial_in"], "1", "123456#",
                                 b_code.group(1) + "#", HANG_UP)
        assert "Koden stämmer inte med någon öppen aktivering." in log.said
        assert "Tack. Aktiveringen är kvitterad för din aktör." in log.said
        b = _actor(await _get(w, doc["id"]), w.actors["B"])
        assert b["state"] == "acknowledged" and b["channel"] == "dtmf"

        # Caller id: B's own SMS number calls, presses 1: a second call-out is answered.
        again = await _callout(w, space, ("B",))
        log = await peer.inbound("+46702220001", LINES[1], "1", HANG_UP)
        assert "Tack. Aktiveringen är kvitterad för din aktör." in log.said
        assert _actor(await _get(w, again["id"]), w.actors["B"])["state"] == "acknowledged"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_dial_out_no_answer_or_voicemail_is_never_an_acknowledgement(
        database_url: str, keyring: Keyring, tmp_path: Path, provider: str) -> None:
    async with phone_world(database_url, keyring, tmp_path, provider) as (w, peer):
        human = isinstance(peer, TwimlProvider)  # TwiML's machine detection tells them apart
        cases = (  # who, their number, how they pick up, what the ledger and board then say
            ("F", "+46705550011", NO_ANSWER, "failed", "escalated"),
            ("G", "+46705550012", VOICEMAIL, "failed", "escalated"),
            # a person who listens and presses nothing: TwiML knows a human answered
            ("H", "+46705550013", ANSWER, "delivered" if human else "failed",
             "delivered" if human else "escalated"))
        for short, number, outcome, delivery, state in cases:
            actor = await w.app.state.services.directory.create_actor(
                None, f"Aktör {short}", short, Classification.PUBLIC,
                points((ContactKind.PHONE, number),))
            w.actors[short] = actor.id
            peer.callee(number, outcome, SILENT, SILENT, SILENT)
        space = await _space(w, "F", "G", "H")
        for short, number, outcome, delivery, state in cases:
            doc = await _callout(w, space, (short,), dial_in="+46 8 555 123", pin="4711")
            await _until(lambda: any(c.caller == number for c in peer.calls))
            peer.callee(number, NO_ANSWER)  # the ladder's second try: short, not asserted
            await _until_status(w, doc, short, delivery)
            await peer.settle()
            call = next(c for c in peer.calls if c.caller == number)  # the first dial-out
            assert call.error is None, call.error
            assert peer.dialled[-1].get("MachineDetection", "Enable") == "Enable"
            if outcome == NO_ANSWER or (outcome == VOICEMAIL and human):
                assert call.said == []  # not picked up, or a detected machine: nothing said
            else:  # a person, or a machine 46elks cannot tell: the message, then goodbye
                assert "Storm över Mälardalen" in _heard(call)
                assert call.said[-1] == "Tack för samtalet. Hej då."
            # Never acknowledged. A failed call moves the ladder on at once (the actor's
            # only contact point is tried again, all at once: `escalated`).
            target = await _until_state(w, doc, short, state)
            assert target["answered_at"] is None and target["channel"] is None


async def _first_delivery(w: CalloutWorld, callout: dict[str, Any], actor: str) -> str:
    contact = _actor(callout, w.actors[actor])["contact_points"][0]["id"]
    async with w.app.state.store.read() as tx:
        from sqlalchemy import text

        row = (await tx.conn.execute(text(
            "select status from deliveries where recipient_ref = :ref "
            "order by created_at, id limit 1"), {"ref": contact})).first()
    return str(row.status) if row else "none"


async def _until_status(w: CalloutWorld, doc: dict[str, Any], actor: str, status: str
                        ) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while (found := await _first_delivery(w, doc, actor)) != status:
        if loop.time() > deadline:
            raise AssertionError(f"delivery is {found}, not {status}")
        await asyncio.sleep(0.05)


async def _until_state(w: CalloutWorld, doc: dict[str, Any], actor: str, state: str
                       ) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while (target := _actor(await _get(w, doc["id"]), w.actors[actor]))["state"] != state:
        if loop.time() > deadline:
            raise AssertionError(f"{actor} is {target['state']}, not {state}")
        await asyncio.sleep(0.05)
    return target
