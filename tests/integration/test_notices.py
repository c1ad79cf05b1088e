"""Notices and notification preferences through the real app (SQLite and PostgreSQL) with
WIS_CHANNELS=memory: who is told (decide per recipient, opted in, reachable), what they are
told (full text for public, a content-free pointer for sekretess/hemlig — every byte each
channel received is scanned), ÖVNING in exercises, the delivery ledger and who may see it,
the SMS delivery-report webhook, and problem+json for bad input."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FAST_PASSWORDS, World, make_settings
from tests.helpers import assert_problem, create_space, marker
from wis_server.api.app import create_app
from wis_server.classification.keys import Keyring
from wis_server.domain.levels import Classification, Role

SECRET = "hook-" + "s3cr3t" * 4
WAIT_S = 60.0


@pytest.fixture
async def nworld(database_url: str, keyring: Keyring, tmp_path: Path) -> AsyncIterator[World]:
    settings = make_settings(tmp_path, database_url, WIS_CHANNELS="memory",
                             WIS_SMS_WEBHOOK_SECRET=SECRET, WIS_OUTBOX_SWEEP_S="0.5",
                             WIS_PUBLIC_URL="https://wis.example.se")
    app = create_app(settings, keyring, passwords=FAST_PASSWORDS)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            w = World(c, app)
            await w.add_actor("A", Classification.HEMLIG)
            await w.add_actor("B", Classification.SEKRETESS)
            await w.add_actor("C", Classification.PUBLIC)
            await w.add_actor("D", Classification.HEMLIG)
            await w.add_person("sys", "A", Role.SYSTEM_ADMIN, Classification.PUBLIC)
            await w.add_person("a_editor", "A", Role.EDITOR, Classification.HEMLIG)
            await w.add_person("a_reader", "A", Role.READER, Classification.PUBLIC)
            await w.add_person("b_editor", "B", Role.EDITOR, Classification.SEKRETESS)
            await w.add_person("b_reader", "B", Role.READER, Classification.PUBLIC)
            await w.add_person("c_editor", "C", Role.EDITOR, Classification.PUBLIC)
            await w.add_person("d_editor", "D", Role.EDITOR, Classification.HEMLIG)
            yield w


def sent(w: World) -> list[Any]:
    return [m for ch in w.app.state.memory_channels.values() for m in ch.sent]


async def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Until `condition` holds (the dispatcher runs in the app); bounded, never a margin."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def opt_in(w: World, who: str, **prefs: Any) -> dict[str, Any]:
    doc = {"email": f"{who}@example.se", "phone": None, **prefs}
    r = await w.client.put("/api/v1/me/notifications", headers=w[who].auth, json=doc)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def notice(w: World, who: str, space_id: str, level: str, body: str,
                 audience: list[str] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"classification": level, "body": body}
    if audience is not None:
        doc["audience"] = audience
    r = await w.client.post(f"/api/v1/spaces/{space_id}/notices", headers=w[who].auth,
                            json=doc)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def deliveries(w: World, who: str, notice_id: str) -> list[dict[str, Any]]:
    r = await w.client.get(f"/api/v1/notices/{notice_id}/deliveries", headers=w[who].auth)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def settled(w: World, notice_id: str) -> list[dict[str, Any]]:
    """The ledger once nothing in it is queued any more (the dispatcher records each send
    just after the recorder holds it)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        ledger = await deliveries(w, "a_editor", notice_id)
        if all(d["status"] != "queued" for d in ledger):
            return ledger
        assert time.monotonic() < deadline, f"deliveries still queued: {ledger}"
        await asyncio.sleep(0.05)


