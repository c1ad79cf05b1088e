"""The preferences that are not about entries or notices, through the real app (SQLite and
PostgreSQL, WIS_CHANNELS=memory, an injected clock): a new lägesbild version
(`situation_report`), being added to a space (`space_added`), and quiet hours (held until
the window ends; an activated disruption space is not held)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import FAST_PASSWORDS, World, make_settings
from tests.helpers import create_space, marker
from tests.integration.test_notices import notice, opt_in, sent, wait_for
from wis_server.api.app import create_app
from wis_server.classification.keys import Keyring
from wis_server.domain.levels import Classification, Role
from wis_server.storage.tables import deliveries, outbox_messages


class SimClock:
    """The real time at the start (access tokens are checked against it), then only what
    the test moves."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


class ClockWorld(World):
    clock: SimClock


@pytest.fixture
async def cworld(database_url: str, keyring: Keyring, tmp_path: Path
                 ) -> AsyncIterator[ClockWorld]:
    clock = SimClock()
    settings = make_settings(tmp_path, database_url, WIS_CHANNELS="memory",
                             WIS_OUTBOX_SWEEP_S="0.2", WIS_PUBLIC_URL="https://wis.example.se")
    app = create_app(settings, keyring, clock=clock, passwords=FAST_PASSWORDS)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            w = ClockWorld(c, app)
            w.clock = clock
            await w.add_actor("A", Classification.HEMLIG)
            await w.add_actor("B", Classification.SEKRETESS)
            await w.add_actor("C", Classification.PUBLIC)
            await w.add_person("a_editor", "A", Role.EDITOR, Classification.HEMLIG)
            await w.add_person("a_reader", "A", Role.READER, Classification.PUBLIC)
            await w.add_person("b_editor", "B", Role.EDITOR, Classification.SEKRETESS)
            await w.add_person("b_reader", "B", Role.READER, Classification.PUBLIC)
            await w.add_person("c_editor", "C", Role.EDITOR, Classification.PUBLIC)
            yield w


def wire(m: Any) -> str:
    return "\n".join([m.rendered.subject, m.rendered.text, m.rendered.url or ""])


async def publish(w: World, who: str, space_id: str, sections: list[dict[str, Any]],
                  scope: str = "actor") -> dict[str, Any]:
    r = await w.client.post(f"/api/v1/spaces/{space_id}/situation-reports",
                            headers=w[who].auth, json={"scope": scope, "sections": sections})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_a_new_lagesbild_version_reaches_who_asked_under_the_label_they_may_read(
        cworld: ClockWorld) -> None:
    w = cworld
    space = await create_space(w.client, w["a_editor"], classification="sekretess",
                               participants=[w.actors["B"]])
    await opt_in(w, "b_editor", events=["situation_report"])
    await opt_in(w, "b_reader", events=["situation_report"])
    await opt_in(w, "a_reader")  # notices only: not told
    await opt_in(w, "c_editor", events=["situation_report"])  # not a participant
    public, secret = marker("public"), marker("secret")
    await publish(w, "a_editor", space["id"], [
        {"key": "current_situation", "classification": "public", "body": public},
        {"key": "needs", "classification": "sekretess", "body": secret,
         "audience": [w.actors["A"], w.actors["B"]]}])
    await wait_for(lambda: len(sent(w)) >= 2, "two messages of version 1")
    first = {m.to: m for m in sent(w)}
    assert sorted(first) == ["b_editor@example.se", "b_reader@example.se"]
    for m in first.values():  # both may read the public section: told in full, no content
        assert "Ny lägesbild från Aktör A, version 1." in m.rendered.text
        assert m.rendered.url == \
            f"https://wis.example.se/#/spaces/{space['id']}/report/actor/{w.actors['A']}"
        assert public not in wire(m) and secret not in wire(m)
    # version 2 has only the sekretess section: b_reader may read nothing of it (not told),
    # b_editor gets the content-free pointer
    await publish(w, "a_editor", space["id"], [
        {"key": "needs", "classification": "sekretess", "body": secret,
         "audience": [w.actors["A"], w.actors["B"]]}])
    await wait_for(lambda: len(sent(w)) >= 3, "the pointer of version 2")
    [m] = sent(w)[2:]
    assert m.to == "b_editor@example.se"
    assert "SEKRETESS" in m.rendered.text and "version 2" not in m.rendered.text
    assert secret not in wire(m)
    # the joint one is said to be the joint one
    await publish(w, "a_editor", space["id"], [
        {"key": "event", "classification": "public", "body": "Storm"}], scope="joint")
    await wait_for(lambda: len(sent(w)) >= 5, "version 1 of the joint report")
    assert all("Ny samlad lägesbild, version 1." in m.rendered.text for m in sent(w)[3:])


