"""Call-outs end to end through the real app on SQLite and PostgreSQL, with a simulated clock:
escalation over time, acknowledgement by web button, by signed link (a GET alone must not
acknowledge) and by SMS reply; idempotency; wrong and expired codes; exercise isolation;
classified content never in a message or on the link page; events live in the space's log."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FAST_PASSWORDS, World, make_settings
from tests.helpers import assert_problem, create_space
from wis_server.api.app import create_app
from wis_server.channels.ports import Capabilities
from wis_server.channels.render import render
from wis_server.classification.channel_policy import ChannelKind, MessageContent, apply
from wis_server.classification.keys import Keyring
from wis_server.domain.levels import Classification, ContactKind, Role
from wis_server.domain.model import ContactPoint, Space
from wis_server.domain.outbox import OutboxDraft
from wis_server.services.callout_outbox import StoreOutbox
from wis_server.storage.unit import Tx


async def raw_rows(tx: Tx, sql: str) -> list[Any]:
    from sqlalchemy import text

    return list((await tx.conn.execute(text(sql))).all())


SECRET = "hook-" + "s3cr3t-value-for-tests"
PUBLIC_URL = "https://wis.example.se"
STEP = timedelta(minutes=10)
BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


class SimClock:
    """Starts at the real time (whole minute; access tokens are checked against the real
    clock) and moves only when the test says so."""

    def __init__(self) -> None:
        self.start = datetime.now(UTC).replace(second=0, microsecond=0)
        self.now = self.start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def points(*values: tuple[ContactKind, str]) -> tuple[ContactPoint, ...]:
    return tuple(ContactPoint(kind, value, i + 1, f"väg {i + 1}")
                 for i, (kind, value) in enumerate(values))


@dataclass(frozen=True)
class Queued:
    id: str
    message: OutboxDraft


class RecordingOutbox(StoreOutbox):
    """The real outbox (rows in the caller's transaction) that also keeps the drafts, so a
    test can read what each message says without the dispatcher."""

    def __init__(self) -> None:
        self.queued: list[Queued] = []

    async def enqueue(self, tx: Tx, draft: OutboxDraft, now: datetime,
                      space: Space | None = None) -> str:
        message_id = await super().enqueue(tx, draft, now, space)
        self.queued.append(Queued(message_id, draft))
        return message_id


class CalloutWorld(World):
    clock: SimClock
    outbox: RecordingOutbox


@asynccontextmanager
async def callout_world(database_url: str, keyring: Keyring, tmp_path: Path,
                        tick_s: str = "0", **env: str) -> AsyncIterator[CalloutWorld]:
    clock = SimClock()
    settings = make_settings(tmp_path, database_url, WIS_SMS_WEBHOOK_SECRET=SECRET,
                             WIS_PUBLIC_URL=PUBLIC_URL, WIS_CALLOUT_STEP_S="600",
                             WIS_CALLOUT_TICK_S=tick_s, WIS_ACCESS_TOKEN_TTL="3600", **env)
    app = create_app(settings, keyring, clock=clock, passwords=FAST_PASSWORDS)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            w = CalloutWorld(c, app)
            w.clock = clock
            w.outbox = RecordingOutbox()
            app.state.services.callouts.outbox = w.outbox
            d = app.state.services.directory
            for short, ceiling, contacts in (
                ("A", Classification.HEMLIG, points((ContactKind.SMS, "+46701110001"))),
                ("B", Classification.SEKRETESS, points(
                    (ContactKind.SMS, "+46702220001"), (ContactKind.EMAIL, "tib@b.example"),
                    (ContactKind.SMS, "+46702220003"))),
                ("C", Classification.PUBLIC, points((ContactKind.SMS, "+46703330001"))),
                ("D", Classification.PUBLIC, ()),
            ):
                actor = await d.create_actor(None, f"Aktör {short}", short, ceiling, contacts)
                w.actors[short] = actor.id
            await w.add_person("a_editor", "A", Role.EDITOR, Classification.HEMLIG)
            await w.add_person("a_editor2", "A", Role.EDITOR, Classification.PUBLIC)
            await w.add_person("a_reader", "A", Role.READER, Classification.PUBLIC)
            await w.add_person("b_editor", "B", Role.EDITOR, Classification.SEKRETESS)
            await w.add_person("b_reader", "B", Role.READER, Classification.PUBLIC)
            await w.add_person("b_admin", "B", Role.ACTOR_ADMIN, Classification.PUBLIC)
            await w.add_person("c_editor", "C", Role.EDITOR, Classification.PUBLIC)
            yield w


@pytest.fixture
async def cw(database_url: str, keyring: Keyring, tmp_path: Path
             ) -> AsyncIterator[CalloutWorld]:
    async with callout_world(database_url, keyring, tmp_path) as w:
        yield w


async def _space(w: CalloutWorld, *, type: str = "disruption",
                 participants: tuple[str, ...] = ("B", "C", "D")) -> str:
    space = await create_space(w.client, w["a_editor"], type=type, classification="hemlig",
                               participants=[w.actors[p] for p in participants])
    return str(space["id"])


async def _callout(w: CalloutWorld, space_id: str, actors: tuple[str, ...] = ("B", "C"),
                   **extra: Any) -> dict[str, Any]:
    doc = {"actor_ids": [w.actors[a] for a in actors], "message": "Storm över Mälardalen",
           "conference": {"start_at": "2026-12-02T03:30:00Z", "dial_in": "+46 8 555 123",
                          "pin": "4711"}, **extra}
    r = await w.client.post(f"/api/v1/spaces/{space_id}/callouts", headers=w["a_editor"].auth,
                            json=doc)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _actor(doc: dict[str, Any], actor_id: str) -> dict[str, Any]:
    return next(a for a in doc["actors"] if a["actor_id"] == actor_id)


def _sent_to(w: CalloutWorld, address: str) -> list[str]:
    """Each message queued to this address: its body and link (as the renderer joins them)."""
    return [f"{m.body}\n{m.link}" for q in w.outbox.queued for m in [q.message]
            for r in m.recipients for a in r.attempts if a.address.to == address]


def _rendered_sms(m: OutboxDraft) -> str:
    """What the dispatcher puts on the wire for this draft over SMS (policy, then render)."""
    out = apply(ChannelKind.SMS, MessageContent(m.classification, m.body, link=m.link,
                                                exercise=m.exercise))
    return render(out, Capabilities(1530, True, Classification.PUBLIC)).text


def _code_and_link(body: str) -> tuple[str, str]:
    code = re.search(r"Svara OK (\d{6})", body)
    link = re.search(r"(https://wis\.example\.se/k/\S+)", body)
    assert code and link, body
    return code.group(1), link.group(1)


async def _get(w: CalloutWorld, callout_id: str, who: str = "a_editor") -> dict[str, Any]:
    r = await w.client.get(f"/api/v1/callouts/{callout_id}", headers=w[who].auth)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _sms(w: CalloutWorld, sender: str, text: str, secret: str = SECRET
               ) -> httpx.Response:
    return await w.client.post(f"/api/v1/channels/sms/inbound/{secret}",
                               data={"from": sender, "to": "+46766860000", "message": text})


async def test_escalation_over_simulated_time(cw: CalloutWorld) -> None:
    w = cw
    space_id = await _space(w)
    doc = await _callout(w, space_id, ("B", "C", "D"))
    b, c, d = w.actors["B"], w.actors["C"], w.actors["D"]
    assert _actor(doc, b)["state"] == "notified" and _actor(doc, c)["state"] == "notified"
    # D has no contact points: the calling actor's editors hear at once.
    assert _actor(doc, d)["state"] == "escalated"
    missing = [q.message for q in w.outbox.queued if q.message.kind == "callout.missing"]
    assert len(missing) == 1 and "Aktör D" in missing[0].body
    # the messages are outbox rows, with a delivery per recipient and channel
    async with w.app.state.store.read() as tx:
        kinds = sorted(r[0] for r in await raw_rows(tx, "SELECT kind FROM outbox_messages"))
        refs = await raw_rows(tx, "SELECT recipient_ref FROM deliveries WHERE rank = 0 "
                                  "AND recipient_ref IS NOT NULL")
    assert kinds == ["callout", "callout", "callout.missing"]
    assert len(refs) == 2
    assert {r.user_id for r in missing[0].recipients} == {w["a_editor"].user_id,
                                                          w["a_editor2"].user_id}
    assert doc["deadline_at"] == iso(w.clock.start + timedelta(minutes=60))
    # first message to each first contact point only
    assert len(_sent_to(w, "+46702220001")) == 1 and not _sent_to(w, "tib@b.example")

    # C acknowledges by SMS; B does not answer.
    code, _ = _code_and_link(_sent_to(w, "+46703330001")[0])
    w.clock.advance(timedelta(minutes=3))
    r = await _sms(w, "+46703330001", f"ok {code}")
    assert r.status_code == 200 and r.content == b""

    w.clock.advance(STEP - timedelta(minutes=3) - timedelta(seconds=1))
    assert await w.app.state.services.callouts.run_due() == 0  # not yet due
    w.clock.advance(timedelta(seconds=1))
    assert await w.app.state.services.callouts.run_due() == 1
    assert len(_sent_to(w, "tib@b.example")) == 1           # next contact point
    doc = await _get(w, doc["id"])
    assert _actor(doc, b)["state"] == "escalated" and _actor(doc, b)["escalation_stage"] == 1
    cc = _actor(doc, c)
    assert cc["state"] == "acknowledged" and cc["channel"] == "sms"
    assert cc["time_to_acknowledge_s"] == 180 and cc["answered_by"] is None

    w.clock.advance(STEP)
    await w.app.state.services.callouts.run_due()
    assert len(_sent_to(w, "+46702220003")) == 1
    w.clock.advance(STEP)
    await w.app.state.services.callouts.run_due()          # all at once
    assert [len(_sent_to(w, a)) for a in ("+46702220001", "tib@b.example", "+46702220003")] \
        == [2, 2, 2]
    w.clock.advance(STEP)
    await w.app.state.services.callouts.run_due()          # editors told B is missing
    missing = [q.message for q in w.outbox.queued if q.message.kind == "callout.missing"]
    assert len(missing) == 2 and "Aktör B" in missing[1].body
    w.clock.advance(timedelta(minutes=20))                  # 60 min: the deadline
    await w.app.state.services.callouts.run_due()
    doc = await _get(w, doc["id"])
    assert _actor(doc, b)["state"] == "overdue" and _actor(doc, d)["state"] == "overdue"
    assert _actor(doc, c)["state"] == "acknowledged"
    assert doc["counts"]["overdue"] == 2 and doc["counts"]["acknowledged"] == 1
    overdue = [q.message for q in w.outbox.queued if q.message.kind == "callout.missing"][-1]
    assert "försenad" in overdue.body and "Aktör B" in overdue.body
    # nothing more is due, ever
    w.clock.advance(timedelta(hours=2))
    assert await w.app.state.services.callouts.run_due() == 0

    # Every change was an event in the space's log, carrying the board's view.
    r = await w.client.get(f"/api/v1/spaces/{space_id}/events", headers=w["b_reader"].auth)
    frames = [f for f in r.json()["items"] if f["event"].startswith("callout.")]
    kinds = [f["event"] for f in frames]
    assert kinds.count("callout.created") == 1 and kinds.count("callout.updated") >= 6
    last = frames[-1]["data"]
    assert last["id"] == doc["id"] and _actor(last, b)["state"] == "overdue"


async def test_web_acknowledgement_is_idempotent_and_only_for_the_summoned(
        cw: CalloutWorld) -> None:
    w = cw
    space_id = await _space(w)
    doc = await _callout(w, space_id, ("B",))
    url = f"/api/v1/callouts/{doc['id']}/acknowledgements"
    w.clock.advance(timedelta(minutes=7))
    r = await w.client.post(url, headers=w["b_reader"].auth, json={})
    assert r.status_code == 200, r.text
    assert r.json() == {"callout_id": doc["id"], "actor_id": w.actors["B"],
                        "state": "acknowledged", "changed": True}
    w.clock.advance(timedelta(minutes=1))
    again = await w.client.post(url, headers=w["b_editor"].auth, json={})
    assert again.json()["changed"] is False
    got = _actor(await _get(w, doc["id"]), w.actors["B"])
    assert got["answered_by"] == {"id": w["b_reader"].user_id, "display_name": "B_Reader"}
    assert got["channel"] == "web" and got["time_to_acknowledge_s"] == 420
    # C was not summoned
    assert assert_problem(await w.client.post(url, headers=w["c_editor"].auth, json={}),
                          403)["code"] == "not_summoned"
    # GET is not an acknowledgement (405, not a state change)
    r = await w.client.get(url, headers=w["b_reader"].auth)
    assert r.status_code == 405


async def test_link_get_shows_and_never_acknowledges_the_post_does(cw: CalloutWorld) -> None:
    w = cw
    space_id = await _space(w, type="exercise")
    doc = await _callout(w, space_id, ("B",))
    body = _sent_to(w, "+46702220001")[0]
    assert _rendered_sms(w.outbox.queued[0].message).startswith("ÖVNING")
    _, link = _code_and_link(body)
    path = link.removeprefix(PUBLIC_URL)
    assert len(path.removeprefix("/k/")) <= 60
    for _ in range(3):  # link scanners, previews, a curious person
        page = await w.client.get(path, headers=BROWSER)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "no-store" in page.headers["cache-control"]
        assert "ÖVNING" in page.text and 'method="post"' in page.text
        assert "Storm över Mälardalen" in page.text and "4711" in page.text
        head = await w.client.head(path, headers=BROWSER)
        assert head.status_code in (200, 405)
    assert _actor(await _get(w, doc["id"]), w.actors["B"])["state"] == "notified"
    en = await w.client.get(path, headers={**BROWSER, "accept-language": "en-GB,en"})
    assert "Acknowledge" in en.text

    w.clock.advance(timedelta(minutes=2))
    done = await w.client.post(path, data={"answer": "acknowledge"}, headers=BROWSER)
    assert done.status_code == 200 and 'data-state="acknowledged"' in done.text
    got = _actor(await _get(w, doc["id"]), w.actors["B"])
    assert got["state"] == "acknowledged" and got["channel"] == "link"
    assert got["time_to_acknowledge_s"] == 120
    twice = await w.client.post(path, data={"answer": "acknowledge"}, headers=BROWSER)
    assert twice.status_code == 200 and "Redan besvarad" in twice.text

    # a forged or altered token is one plain 404 page
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert (await w.client.get(forged, headers=BROWSER)).status_code == 404
    assert (await w.client.post(forged, data={"answer": "acknowledge"}, headers=BROWSER)
            ).status_code == 404
    assert (await w.client.get("/k/not-a-token", headers=BROWSER)).status_code == 404
    # other clients (gateways, scripts) get problem+json with a stable code
    assert assert_problem(await w.client.get(forged), 404)["code"] == "link_invalid"


async def test_expired_link_and_closed_callout(cw: CalloutWorld) -> None:
    w = cw
    space_id = await _space(w)
    doc = await _callout(w, space_id, ("B", "C"))
    _, link = _code_and_link(_sent_to(w, "+46702220001")[0])
    code_c, _ = _code_and_link(_sent_to(w, "+46703330001")[0])
    r = await w.client.post(f"/api/v1/callouts/{doc['id']}/close", headers=w["a_editor"].auth)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    late = await w.client.post(f"/api/v1/callouts/{doc['id']}/acknowledgements",
                               headers=w["b_reader"].auth, json={})
    assert assert_problem(late, 409)["code"] == "callout_closed"
    r = await _sms(w, "+46703330001", f"OK {code_c}")
    assert r.status_code == 200 and r.headers["x-wis-outcome"] in ("unmatched", "closed")
    w.clock.advance(timedelta(hours=26))  # past deadline + 24 h: the link has expired
    page = await w.client.get(link.removeprefix(PUBLIC_URL), headers=BROWSER)
    assert page.status_code == 410 and "gått ut" in page.text
    assert assert_problem(await w.client.post(link.removeprefix(PUBLIC_URL)),
                          410)["code"] == "link_expired"


async def test_sms_reply_wrong_code_wrong_number_decline_stop(cw: CalloutWorld) -> None:
    w = cw
    space_id = await _space(w)
    doc = await _callout(w, space_id, ("B",))
    code, _ = _code_and_link(_sent_to(w, "+46702220001")[0])
    wrong = "000000" if code != "000000" else "111111"
    assert (await _sms(w, "+46702220001", f"OK {wrong}")).headers["x-wis-outcome"] == \
        "unmatched"
    # the right code from a number that is not that contact point answers nothing
    assert (await _sms(w, "+46709999999", f"OK {code}")).headers["x-wis-outcome"] == \
        "unmatched"
    assert _actor(await _get(w, doc["id"]), w.actors["B"])["state"] == "notified"
    # a wrong webhook secret is a plain 404 problem, and nothing happens
    r = await _sms(w, "+46702220001", f"OK {code}", secret="wrong")
    assert assert_problem(r, 404)["code"] == "not_found"
    assert "detail" not in r.json() or "secret" not in r.json()["detail"]
    assert (await _sms(w, "+46702220001", f"NEJ {code}")).headers["x-wis-outcome"] == \
        "declined"
    assert _actor(await _get(w, doc["id"]), w.actors["B"])["state"] == "declined"
    assert (await _sms(w, "+46702220001", f"OK {code}")).headers["x-wis-outcome"] == \
        "acknowledged"
    assert (await _sms(w, "+46702220001", f"OK {code}")).headers["x-wis-outcome"] == \
        "acknowledged"  # idempotent
    # STOP is an alarm to B's admins, never silence
    before = len(w.outbox.queued)
    assert (await _sms(w, "+46702220003", "STOP")).headers["x-wis-outcome"] == "stop"
    alarm = w.outbox.queued[before].message
    assert alarm.kind == "contact_point.alarm" and "Aktör B" in alarm.body
    assert [r.user_id for r in alarm.recipients] == [w["b_admin"].user_id]
    audit = await w.client.get("/api/v1/audit", headers=w["b_admin"].auth,
                               params={"actor_id": w.actors["B"]})
    if audit.status_code == 200:
        actions = [x["action"] for x in audit.json()["items"]]
        assert "contact_point.alarm" in actions


async def test_web_code_checks_and_problem_codes(cw: CalloutWorld) -> None:
    w = cw
    space_id = await _space(w)
    doc = await _callout(w, space_id, ("B", "C"))
    code_c, _ = _code_and_link(_sent_to(w, "+46703330001")[0])
    url = f"/api/v1/callouts/{doc['id']}/acknowledgements"
    # B may not use C's code
    r = await w.client.post(url, headers=w["b_editor"].auth, json={"code": code_c})
    assert assert_problem(r, 422)["code"] == "code_invalid"
    r = await w.client.post(url, headers=w["b_editor"].auth, json={"code": "12"})
    assert assert_problem(r, 422)["code"] == "too_short"
    r = await w.client.post(url, headers=w["c_editor"].auth, json={"code": code_c})
    assert r.json()["state"] == "acknowledged"
    unknown = "/api/v1/callouts/00000000-0000-0000-0000-000000000000/acknowledgements"
    assert assert_problem(await w.client.post(unknown, headers=w["b_editor"].auth, json={}),
                          404)["code"] == "not_found"


async def test_exercise_isolation_and_participants_only(cw: CalloutWorld) -> None:
    w = cw
    space_id = await _space(w, type="exercise", participants=("B",))
    r = await w.client.post(f"/api/v1/spaces/{space_id}/callouts", headers=w["a_editor"].auth,
                            json={"actor_ids": [w.actors["B"], w.actors["C"]],
                                  "message": "Övning"})
    assert assert_problem(r, 422)["code"] == "actor_not_participant"
    doc = await _callout(w, space_id, ("B",))
    assert doc["exercise"] is True
    assert all(q.message.exercise for q in w.outbox.queued)
    assert all(_rendered_sms(q.message).startswith("ÖVNING") for q in w.outbox.queued)
    async with w.app.state.store.read() as tx:  # the rows themselves say so too
        rows = await raw_rows(tx, "SELECT exercise FROM outbox_messages")
    assert rows and all(bool(r[0]) for r in rows)
    # B leaves the exercise: the ladder goes on, but nothing reaches B any more
    r = await w.client.patch(f"/api/v1/spaces/{space_id}", headers=w["a_editor"].auth,
                             json={"participants": [{"actor_id": w.actors["A"]}]})
    assert r.status_code == 200, r.text
    before = len(w.outbox.queued)
    w.clock.advance(STEP)
    await w.app.state.services.callouts.run_due()
    assert len(w.outbox.queued) == before
    # and only participants can be added later
    r = await w.client.post(f"/api/v1/callouts/{doc['id']}/actors", headers=w["a_editor"].auth,
                            json={"actor_ids": [w.actors["C"]]})
    assert assert_problem(r, 422)["code"] == "actor_not_participant"


async def test_classified_callout_sends_pointers_and_hides_content(cw: CalloutWorld) -> None:
    w = cw
    space_id = await _space(w)
    doc = await _callout(w, space_id, ("B", "C"), classification="sekretess")
    # C's ceiling is public: nobody there could read it; but a call-out summons C anyway
    # and its contact point gets a content-free pointer. Nothing of the content leaves.
    for q in w.outbox.queued:
        m = q.message
        for secret in ("Storm", "Mälardalen", "4711", "555 123"):
            assert secret not in m.body and secret not in m.subject, m.body
        assert m.classification is Classification.PUBLIC
    _, link = _code_and_link(_sent_to(w, "+46702220001")[0])
    page = await w.client.get(link.removeprefix(PUBLIC_URL), headers=BROWSER)
    assert page.status_code == 200 and "SEKRETESS" in page.text
    for secret in ("Storm", "4711", "555 123"):
        assert secret not in page.text
    # read path: B's editor (sekretess) reads it; B's reader (public) does not see it at all
    assert (await _get(w, doc["id"], "b_editor"))["message"] == "Storm över Mälardalen"
    r = await w.client.get(f"/api/v1/callouts/{doc['id']}", headers=w["b_reader"].auth)
    assert assert_problem(r, 404)["code"] == "not_found"
    listing = await w.client.get(f"/api/v1/spaces/{space_id}/callouts",
                                 headers=w["b_reader"].auth)
    assert listing.json()["items"] == []
    # live: the classified call-out's events reach B's editor, not B's reader
    async def callout_frames(who: str) -> list[dict[str, Any]]:
        r = await w.client.get(f"/api/v1/spaces/{space_id}/events", headers=w[who].auth)
        return [f for f in r.json()["items"] if f["event"].startswith("callout.")]

    assert [f["data"]["message"] for f in await callout_frames("b_editor")] == \
        ["Storm över Mälardalen"]
    assert await callout_frames("b_reader") == []
    # but B's reader can still acknowledge via the link (nothing classified on it)
    done = await w.client.post(link.removeprefix(PUBLIC_URL), data={"answer": "acknowledge"},
                               headers=BROWSER)
    assert 'data-state="acknowledged"' in done.text


async def test_escalate_now_add_actor_lists_and_permissions(cw: CalloutWorld) -> None:
    w = cw
    space_id = await _space(w)
    r = await w.client.post("/api/v1/callout-lists", headers=w["a_editor"].auth,
                            json={"name": "Storm", "actor_ids": [w.actors["B"]]})
    assert r.status_code == 201, r.text
    list_id = r.json()["id"]
    dup = await w.client.post("/api/v1/callout-lists", headers=w["a_editor"].auth,
                              json={"name": "Storm", "actor_ids": [w.actors["C"]]})
    assert assert_problem(dup, 409)["code"] == "list_name_taken"
    assert assert_problem(await w.client.post(
        "/api/v1/callout-lists", headers=w["a_reader"].auth,
        json={"name": "X", "actor_ids": [w.actors["B"]]}), 403)
    # other actors do not see A's lists
    assert assert_problem(await w.client.get(f"/api/v1/callout-lists/{list_id}",
                                             headers=w["b_editor"].auth), 404)
    r = await w.client.post(f"/api/v1/spaces/{space_id}/callouts", headers=w["a_editor"].auth,
                            json={"list_id": list_id, "message": "Från lista",
                                  "deadline_minutes": 30})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert [a["actor_id"] for a in doc["actors"]] == [w.actors["B"]]
    assert doc["deadline_at"] == iso(w.clock.start + timedelta(minutes=30))
    # only the calling actor's editors escalate or add
    for who in ("b_editor", "a_reader"):
        r = await w.client.post(f"/api/v1/callouts/{doc['id']}/escalations",
                                headers=w[who].auth)
        assert assert_problem(r, 403)
    w.clock.advance(timedelta(minutes=1))
    r = await w.client.post(f"/api/v1/callouts/{doc['id']}/escalations",
                            headers=w["a_editor"].auth)
    assert r.status_code == 200, r.text
    assert [len(_sent_to(w, a)) for a in ("+46702220001", "tib@b.example", "+46702220003")] \
        == [2, 1, 1]
    r = await w.client.post(f"/api/v1/callouts/{doc['id']}/actors", headers=w["a_editor"].auth,
                            json={"actor_ids": [w.actors["C"], w.actors["B"]]})
    assert r.status_code == 200, r.text
    added = _actor(r.json(), w.actors["C"])
    assert added["state"] == "notified" and added["started_at"] == iso(w.clock.start + timedelta(minutes=1))
    assert len(_sent_to(w, "+46703330001")) == 1
    # the added actor acknowledges with its own code
    code, _ = _code_and_link(_sent_to(w, "+46703330001")[0])
    assert (await _sms(w, "+46703330001", f"OK {code}")).headers["x-wis-outcome"] == \
        "acknowledged"
    r = await w.client.put(f"/api/v1/callout-lists/{list_id}", headers=w["a_editor"].auth,
                           json={"name": "Storm 2", "actor_ids": [w.actors["B"], w.actors["C"]]})
    assert r.status_code == 200 and r.json()["name"] == "Storm 2"
    assert (await w.client.delete(f"/api/v1/callout-lists/{list_id}",
                                  headers=w["a_editor"].auth)).status_code == 204
    assert (await w.client.get("/api/v1/callout-lists", headers=w["a_editor"].auth)
            ).json()["items"] == []


async def test_idempotent_create(cw: CalloutWorld) -> None:
    w = cw
    space_id = await _space(w)
    body = {"actor_ids": [w.actors["B"]], "message": "En gång"}
    headers = {**w["a_editor"].auth, "Idempotency-Key": "callout-1"}
    first = await w.client.post(f"/api/v1/spaces/{space_id}/callouts", headers=headers,
                                json=body)
    second = await w.client.post(f"/api/v1/spaces/{space_id}/callouts", headers=headers,
                                 json=body)
    assert first.status_code == 201 and second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert len(_sent_to(w, "+46702220001")) == 1
    # readers and spokespeople may not call out
    r = await w.client.post(f"/api/v1/spaces/{space_id}/callouts", headers=w["b_reader"].auth,
                            json=body)
    assert assert_problem(r, 403)["code"] == "space_role_too_low"


async def test_responses_match_the_documented_schemas(cw: CalloutWorld) -> None:
    from tests.integration.test_openapi import _check

    w = cw
    doc = (await w.client.get("/openapi.json")).json()
    space_id = await _space(w)
    r = await w.client.post(f"/api/v1/spaces/{space_id}/callouts", headers=w["a_editor"].auth,
                            json={"actor_ids": [w.actors["B"], w.actors["D"]], "message": "x",
                                  "conference": {"start_at": None, "dial_in": "", "pin": ""}})
    _check(doc, "/api/v1/spaces/{space_id}/callouts", "post", 201, r.json())
    callout_id = r.json()["id"]
    r = await w.client.post(f"/api/v1/callouts/{callout_id}/acknowledgements",
                            headers=w["b_reader"].auth, json={"answer": "decline"})
    _check(doc, "/api/v1/callouts/{callout_id}/acknowledgements", "post", 200, r.json())
    assert r.json()["state"] == "declined"
    r = await w.client.get(f"/api/v1/callouts/{callout_id}", headers=w["a_editor"].auth)
    _check(doc, "/api/v1/callouts/{callout_id}", "get", 200, r.json())
    r = await w.client.get(f"/api/v1/spaces/{space_id}/callouts", headers=w["a_editor"].auth)
    _check(doc, "/api/v1/spaces/{space_id}/callouts", "get", 200, r.json())
    r = await w.client.post("/api/v1/callout-lists", headers=w["a_editor"].auth,
                            json={"name": "L", "actor_ids": [w.actors["B"]]})
    _check(doc, "/api/v1/callout-lists", "post", 201, r.json())
    r = await w.client.get("/api/v1/callout-lists", headers=w["a_editor"].auth)
    _check(doc, "/api/v1/callout-lists", "get", 200, r.json())


async def test_the_supervised_loop_escalates_on_the_injected_clock(
        database_url: str, keyring: Keyring, tmp_path: Path) -> None:
    async with callout_world(database_url, keyring, tmp_path, tick_s="0.05") as w:
        status = w.app.state.runtime.supervisor.status()
        assert status["callouts.escalation"].running
        space_id = await _space(w)
        doc = await _callout(w, space_id, ("B",))
        b = w.actors["B"]
        assert _actor(doc, b)["state"] == "notified"
        r = await w.client.get(f"/api/v1/spaces/{space_id}/events", headers=w["b_reader"].auth)
        after = r.json()["items"][-1]["seq"]
        w.clock.advance(STEP)  # only the simulated clock moves the ladder
        # Wait for the event itself (long-poll), bounded in time, not for a time margin.
        async with asyncio.timeout(120):
            frames: list[dict[str, Any]] = []
            while not frames:
                r = await w.client.get(f"/api/v1/spaces/{space_id}/events",
                                       headers=w["b_reader"].auth,
                                       params={"after": after, "wait": 30})
                frames = [f for f in r.json()["items"] if f["event"] == "callout.updated"]
        assert _actor(frames[0]["data"], b)["state"] == "escalated"
        assert len(_sent_to(w, "tib@b.example")) == 1
        assert w.app.state.runtime.supervisor.status()["callouts.escalation"].restarts == 0


async def test_delivery_receipt_and_permanent_failure_from_the_dispatcher(
        cw: CalloutWorld) -> None:
    """What the dispatcher reports back for a call-out delivery (by its recipient_ref, the
    contact point): delivered moves the actor to `delivered`; a permanent failure is an alarm
    to that actor's admins, never silence."""
    w = cw
    space_id = await _space(w)
    doc = await _callout(w, space_id, ("B",))
    first = _actor(doc, w.actors["B"])["contact_points"][0]
    callouts = w.app.state.services.callouts
    w.clock.advance(timedelta(seconds=20))
    await callouts.record_delivery(first["id"])
    got = _actor(await _get(w, doc["id"]), w.actors["B"])
    assert got["state"] == "delivered"
    assert got["contact_points"][0]["delivered_at"] == iso(w.clock.now)
    await callouts.record_delivery(first["id"])  # a repeated receipt changes nothing
    before = len(w.outbox.queued)
    await callouts.record_failure(got["contact_points"][1]["id"])
    alarm = w.outbox.queued[before].message
    assert alarm.kind == "contact_point.alarm" and "permanent fel" in alarm.body
    assert [r.user_id for r in alarm.recipients] == [w["b_admin"].user_id]
    assert "Storm" not in alarm.body  # no call-out content in an alarm


async def test_through_the_dispatcher_to_the_memory_channels(
        database_url: str, keyring: Keyring, tmp_path: Path) -> None:
    """The whole way out: call-out → outbox rows → the supervised dispatcher → policy and
    rendering → the (recording) SMS and e-mail channels. What a phone receives: ÖVNING first,
    the code, the link; for a sekretess call-out nothing of the content."""
    async with callout_world(database_url, keyring, tmp_path, WIS_CHANNELS="memory") as w:
        space_id = await _space(w, type="exercise")
        doc = await _callout(w, space_id, ("B", "C"), classification="sekretess")
        recorders = w.app.state.memory_channels

        def sent() -> list[Any]:
            return [m for ch in recorders.values() for m in list(ch.sent)]

        async with asyncio.timeout(120):  # bounded; waits for the messages, not for a time
            for _ in range(100_000):
                if len(sent()) >= 2:
                    break
                await asyncio.sleep(0.05)
        by_to = {m.to: m.rendered for m in sent() if isinstance(m.to, str)}
        for number in ("+46702220001", "+46703330001"):
            text = by_to[number].text
            assert text.startswith("ÖVNING"), text
            code, _ = _code_and_link(_sent_to(w, number)[0])
            assert code in text and f"{PUBLIC_URL}/k/" in text
            for secret in ("Storm", "Mälardalen", "4711", "555 123"):
                assert secret not in text
        # and the reply to what was received acknowledges
        code_b, _ = _code_and_link(_sent_to(w, "+46702220001")[0])
        assert (await _sms(w, "+46702220001", f"OK {code_b}")).headers["x-wis-outcome"] == \
            "acknowledged"
        assert _actor(await _get(w, doc["id"]), w.actors["B"])["state"] == "acknowledged"


async def test_a_provider_delivery_report_marks_the_contact_point_delivered(
        cw: CalloutWorld) -> None:
    """The SMS provider's `whendelivered` report for a call-out message (matched by our
    delivery id) moves the summoned actor from `notified` to `delivered`."""
    from wis_server.domain.notifications import Channel

    w = cw
    space_id = await _space(w)
    doc = await _callout(w, space_id, ("B",))
    first = _actor(doc, w.actors["B"])["contact_points"][0]
    async with w.app.state.store.read() as tx:
        rows = await raw_rows(tx, "SELECT id FROM deliveries WHERE recipient_ref = "
                                  f"'{first['id']}'")
    assert len(rows) == 1
    w.clock.advance(timedelta(seconds=30))
    assert await w.app.state.services.outbox.delivery_report(
        Channel.SMS, "provider-1", True, delivery_id=rows[0][0])
    got = _actor(await _get(w, doc["id"]), w.actors["B"])
    assert got["state"] == "delivered"
    assert got["contact_points"][0]["delivered_at"] == iso(w.clock.now)
