"""The audit trail as a reader sees it, and how reads grow it.

- Reads are coalesced: a user re-reading the same classified items within a window adds a
  count (first/last seen) to the record of the first read, not a record per request.
- A record's details about a space or item are shown only to an audit reader who may know
  the space (their actor participates) and may read the item; otherwise the record says who
  did what kind of act, and when, without the target.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from tests.conftest import World
from tests.helpers import create_space, post_entry, raw_execute
from wis_server.domain.levels import Classification, Role
from wis_server.services.audit import READ_WINDOW_S, ItemRead, bucket_of, record_reads_now


async def trail(world: World, who: str, **params: Any) -> list[dict[str, Any]]:
    r = await world.client.get("/api/v1/audit", headers=world[who].auth,
                               params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def read_records(database_url: str, user_id: str) -> list[tuple[Any, ...]]:
    return await raw_execute(database_url, "SELECT seq, action FROM audit_log WHERE user_id = $1 "
                             "AND action LIKE '%.read' ORDER BY seq", user_id)


async def test_repeated_reads_are_counted_not_appended(world: World, database_url: str) -> None:
    c, a = world.client, world["a_editor"]
    space = await create_space(c, a, participants=[world.actors["B"]])
    sid = space["id"]
    items = [await post_entry(c, a, sid, level="sekretess", body=f"s{i}") for i in range(3)]
    await post_entry(c, a, sid, level="public", body="p")
    for _ in range(10):
        r = await c.get(f"/api/v1/spaces/{sid}/entries", headers=a.auth)
        assert r.status_code == 200 and len(r.json()["items"]) == 4
    for _ in range(5):
        r = await c.get(f"/api/v1/spaces/{sid}/entries/{items[0]['id']}", headers=a.auth)
        assert r.status_code == 200

    # Fifteen requests, three distinct classified items: one chained record.
    rows = await read_records(database_url, a.user_id)
    assert [action for _, action in rows] == ["entry.read"]
    await world.add_person("auditor", "A", Role.SYSTEM_ADMIN, Classification.HEMLIG)
    (record,) = [x for x in await trail(world, "auditor")
                 if x["action"] == "entry.read" and x["user_id"] == a.user_id]
    assert sorted(record["detail"]["items"]) == sorted(e["id"] for e in items)
    assert not record["redacted"]
    counts = {m["subject"]: m["count"] for m in record["repeats"]}
    assert counts == {f"entry:{items[0]['id']}": 15, f"entry:{items[1]['id']}": 10,
                      f"entry:{items[2]['id']}": 10}
    for m in record["repeats"]:
        assert record["at"] == m["first_at"] <= m["last_at"]

    # Another user's reads of the same items are their own record.
    b = world["b_editor"]
    r = await c.patch(f"/api/v1/spaces/{sid}/entries/{items[1]['id']}", headers=a.auth,
                      json={"audience": [world.actors["A"], world.actors["B"]]})
    assert r.status_code == 200
    for _ in range(3):
        assert (await c.get(f"/api/v1/spaces/{sid}/entries", headers=b.auth)).status_code == 200
    assert len(await read_records(database_url, b.user_id)) == 1


async def test_a_new_window_starts_a_new_record_and_each_read_is_committed(
        world: World, database_url: str) -> None:
    """`record_reads_now` is the one way to put reads on the trail (the stream uses it too):
    committed when it returns, coalesced within a window, a fresh record in the next."""
    c, a = world.client, world["a_editor"]
    space = await create_space(c, a, participants=[])
    h = await post_entry(c, a, space["id"], level="hemlig", body="h")
    p = await post_entry(c, a, space["id"], level="public", body="p")
    store, now = world.app.state.store, world.app.state.clock()
    now = now - timedelta(seconds=now.timestamp() % READ_WINDOW_S)  # a window's start
    reads = [ItemRead("entry", h["id"], space["id"], Classification.HEMLIG),
             ItemRead("entry", p["id"], space["id"], Classification.PUBLIC)]
    for offset in (0, 1, READ_WINDOW_S - 1):
        await record_reads_now(store, now + timedelta(seconds=offset), user_id=a.user_id,
                               actor_id=a.actor_id, reads=reads, via="stream")
    assert len(await read_records(database_url, a.user_id)) == 1
    await record_reads_now(store, now + timedelta(seconds=READ_WINDOW_S), user_id=a.user_id,
                           actor_id=a.actor_id, reads=reads, via="stream")
    rows = await read_records(database_url, a.user_id)
    assert len(rows) == 2
    marks = await raw_execute(database_url, "SELECT subject, bucket, count FROM audit_marks "
                              "WHERE user_id = $1 ORDER BY bucket", a.user_id)
    start = bucket_of(now)
    assert marks == [(f"entry:{h['id']}", start, 3), (f"entry:{h['id']}", start + 1, 1)]
    # Public items are never on the trail; nothing public, no transaction at all.
    await record_reads_now(store, now, user_id=a.user_id, actor_id=a.actor_id,
                           reads=reads[1:])
    assert len(await read_records(database_url, a.user_id)) == 2


async def test_records_about_spaces_and_items_the_reader_may_not_know_are_withheld(
        world: World) -> None:
    c, ids = world.client, world.actors
    b = world["b_editor"]
    # A space of B alone: the system administrator (actor A) may not know it exists.
    space = await create_space(c, b, participants=[], classification="sekretess")
    sid = space["id"]
    sek = await post_entry(c, b, sid, level="sekretess", body="s")
    pub = await post_entry(c, b, sid, level="public", body="p")
    assert (await c.get(f"/api/v1/spaces/{sid}/entries", headers=b.auth)).status_code == 200
    secret_ids = {sid, sek["id"], pub["id"]}

    def about_space(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [x for x in records if x["user_id"] == b.user_id
                and x["action"] in ("space.create", "entry.create", "entry.read")]

    for who in ("sys", "auditor_a"):
        if who == "auditor_a":  # cleared to hemlig, still outside the space
            await world.add_person(who, "A", Role.SYSTEM_ADMIN, Classification.HEMLIG)
        records = about_space(await trail(world, who))
        assert sorted(x["action"] for x in records) == [
            "entry.create", "entry.create", "entry.read", "space.create"]
        for x in records:  # who did what kind of act, and when; nothing about the target
            assert x["redacted"] and x["detail"] == {}
            assert x["target_id"] is None and x["space_id"] is None
            assert x["actor_id"] == ids["B"] and x["at"]
        text = json.dumps(records)
        for secret in secret_ids:
            assert secret not in text

    # B's public-cleared administrator knows the space, not the sekretess entry.
    records = {(x["action"], x["target_id"]): x for x in about_space(await trail(world, "b_admin"))}
    assert not records[("space.create", sid)]["redacted"]
    assert not records[("entry.create", pub["id"])]["redacted"]
    (hidden,) = [x for x in records.values() if x["redacted"]
                 and x["action"] == "entry.create"]
    assert hidden["space_id"] == sid and hidden["detail"] == {} and hidden["target_id"] is None
    (read,) = [x for x in records.values() if x["action"] == "entry.read"]
    assert read["redacted"] and read["detail"] == {} and sek["id"] not in json.dumps(read)
    assert [m["subject"] for m in read["repeats"]] == [None]

    # Cleared to the item's level and in its audience: everything.
    await world.add_person("b_admin_s", "B", Role.ACTOR_ADMIN, Classification.SEKRETESS)
    records = about_space(await trail(world, "b_admin_s"))
    assert records and not any(x["redacted"] for x in records)
    read = next(x for x in records if x["action"] == "entry.read")
    assert read["detail"]["items"] == [sek["id"]]
    assert [m["subject"] for m in read["repeats"]] == [f"entry:{sek['id']}"]


async def test_reads_pushed_over_the_stream_are_coalesced_too(
        world: World, database_url: str) -> None:
    """The hub hands each batch of pushed classified items to StreamSource.record_reads;
    the same items pushed to the same user again (another tab, a long-poll page) count."""
    from wis_server.realtime.ports import Read
    from wis_server.services.stream import StreamSource

    c, a = world.client, world["a_editor"]
    space = await create_space(c, a, participants=[])
    h = await post_entry(c, a, space["id"], level="hemlig", body="h")
    source = StreamSource(world.app.state.store, world.app.state.clock)
    batch = [Read(a.user_id, a.actor_id, space["id"], h["id"], "entry.created",
                  Classification.HEMLIG)]
    for _ in range(5):
        await source.record_reads(batch)
    rows = await read_records(database_url, a.user_id)
    assert len(rows) == 1
    ((count,),) = await raw_execute(database_url, "SELECT count FROM audit_marks WHERE "
                                    "audit_seq = $1", rows[0][0])
    assert count == 5


async def test_concurrent_readers_each_get_their_own_record(world: World,
                                                            database_url: str) -> None:
    """Many readers at once (on SQLite recorded in shared group commits: ReadAuditGroup):
    each reader's trail is what it would be alone — one record of the first read, the
    repeat counted — and every read was recorded before its page came back."""
    c, a = world.client, world["a_editor"]
    space = await create_space(c, a, participants=[])
    secret = await post_entry(c, a, space["id"], level="sekretess", body="s")
    await post_entry(c, a, space["id"], level="public", body="p")
    readers = [a]
    for n in range(6):
        readers.append(await world.add_person(f"reader{n}", "A", Role.READER,
                                              Classification.SEKRETESS))

    async def read_twice(who: Any) -> None:
        for _ in range(2):
            r = await c.get(f"/api/v1/spaces/{space['id']}/entries", headers=who.auth)
            assert r.status_code == 200 and len(r.json()["items"]) == 2, r.text

    await asyncio.gather(*(read_twice(who) for who in readers))
    for who in readers:
        assert [action for _, action in await read_records(database_url, who.user_id)] \
            == ["entry.read"], who.username
        marks = await raw_execute(database_url, "SELECT subject, count FROM audit_marks "
                                  "WHERE user_id = $1", who.user_id)
        assert marks == [(f"entry:{secret['id']}", 2)], who.username
    store = world.app.state.store
    async with store.read() as tx:
        assert (await tx.audit.verify()).ok