async def test_preferences_have_defaults_and_are_replaced_by_put(nworld: World) -> None:
    w = nworld
    r = await w.client.get("/api/v1/me/notifications", headers=w["a_reader"].auth)
    assert r.status_code == 200
    assert r.json() == {"channels": ["push", "email", "sms"],
                        "spaces": {"mode": "all", "space_ids": []},
                        "events": ["notice", "space_added"], "quiet_hours": None,
                        "email": None, "phone": None, "push_subscriptions": 0}
    space = await create_space(w.client, w["a_editor"], participants=[w.actors["B"]])
    doc = await opt_in(w, "a_reader", channels=["sms", "email"], phone="070-123 45 67",
                       spaces={"mode": "chosen", "space_ids": [space["id"]]},
                       events=["notice", "entry", "situation_report"],
                       quiet_hours={"from": "22:00", "to": "06:30"})
    assert doc["phone"] == "+46701234567" and doc["email"] == "a_reader@example.se"
    assert doc["channels"] == ["sms", "email"]
    assert doc["quiet_hours"] == {"from": "22:00", "to": "06:30",
                                  "timezone": "Europe/Stockholm"}
    again = await w.client.get("/api/v1/me/notifications", headers=w["a_reader"].auth)
    assert again.json() == doc


@pytest.mark.parametrize(("doc", "status", "code"), [
    ({"channels": ["fax"]}, 422, "unknown_value"),
    ({"channels": ["sms", "sms"]}, 422, "duplicate_item"),
    ({"email": "not-an-address"}, 422, "invalid_email"),
    ({"phone": "12"}, 422, "invalid_phone"),
    ({"quiet_hours": {"from": "25:00", "to": "06:00"}}, 422, "invalid_time"),
    ({"quiet_hours": {"from": "22:00", "to": "22:00"}}, 422, "empty_quiet_hours"),
    ({"quiet_hours": {"from": "22:00", "to": "06:00", "timezone": "Mars/Olympus"}}, 422,
     "unknown_timezone"),
    ({"spaces": {"mode": "all", "space_ids": ["x"]}}, 422, "space_ids_without_chosen"),
    ({"spaces": {"mode": "chosen", "space_ids": ["00000000-0000-0000-0000-000000000000"]}},
     422, "not_your_space"),
    ({"events": ["everything"]}, 422, "unknown_value"),
    ({"colour": "red"}, 422, "unknown_field"),
])
async def test_bad_preferences_are_problems_with_stable_codes(nworld: World, doc: Any,
                                                             status: int, code: str) -> None:
    r = await nworld.client.put("/api/v1/me/notifications", headers=nworld["a_reader"].auth,
                                json=doc)
    assert assert_problem(r, status)["code"] == code


async def test_a_public_notice_reaches_every_opted_in_reader_in_full(nworld: World) -> None:
    w = nworld
    space = await create_space(w.client, w["a_editor"], classification="public",
                               title="Storm Alfrida",
                               participants=[w.actors["B"], w.actors["C"]])
    for who in ("a_editor", "a_reader", "b_reader", "c_editor"):
        await opt_in(w, who)
    await opt_in(w, "b_editor", events=["entry"])  # did not ask for notices
    await opt_in(w, "d_editor")  # not a participant
    body = marker("public")
    n = await notice(w, "a_editor", space["id"], "public", f"Vägarna stängs {body}")
    assert n["kind"] == "notice" and n["classification"] == "public"
    await wait_for(lambda: len(sent(w)) >= 3, "three e-mails")
    to = sorted(m.to for m in sent(w))
    assert to == ["a_reader@example.se", "b_reader@example.se", "c_editor@example.se"]
    for m in sent(w):
        assert body in m.rendered.text
        assert m.rendered.url == f"https://wis.example.se/#/spaces/{space['id']}"
    # in the log, listed as a notice, and one event of kind notice.created
    log = await w.client.get(f"/api/v1/spaces/{space['id']}/notices",
                             headers=w["c_editor"].auth)
    assert [i["id"] for i in log.json()["items"]] == [n["id"]]
    entries = await w.client.get(f"/api/v1/spaces/{space['id']}/entries",
                                 headers=w["c_editor"].auth)
    assert [i["kind"] for i in entries.json()["items"]] == ["notice"]
    ledger = await settled(w, n["id"])
    assert sorted(d["status"] for d in ledger) == ["sent"] * 3
    assert {d["channel"] for d in ledger} == {"email"}


