"""The compact resumable sync endpoint (docs/sync.md): one answer for every followed space,
the stream's access rules per item, a cursor that resumes from anywhere without skipping or
repeating, the compact encoding, long-poll wake-ups, and problems for forged cursors."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import httpx

from tests.conftest import Person, World
from wis_server.api.sync_shapes import COMPACT_TYPE, read_records


async def _space(world: World, owner: Person, level: str = "hemlig",
                 participants: tuple[str, ...] = ("B",), kind: str = "disruption") -> str:
    r = await world.client.post("/api/v1/spaces", headers=owner.auth, json={
        "title": "Snöoväder", "type": kind, "classification": level,
        "participants": [world.actors[a] for a in participants]})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _post(world: World, who: Person, space: str, body: str, level: str = "public",
                audience: list[str] | None = None) -> str:
    doc: dict[str, Any] = {"kind": "note", "classification": level, "body": body}
    if audience is not None:
        doc["audience"] = [world.actors[a] for a in audience]
    r = await world.client.post(f"/api/v1/spaces/{space}/entries", headers=who.auth, json=doc)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def sync(client: httpx.AsyncClient, who: Person, **params: Any) -> dict[str, Any]:
    r = await client.get("/api/v1/sync", headers=who.auth, params=params)
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


def bodies(doc: dict[str, Any], space: str) -> list[str]:
    return [i["body"] for s in doc["spaces"] if s["id"] == space for i in s["items"]
            if "body" in i]


async def test_one_answer_for_every_followed_space_as_the_stream_decides(world: World) -> None:
    c, a, b = world.client, world["a_editor"], world["b_editor"]
    one = await _space(world, a)
    two = await _space(world, a, participants=("B", "C"), kind="exercise")
    await _post(world, a, one, "öppet")
    await _post(world, a, one, "hemligt", "hemlig")  # A only, above B's clearance
    await _post(world, a, two, "sekretess för B", "sekretess", ["A", "B"])
    await _post(world, a, two, "bara A", "sekretess")  # B is not in the audience
    first = await sync(c, b)
    assert {s["id"] for s in first["spaces"]} == {one, two}
    assert all(s["added"] and s["resync"] and s["title"] == "Snöoväder"
               for s in first["spaces"])
    assert bodies(first, one) == ["öppet"] and bodies(first, two) == ["sekretess för B"]
    item = next(i for s in first["spaces"] for i in s["items"] if i.get("body") == "öppet")
    assert item["actor"] == "A" and item["level"] == "public" and item["kind"] == "note"
    # Nothing new: an empty answer; the cursor moved past what B may not read.
    again = await sync(c, b, cursor=first["cursor"])
    assert again["spaces"] == [] and again["removed"] == [] and again["more"] is False
    await _post(world, a, two, "nytt")
    later = await sync(c, b, cursor=again["cursor"])
    assert [bodies(later, two), bodies(later, one)] == [["nytt"], []]
    (shown,) = later["spaces"]  # an exercise says so in every answer, not only the first
    assert shown["exercise"] is True and "added" not in shown and "title" not in shown
    # A classified read through sync is on the audit trail, as on the stream.
    r = await c.get("/api/v1/audit", headers=world["sys"].auth, params={"limit": 200})
    assert r.status_code == 200
    reads = [e for e in r.json()["items"] if e["action"] == "entry.read" and e["user_id"] == b.user_id]
    assert reads, "the sekretess item B synced was not audited"
    await _long_poll_wakes_on_a_new_event(world)  # one world: fewer database setups


async def test_compact_encoding_is_the_same_answer_item_by_item(world: World) -> None:
    c, a, b = world.client, world["a_editor"], world["b_editor"]
    space = await _space(world, a)
    for n in range(3):
        await _post(world, a, space, f"inlägg {n} " + "snö " * 40)
    r = await c.get("/api/v1/sync/dictionary")
    assert r.status_code == 200 and r.headers["etag"]
    dict_id, data = r.headers["WIS-Sync-Dictionary"], r.content
    assert (await c.get("/api/v1/sync/dictionary",
                        headers={"If-None-Match": r.headers["etag"]})).status_code == 304
    plain = await sync(c, b, body=50)
    r = await c.get("/api/v1/sync", headers={**b.auth, "Accept": f"{COMPACT_TYPE}; dict={dict_id}"},
                    params={"body": 50})
    assert r.status_code == 200 and r.headers["content-type"] == COMPACT_TYPE
    envelope, *items = (json.loads(t) for t in read_records(r.content, data))
    assert [s["n"] for s in envelope["spaces"]] == [4]  # space.created and the three
    assert items == plain["spaces"][0]["items"]
    assert [i["event"] for i in items] == ["space.created"] + ["entry.created"] * 3
    assert all(i["truncated"] and len(i["body"]) == 50 and i["length"] > 50 for i in items[1:])
    assert len(r.content) < len(json.dumps(plain).encode()) / 2
    # Lean headers: what guards a non-document answer, not the web page's long policy.
    h = r.headers
    assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
    assert h["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert h["cache-control"] == "no-store" and "permissions-policy" not in h
    assert "permissions-policy" in (await c.get("/api/v1/spaces", headers=b.auth)).headers
    # Another dictionary id: the JSON answer, never an error.
    r = await c.get("/api/v1/sync", headers={**b.auth, "Accept": f"{COMPACT_TYPE}; dict=1"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    await _forged_foreign_or_garbled_cursors_are_problems(world)  # one world: fewer setups


async def _forged_foreign_or_garbled_cursors_are_problems(world: World) -> None:
    c, a, b = world.client, world["a_editor"], world["b_editor"]
    space = await _space(world, a)
    mine = (await sync(c, b))["cursor"]
    # A filter naming a space you may not read, or none at all: the same answer.
    missing = "00000000-0000-4000-8000-000000000000"
    doc = await sync(c, world["c_editor"], spaces=f"{space},{missing}")
    assert doc["spaces"] == [] and doc["removed"] == sorted([space, missing])
    r = await c.get("/api/v1/sync", headers=b.auth,
                    params={"spaces": ",".join(f"s{n}" for n in range(51))})
    assert r.status_code == 422 and r.json()["code"] == "too_long"
    r = await c.get("/api/v1/sync", headers=b.auth, params={"spaces": "x" * 37})
    assert r.status_code == 422 and r.json()["code"] == "too_long"
    rng = random.Random(3)
    raw = bytearray(mine.encode())
    bad = [mine[:-2], mine + "A", "x" * 9000, "!!!!", "", "é",
           (await sync(c, a))["cursor"]]  # someone else's
    for _ in range(5):
        flipped = bytearray(raw)
        flipped[rng.randrange(len(flipped))] ^= 1
        bad.append(flipped.decode(errors="replace"))
    for cursor in bad:
        r = await c.get("/api/v1/sync", headers=b.auth, params={"cursor": cursor})
        assert r.status_code == 422, (cursor, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "sync_cursor_invalid"


async def _long_poll_wakes_on_a_new_event(world: World) -> None:
    c, a, b = world.client, world["a_editor"], world["b_editor"]
    space = await _space(world, a)
    cursor = (await sync(c, b))["cursor"]
    waiting = asyncio.create_task(sync(c, b, cursor=cursor, wait=30))
    hub = world.app.state.hub
    for _ in range(2000):  # until the request waits on the hub (bounded)
        if space in hub.long_polls.spaces():
            break
        await asyncio.sleep(0.005)
    assert space in hub.long_polls.spaces()
    await _post(world, a, space, "väckning")
    doc = await asyncio.wait_for(waiting, 20)
    assert bodies(doc, space) == ["väckning"]


class Terminal:
    """A client that keeps (cursor, what it shows, seqs seen) together, as one file would."""

    def __init__(self) -> None:
        self.cursor: str | None = None
        self.view: dict[str, dict[str, tuple[int, str]]] = {}
        self.last: dict[str, int] = {}
        self.resynced: set[str] = set()  # spaces that said space.resync (kept over crashes)

    def snapshot(self) -> tuple[Any, ...]:
        return (self.cursor, {s: dict(v) for s, v in self.view.items()}, dict(self.last))

    def restore(self, state: tuple[Any, ...]) -> None:
        self.cursor, view, last = state
        self.view = {s: dict(v) for s, v in view.items()}
        self.last = dict(last)

    def apply(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        items = []
        for sid in doc["removed"]:
            self.view.pop(sid, None)
        for space in doc["spaces"]:
            view = self.view.setdefault(space["id"], {})
            for item in space["items"]:
                items.append(item)
                if item["seq"] is not None:
                    # Never a repeat, never out of order.
                    assert item["seq"] > self.last.get(space["id"], 0), item
                    self.last[space["id"]] = item["seq"]
                if item["event"] == "space.resync":
                    assert space["resync"] is True
                    self.resynced.add(space["id"])
                if item["event"] == "entry.withdrawn":
                    view.pop(item["id"], None)
                elif item["event"] == "entry.created":
                    view[item["id"]] = (item["seq"], item["level"])
        self.cursor = doc["cursor"]
        return items


async def _drain(c: httpx.AsyncClient, who: Person, term: Terminal) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for _ in range(200):
        params: dict[str, Any] = {"limit": 7, "tail": 100}
        if term.cursor is not None:
            params["cursor"] = term.cursor
        doc = await sync(c, who, **params)
        items += term.apply(doc)
        if not doc["more"] and not doc["spaces"]:
            return items
    raise AssertionError("sync never caught up")


async def test_resumes_from_any_interruption_never_skipping_or_repeating(world: World) -> None:
    """Random interruption points (lost answers, crashes back to an older saved state, syncs
    racing writes) over a run of writes in two spaces; mid-run the reader's clearance is
    lowered: nothing above it arrives after the change, and what it had is withdrawn."""
    c, a, b = world.client, world["a_editor"], world["b_editor"]
    rng = random.Random(12)
    spaces = [await _space(world, a, "hemlig"), await _space(world, a, "sekretess")]
    term = Terminal()
    await _drain(c, b, term)
    written: list[tuple[str, str, str, bool]] = []  # space, id, level, readable by B now
    kinds = [("public", None, True), ("sekretess", ["A", "B"], True),
             ("sekretess", None, False), ("hemlig", None, False)]

    async def write() -> None:
        space = rng.choice(spaces)
        level, audience, readable = rng.choice(kinds[:3] if space == spaces[1] else kinds)
        entry = await _post(world, a, space, f"inlägg {len(written)}", level, audience)
        written.append((space, entry, level, readable))

    lowered = False
    saved = term.snapshot()

    async def step() -> None:
        nonlocal saved
        params: dict[str, Any] = {"limit": rng.randint(1, 6), "cursor": term.cursor}
        roll = rng.random()
        if roll < 0.15:
            await sync(c, b, **params)  # the answer is lost on the line
            return
        if roll < 0.25:
            term.restore(saved)  # the client crashed; it restarts from its saved file
            return
        if roll < 0.45:
            doc, _ = await asyncio.gather(sync(c, b, **params), write())
        else:
            doc = await sync(c, b, **params)
        items = term.apply(doc)
        if lowered:
            assert all(i.get("level") in (None, "public") for i in items), items
        if rng.random() < 0.3:
            saved = term.snapshot()

    for n in range(36):
        if n == 18:
            # Before the change: every readable entry exactly once, classified ones too.
            await _drain(c, b, term)
            expected = {e for s, e, _, ok in written if ok}
            assert {e for v in term.view.values() for e in v} == expected
            assert term.resynced == set()
            # An audience narrowed in the log: an in-log withdrawal.
            _, victim, *_ = next(w for w in written if w[2] == "sekretess" and w[3])
            r = await c.patch(f"/api/v1/spaces/{_space_of(written, victim)}/entries/{victim}",
                              headers=a.auth, json={"audience": [world.actors["A"]]})
            assert r.status_code == 200, r.text
            r = await c.patch(f"/api/v1/users/{b.user_id}", headers=world["sys"].auth,
                              json={"clearance": "public"})
            assert r.status_code == 200, r.text
            lowered = True
            written[:] = [(s, e, lvl, lvl == "public") for s, e, lvl, _ in written]
        await write()
        for _ in range(rng.randint(0, 2)):
            await step()
    for item in await _drain(c, b, term):
        assert item.get("level") in (None, "public"), item
    assert term.resynced == set(spaces)  # each space said so once its log passed the change
    written[:] = [(s, e, lvl, lvl == "public") for s, e, lvl, _ in written]
    for space in spaces:
        shown = term.view.get(space, {})
        expected = [e for s, e, _, ok in written if s == space and ok]
        assert sorted(shown, key=lambda e: shown[e][0]) == expected
        assert all(level == "public" for _, level in shown.values())


def _space_of(written: list[tuple[str, str, str, bool]], entry: str) -> str:
    return next(s for s, e, *_ in written if e == entry)


async def test_callouts_fair_shares_filters_and_spaces_that_leave(world: World) -> None:
    c, a, b = world.client, world["a_editor"], world["b_editor"]
    one = await _space(world, a, "sekretess")
    two = await _space(world, a, "sekretess", participants=("B", "C"))
    cursor = (await sync(c, b))["cursor"]
    # A call-out addressed to B's actor: shown with B's own state, acknowledged over REST.
    r = await c.post(f"/api/v1/spaces/{one}/callouts", headers=a.auth, json={
        "actor_ids": [world.actors["B"]], "message": "Samverkanskonferens 09:00",
        "conference": {"dial_in": "+46 8 555 123", "pin": "4711"}})
    assert r.status_code == 201, r.text
    callout = r.json()["id"]
    doc = await sync(c, b, cursor=cursor)
    (item,) = [i for s in doc["spaces"] for i in s["items"]]
    assert item["event"] == "callout.created" and item["id"] == callout
    assert item["mine"] not in (None, "acknowledged", "declined")
    assert item["message"] == "Samverkanskonferens 09:00" and item["conference"]["pin"] == "4711"
    assert isinstance(item["deadline"], int)
    r = await c.post(f"/api/v1/callouts/{callout}/acknowledgements", headers=b.auth, json={})
    assert r.status_code == 200, r.text
    doc = await sync(c, b, cursor=doc["cursor"])
    assert [(i["event"], i["mine"]) for s in doc["spaces"] for i in s["items"]] == [
        ("callout.updated", "acknowledged")]
    cursor = doc["cursor"]
    c_doc = await sync(c, world["c_editor"])  # C takes part in `two` only
    assert [s["id"] for s in c_doc["spaces"]] == [two]
    # Equal shares: with limit 2, each space gets one event per answer and `more` says so.
    for n in range(3):
        await _post(world, a, one, f"ett {n}")
        await _post(world, a, two, f"två {n}")
    doc = await sync(c, b, cursor=cursor, limit=2)
    assert doc["more"] is True and bodies(doc, one) == ["ett 0"] and bodies(doc, two) == ["två 0"]
    # A filter reads only its spaces and carries the others' positions over unchanged.
    doc = await sync(c, b, cursor=doc["cursor"], spaces=one)
    assert bodies(doc, one) == ["ett 1", "ett 2"] and bodies(doc, two) == []
    doc = await sync(c, b, cursor=doc["cursor"])
    assert bodies(doc, one) == [] and bodies(doc, two) == ["två 1", "två 2"]
    # B's actor leaves `two`: told once, then the space is out of the cursor.
    r = await c.patch(f"/api/v1/spaces/{two}", headers=a.auth, json={"participants": [
        {"actor_id": world.actors["A"]}, {"actor_id": world.actors["C"]}]})
    assert r.status_code == 200, r.text
    doc = await sync(c, b, cursor=doc["cursor"])
    assert doc["removed"] == [two] and [s["id"] for s in doc["spaces"]] == []
    doc = await sync(c, b, cursor=doc["cursor"])
    assert doc["removed"] == [] and doc["spaces"] == []
