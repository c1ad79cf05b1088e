"""Refusals of signed-in users (403, and the 404 that hides what they may not see) are on the
audit trail, coalesced: someone probing ids shows up as one record per route and status in a
window with a count, not as a record per request, and the record names no id they tried."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.conftest import World
from tests.helpers import create_space, post_entry, raw_execute


async def refusals(database_url: str, user_id: str) -> list[tuple[Any, ...]]:
    return await raw_execute(database_url, "SELECT seq, CAST(detail AS TEXT) FROM audit_log "
                             "WHERE user_id = $1 AND action = 'access.refused' ORDER BY seq",
                             user_id)


async def test_probing_ids_is_audited_once_per_route_with_a_count(
        world: World, database_url: str) -> None:
    c, a, b = world.client, world["a_editor"], world["b_reader"]
    seen = await create_space(c, a, participants=[world.actors["B"]])
    hidden = await create_space(c, a, participants=[])
    secret = await post_entry(c, a, seen["id"], level="hemlig", body="h")
    tried = [secret["id"]] + [str(uuid.uuid4()) for _ in range(11)]
    for entry_id in tried:
        r = await c.get(f"/api/v1/spaces/{seen['id']}/entries/{entry_id}", headers=b.auth)
        assert r.status_code == 404
    for space_id in (hidden["id"], *(str(uuid.uuid4()) for _ in range(4))):
        r = await c.get(f"/api/v1/spaces/{space_id}/entries", headers=b.auth)
        assert r.status_code == 404
    for _ in range(3):
        assert (await c.get("/api/v1/audit", headers=b.auth)).status_code == 403
    # Anonymous probing is not a user's act (and cannot grow the trail).
    assert (await c.get(f"/api/v1/spaces/{hidden['id']}/entries")).status_code == 401

    rows = await refusals(database_url, b.user_id)
    details = [json.loads(text) for _, text in rows]
    assert sorted((d["status"], d["route"]) for d in details) == [
        (403, "GET /api/v1/audit"),
        (404, "GET /api/v1/spaces/{space_id}/entries"),
        (404, "GET /api/v1/spaces/{space_id}/entries/{entry_id}")]
    text = json.dumps(details)
    assert hidden["id"] not in text and not any(i in text for i in tried)

    # B's administrator sees who probed, how often and when.
    r = await c.get("/api/v1/audit", headers=world["b_admin"].auth, params={"limit": 1000})
    shown = {x["detail"]["route"]: x for x in r.json()["items"]
             if x["action"] == "access.refused" and x["user_id"] == b.user_id}
    entry_probe = shown["GET /api/v1/spaces/{space_id}/entries/{entry_id}"]
    assert entry_probe["outcome"] == "denied" and entry_probe["actor_id"] == b.actor_id
    (repeat,) = entry_probe["repeats"]
    assert repeat["count"] == len(tried) and repeat["first_at"] <= repeat["last_at"]
    assert shown["GET /api/v1/spaces/{space_id}/entries"]["repeats"][0]["count"] == 5
    assert shown["GET /api/v1/audit"]["repeats"][0]["count"] == 3