async def test_a_classified_notice_leaves_only_as_a_pointer_to_those_who_may_read_it(
        nworld: World) -> None:
    w = nworld
    title = marker("title")
    space = await create_space(w.client, w["a_editor"], classification="hemlig", title=title,
                               participants=[w.actors["B"], w.actors["C"]])
    for who in ("a_reader", "b_editor", "b_reader", "c_editor"):
        await opt_in(w, who, phone="+46701234567", channels=["sms", "email"])
    await opt_in(w, "d_editor")
    body = marker("body")
    n = await notice(w, "a_editor", space["id"], "sekretess", f"Hotbild {body}",
                     audience=[w.actors["B"]])
    # who may read it: b_editor (B in audience, sekretess clearance); a_editor sent it;
    # a_reader and b_reader lack the clearance, C is not in the audience
    await wait_for(lambda: len(sent(w)) >= 1, "the pointer")
    ledger = await settled(w, n["id"])
    assert [(d["recipient_user_id"], d["channel"], d["rank"], d["status"]) for d in ledger] \
        == [(w["b_editor"].user_id, "sms", 0, "sent"),
            (w["b_editor"].user_id, "email", 1, "standby")]
    assert {d["recipient_user_id"] for d in ledger} == {w["b_editor"].user_id}
    [m] = sent(w)
    wire = "\n".join([m.to if isinstance(m.to, str) else m.to.endpoint,
                      m.rendered.subject, m.rendered.text, m.rendered.url or ""]).encode()
    for secret in (body, title, "Hotbild", "A_Editor"):
        assert secret.encode() not in wire
    assert "SEKRETESS" in m.rendered.text and "logga in" in m.rendered.text


async def test_every_message_from_an_exercise_starts_with_ovning(nworld: World) -> None:
    w = nworld
    space = await create_space(w.client, w["a_editor"], classification="public",
                               type="exercise", participants=[w.actors["B"]])
    await opt_in(w, "b_reader", phone="+46701234567", channels=["email", "sms"])
    await opt_in(w, "c_editor")
    await notice(w, "a_editor", space["id"], "public", "Övningen börjar")
    await wait_for(lambda: len(sent(w)) >= 1, "the e-mail")
    [m] = sent(w)
    assert m.to == "b_reader@example.se"
    assert m.rendered.subject.startswith("ÖVNING") and m.rendered.text.startswith("ÖVNING")


async def test_the_ledger_is_for_the_sender_and_the_space_editors(nworld: World) -> None:
    w = nworld
    space = await create_space(w.client, w["a_editor"], classification="public",
                               participants=[w.actors["B"]])
    await opt_in(w, "b_reader")
    n = await notice(w, "a_editor", space["id"], "public", "Kokvattenrekommendation")
    assert len(await deliveries(w, "a_editor", n["id"])) == 1  # the sender
    assert len(await deliveries(w, "b_editor", n["id"])) == 1  # an editor of the space
    r = await w.client.get(f"/api/v1/notices/{n['id']}/deliveries", headers=w["b_reader"].auth)
    assert assert_problem(r, 403)["code"] == "not_notice_sender"
    r = await w.client.get(f"/api/v1/notices/{n['id']}/deliveries", headers=w["d_editor"].auth)
    assert_problem(r, 404)
    r = await w.client.get("/api/v1/notices/nope/deliveries", headers=w["a_editor"].auth)
    assert_problem(r, 404)


async def test_notices_refuse_bad_input_like_entries(nworld: World) -> None:
    w = nworld
    space = await create_space(w.client, w["b_editor"], classification="sekretess",
                               participants=[w.actors["C"]])
    url = f"/api/v1/spaces/{space['id']}/notices"
    cases = [({"classification": "hemlig", "body": "x"}, "classification_above_ceiling"),
             ({"classification": "public", "body": "   "}, "blank"),
             ({"classification": "public"}, "missing_field"),
             ({"classification": "sekretess", "body": "x", "audience": [w.actors["C"]]},
              "audience_below_level")]
    for doc, code in cases:
        r = await w.client.post(url, headers=w["b_editor"].auth, json=doc)
        assert assert_problem(r, 422)["code"] == code, doc
    r = await w.client.post(url, headers=w["d_editor"].auth,
                            json={"classification": "public", "body": "x"})
    assert_problem(r, 404)  # not a participant: the space does not exist for them
    r = await w.client.post(f"/api/v1/spaces/{space['id']}/entries", headers=w["b_editor"].auth,
                            json={"kind": "notice", "classification": "public", "body": "x"})
    assert assert_problem(r, 422)["code"] == "notice_via_notices"