async def test_being_added_to_a_space_is_told_even_to_who_chose_other_spaces(
        cworld: ClockWorld) -> None:
    w = cworld
    own = await create_space(w.client, w["b_editor"], classification="public",
                             participants=[])
    await opt_in(w, "b_reader", spaces={"mode": "chosen", "space_ids": [own["id"]]})
    await opt_in(w, "b_editor", events=["notice"])  # did not ask
    await opt_in(w, "c_editor")  # default: notices and space_added
    await opt_in(w, "a_reader")  # the creator's own actor: its space is new to it too
    title = marker("title")
    space = await create_space(w.client, w["a_editor"], classification="public", title=title,
                               participants=[])
    await wait_for(lambda: len(sent(w)) >= 1, "a_reader told of the new space")
    assert [m.to for m in sent(w)] == ["a_reader@example.se"]
    r = await w.client.patch(f"/api/v1/spaces/{space['id']}", headers=w["a_editor"].auth,
                             json={"participants": [{"actor_id": w.actors["A"]},
                                                    {"actor_id": w.actors["B"]},
                                                    {"actor_id": w.actors["C"]}]})
    assert r.status_code == 200, r.text
    await wait_for(lambda: len(sent(w)) >= 3, "B's and C's users told")
    added = sorted(sent(w)[1:], key=lambda m: m.to)
    assert [m.to for m in added] == ["b_reader@example.se", "c_editor@example.se"]
    for m in added:  # a public space: named
        assert f"Din aktör deltar nu i ytan {title}." in m.rendered.text
        assert m.rendered.url == f"https://wis.example.se/#/spaces/{space['id']}"
    # a classified space's title is never said
    hidden = marker("hidden")
    await create_space(w.client, w["a_editor"], classification="sekretess", title=hidden,
                       participants=[w.actors["C"]])
    await wait_for(lambda: len(sent(w)) >= 5, "told of the sekretess space")
    for m in sent(w)[3:]:
        assert hidden not in wire(m)
        assert "Din aktör deltar nu i en ny yta i WIS." in m.rendered.text


def _window_around(now: datetime) -> tuple[str, str, datetime]:
    """A quiet window from an hour before `now` to an hour after (in UTC, so no daylight-saving
    change can fall inside it; local zones are the pure tests' concern), and its end."""
    local = now.astimezone(ZoneInfo("UTC")).replace(second=0)
    start, end = local - timedelta(hours=1), local + timedelta(hours=1)
    return start.strftime("%H:%M"), end.strftime("%H:%M"), end.astimezone(UTC)


async def _next_attempt(w: World, ref_id: str) -> tuple[str, datetime]:
    async with w.app.state.store.read() as tx:
        row = (await tx.conn.execute(
            select(deliveries.c.status, deliveries.c.next_attempt_at)
            .join(outbox_messages, outbox_messages.c.id == deliveries.c.message_id)
            .where(outbox_messages.c.ref_id == ref_id))).one()
    at = row.next_attempt_at
    return str(row.status), at if at.tzinfo else at.replace(tzinfo=UTC)


async def test_quiet_hours_hold_a_notice_until_they_end_but_not_from_a_disruption_space(
        cworld: ClockWorld) -> None:
    w = cworld
    start, end, release = _window_around(w.clock.now)
    await opt_in(w, "b_reader", quiet_hours={"from": start, "to": end, "timezone": "UTC"})
    quiet = await create_space(w.client, w["a_editor"], classification="public",
                               type="collaboration", participants=[w.actors["B"]])
    urgent = await create_space(w.client, w["a_editor"], classification="public",
                                type="disruption", participants=[w.actors["B"]])
    held = await notice(w, "a_editor", quiet["id"], "public", "Veckokonferens flyttad")
    await notice(w, "a_editor", urgent["id"], "public", "Kokvattenrekommendation")
    # the disruption space's notice goes out in the quiet hours; the other one waits
    await wait_for(lambda: any("Kokvatten" in m.rendered.text for m in sent(w)), "the urgent")
    status, at = await _next_attempt(w, held["id"])
    assert status == "queued" and at == release
    assert not any("Veckokonferens" in m.rendered.text for m in sent(w))
    w.clock.now = release  # the window ends: the held notice goes out
    w.app.state.runtime.dispatch.dispatcher.wake()
    await wait_for(lambda: any("Veckokonferens" in m.rendered.text for m in sent(w)),
                   "the held notice after the quiet hours")
