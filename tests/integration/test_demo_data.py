"""The demo is believable (issue 8 item 17): a timeline across the exercise morning, stamped
as the texts say, and author lines that do not repeat the actor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from wis_server.services.demo import ACTORS, ENTRIES, load_demo


async def test_demo_timeline_and_author_lines(app_client: tuple[Any, httpx.AsyncClient]) -> None:
    app, client = app_client
    services = app.state.services
    demo = await load_demo(services.directory, services.spaces, services.entries,
                           services.reports)
    async with services.directory.store.read() as tx:
        users = {u.username: u for a in await tx.actors.all()
                 for u in await tx.users.of_actor(a.id)}
    tib = users["tib.lst"]
    token = app.state.tokens.issue(tib.id, tib.actor_id, app.state.clock())
    auth = {"Authorization": f"Bearer {token}"}
    r = await client.get(f"/api/v1/spaces/{demo.space_id}/entries", headers=auth)
    items = r.json()["items"]
    zone = ZoneInfo("Europe/Stockholm")
    stamps = [datetime.fromisoformat(e["created_at"]).astimezone(zone) for e in items]
    assert [s.strftime("%H:%M") for s in stamps] == [at for at, *_ in ENTRIES]
    assert len({s.date() for s in stamps}) == 1
    assert stamps[-1] < datetime.now(UTC)
    # The first text says 06:10 and the last one 09:00, as their stamps do.
    assert "06:10" in items[0]["body"] and "09:00" in items[-1]["body"]
    r = await client.get(f"/api/v1/spaces/{demo.space_id}/situation-reports/latest",
                         headers=auth)
    assert datetime.fromisoformat(r.json()["created_at"]).astimezone(zone).strftime(
        "%H:%M") == "09:05"
    # Display names name the function; the actor is shown beside them by the client.
    names = [name for name, *_ in ACTORS] + [short for _, short, *_ in ACTORS]
    for user in users.values():
        assert not any(n in user.display_name for n in names), user.display_name