async def test_sms_delivery_reports_need_the_secret(nworld: World,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    w = nworld
    space = await create_space(w.client, w["a_editor"], classification="public",
                               participants=[w.actors["B"]])
    await opt_in(w, "b_reader", phone="+46701234567", channels=["sms", "email"])
    n = await notice(w, "a_editor", space["id"], "public", "Elavbrott")
    await wait_for(lambda: len(sent(w)) >= 1, "the SMS")
    provider_id = await _provider_ref(w, sent(w)[0].delivery_id)  # once recorded
    form = {"id": provider_id, "status": "failed"}
    r = await w.client.post("/api/v1/channels/sms/delivery/wrong", data=form)
    problem = assert_problem(r, 404)
    assert problem["detail"] == "no such resource"
    r = await w.client.post(f"/api/v1/channels/sms/delivery/{SECRET}", data={"id": "x"})
    assert assert_problem(r, 422)["code"] == "sms_webhook_missing_field"
    r = await w.client.post(f"/api/v1/channels/sms/delivery/{SECRET}", data=form)
    assert r.status_code == 204
    # the SMS failed: the recipient's next channel (e-mail) is tried
    await wait_for(lambda: len(sent(w)) >= 2, "the fail-over e-mail")
    ledger = {d["channel"]: d["status"] for d in await settled(w, n["id"])}
    assert ledger == {"sms": "failed", "email": "sent"}
    logs = capsys.readouterr()
    assert "/api/v1/channels/sms/delivery/{secret}" in logs.out + logs.err
    assert SECRET not in logs.out + logs.err  # the path secret never reaches the logs


async def test_memory_messages_are_shown_to_system_admins_only(nworld: World) -> None:
    w = nworld
    space = await create_space(w.client, w["a_editor"], classification="public",
                               participants=[w.actors["B"]])
    await opt_in(w, "b_reader")
    await notice(w, "a_editor", space["id"], "public", "Demo")
    await wait_for(lambda: len(sent(w)) >= 1, "the e-mail")
    r = await w.client.get("/api/v1/channels/memory/messages", headers=w["sys"].auth)
    assert r.status_code == 200
    [item] = r.json()["items"]
    assert item["channel"] == "email" and item["to"] == "b_reader@example.se"
    r = await w.client.get("/api/v1/channels/memory/messages", headers=w["a_editor"].auth)
    assert assert_problem(r, 403)["code"] == "not_system_admin"


async def _provider_ref(w: World, delivery_id: str) -> str:
    """The provider's id of a delivery, once the dispatcher has recorded the send (the
    recorder may hold the message a moment before the row says so)."""
    from sqlalchemy import select

    from wis_server.storage.tables import deliveries as table
    deadline = time.monotonic() + WAIT_S
    while True:
        async with w.app.state.store.read() as tx:
            ref = (await tx.conn.execute(select(table.c.provider_ref).where(
                table.c.id == delivery_id))).scalar_one()
        if ref is not None:
            return str(ref)
        assert time.monotonic() < deadline, "the send was never recorded"
        await asyncio.sleep(0.05)


async def test_new_entries_reach_those_who_asked_for_them(nworld: World) -> None:
    w = nworld
    space = await create_space(w.client, w["a_editor"], classification="hemlig",
                               participants=[w.actors["B"]])
    await opt_in(w, "b_editor", events=["entry"])
    await opt_in(w, "b_reader", events=["entry"])  # public clearance: no sekretess entry
    await opt_in(w, "a_reader")  # notices only (the default)
    body = marker("entry")
    r = await w.client.post(f"/api/v1/spaces/{space['id']}/entries", headers=w["a_editor"].auth,
                            json={"kind": "note", "classification": "sekretess", "body": body,
                                  "audience": [w.actors["B"]]})
    assert r.status_code == 201, r.text
    await wait_for(lambda: len(sent(w)) >= 1, "the pointer for the new entry")
    [m] = sent(w)
    assert m.to == "b_editor@example.se"
    assert body not in m.rendered.text and "SEKRETESS" in m.rendered.text
