"""Compressed answers never compress one item against another: with a shared dictionary, the
size of a page would tell an attacker who posts public text whether it matches classified text
beside it (CRIME/BREACH)."""

from __future__ import annotations

import gzip
import random

from tests.conftest import World


async def _raw_long_poll(world: World, space_id: str) -> bytes:
    headers = {**world["a_editor"].auth, "Accept-Encoding": "gzip"}
    async with world.client.stream("GET", f"/api/v1/spaces/{space_id}/events",
                                   params={"after": 1, "wait": 0}, headers=headers) as r:
        assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
        return b"".join([chunk async for chunk in r.aiter_raw()])


async def test_items_in_a_long_poll_page_are_compressed_independently(world: World) -> None:
    c, a = world.client, world["a_editor"]
    rng = random.Random(7)
    secret = " ".join(rng.choice(["snö", "el", "väg", "bandvagn", "värmestuga", "Tensta"])
                      for _ in range(300))
    sizes = []
    for copies in (1, 2):
        r = await c.post("/api/v1/spaces", headers=a.auth, json={
            "title": "t", "type": "disruption", "classification": "sekretess"})
        sid = r.json()["id"]
        for _ in range(copies):
            r = await c.post(f"/api/v1/spaces/{sid}/entries", headers=a.auth, json={
                "kind": "note", "classification": "sekretess", "body": secret})
            assert r.status_code == 201
        raw = await _raw_long_poll(world, sid)
        doc = gzip.decompress(raw)
        assert doc.count(secret.encode()) == copies
        sizes.append(len(raw))
    # The second, identical item costs about as much as the first: it was not compressed
    # against it. (With one shared dictionary it would add only a few dozen bytes.)
    one, two = sizes
    assert two > 1.7 * one, sizes


async def test_items_of_a_sync_answer_are_compressed_independently(world: World) -> None:
    """Both sync encodings (JSON with gzip, and the compact one: a zstd frame per item against
    a static dictionary): each further copy of a classified item costs what the first did."""
    from wis_server.api.sync_shapes import COMPACT_TYPE, read_records

    c, a = world.client, world["a_editor"]
    rng = random.Random(11)
    secret = " ".join(rng.choice(["snö", "el", "väg", "bandvagn", "värmestuga", "Tensta"])
                      for _ in range(300))
    dict_id = (await c.get("/api/v1/sync/dictionary")).headers["WIS-Sync-Dictionary"]
    accepts = {"json": {"Accept-Encoding": "gzip"},
               "compact": {"Accept": f"{COMPACT_TYPE}; dict={dict_id}"}}
    sizes: dict[str, list[int]] = {"json": [], "compact": []}
    for copies in (0, 1, 2):
        r = await c.post("/api/v1/spaces", headers=a.auth, json={
            "title": "t", "type": "disruption", "classification": "sekretess"})
        sid = r.json()["id"]
        filler = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(2000))
        for body in [filler, *[secret] * copies]:  # the filler: every answer is gzipped
            r = await c.post(f"/api/v1/spaces/{sid}/entries", headers=a.auth, json={
                "kind": "note", "classification": "sekretess", "body": body})
            assert r.status_code == 201
        for name, headers in accepts.items():
            async with c.stream("GET", "/api/v1/sync", params={"spaces": sid},
                                headers={**a.auth, **headers}) as r:
                assert r.status_code == 200
                raw = b"".join([chunk async for chunk in r.aiter_raw()])
            if name == "json":
                assert r.headers["content-encoding"] == "gzip"
                text = gzip.decompress(raw).decode()
            else:
                dictionary = (await c.get("/api/v1/sync/dictionary")).content
                text = "".join(read_records(raw, dictionary))
            assert text.count(secret) == copies
            sizes[name].append(len(raw))
    for name, (none, one, two) in sizes.items():
        # The second copy costs about what the first did: it was not compressed against it.
        assert two - one > 0.8 * (one - none), (name, sizes)
