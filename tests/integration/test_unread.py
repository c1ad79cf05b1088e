"""Unread counts on both databases: only what the user may read counts (decided per item),
not their own posts; seen moves forward only; a space they may not read is a 404."""

from __future__ import annotations

from typing import Any

from tests.conftest import World
from tests.helpers import assert_problem, create_space, post_entry


async def counts(w: World, who: str) -> dict[str, Any]:
    r = await w.client.get("/api/v1/me/unread", headers=w[who].auth)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def unread_of(w: World, who: str, space_id: str) -> int:
    return next(int(c["unread"]) for c in (await counts(w, who))["items"]
                if c["space_id"] == space_id)


async def test_unread_counts_only_what_the_user_may_read_since_they_looked(world: World) -> None:
    w = world
    space = await create_space(w.client, w["a_editor"], participants=[w.actors["B"]])
    sid = space["id"]
    await post_entry(w.client, w["a_editor"], sid, level="public", body="Öppen 1")
    await post_entry(w.client, w["a_editor"], sid, level="sekretess", body="Hemligt för B",
                     audience=[w.actors["A"], w.actors["B"]])
    await post_entry(w.client, w["a_editor"], sid, level="hemlig", body="Bara A")
    r = await w.client.post(f"/api/v1/spaces/{sid}/notices", headers=w["a_editor"].auth,
                            json={"classification": "public", "body": "Underrättelse"})
    assert r.status_code == 201, r.text
    assert await unread_of(w, "b_reader", sid) == 2  # public clearance: the public two
    assert await unread_of(w, "b_editor", sid) == 3  # + the sekretess one for B
    assert await unread_of(w, "a_reader", sid) == 2
    assert await unread_of(w, "a_editor", sid) == 0  # their own
    assert (await counts(w, "b_editor"))["total"] == 3
    head = await post_entry(w.client, w["b_editor"], sid, level="public", body="Från B")
    r = await w.client.put(f"/api/v1/spaces/{sid}/seen", headers=w["b_editor"].auth,
                           json={"seq": head["seq"]})
    assert r.status_code == 200, r.text
    assert r.json() == {"space_id": sid, "unread": 0, "more": False, "seen_seq": head["seq"]}
    assert await unread_of(w, "b_editor", sid) == 0  # kept on the server: a reload keeps it
    assert await unread_of(w, "b_reader", sid) == 3  # B's own post counts for B's reader
    await post_entry(w.client, w["a_editor"], sid, level="public", body="Öppen 2")
    assert await unread_of(w, "b_editor", sid) == 1
    # an older tab saying it saw less does not move the mark back; a seq beyond the head
    # is taken as the head
    r = await w.client.put(f"/api/v1/spaces/{sid}/seen", headers=w["b_editor"].auth,
                           json={"seq": 1})
    assert r.json()["unread"] == 1 and r.json()["seen_seq"] == head["seq"]
    r = await w.client.put(f"/api/v1/spaces/{sid}/seen", headers=w["b_editor"].auth,
                           json={"seq": 10_000})
    assert r.json()["unread"] == 0 and r.json()["seen_seq"] == head["seq"] + 1
    # not a participant: the space does not exist for them, and it is not in their list
    r = await w.client.put(f"/api/v1/spaces/{sid}/seen", headers=w["c_editor"].auth,
                           json={"seq": 1})
    assert_problem(r, 404)
    assert sid not in {c["space_id"] for c in (await counts(w, "c_editor"))["items"]}
    r = await w.client.put(f"/api/v1/spaces/{sid}/seen", headers=w["b_editor"].auth,
                           json={"seq": -1})
    assert assert_problem(r, 422)["code"] == "out_of_range"
