"""Housekeeping forgets day-old idempotency keys and dead refresh tokens, and nothing else."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import World
from wis_server.services.maintenance import prune


async def test_prune_forgets_only_what_is_old(world: World) -> None:
    c, a = world.client, world["a_editor"]
    r = await c.post("/api/v1/spaces", headers={**a.auth, "Idempotency-Key": "k1"}, json={
        "title": "t", "type": "exercise", "classification": "public"})
    assert r.status_code == 201
    first = r.json()["id"]
    r = await c.post("/api/v1/auth/token", json={"username": a.username, "password": a.password})
    refresh = r.json()["refresh_token"]
    r = await c.post("/api/v1/auth/logout", json={"refresh_token": refresh})
    assert r.status_code == 204
    r = await c.post("/api/v1/auth/token", json={"username": a.username, "password": a.password})
    live_refresh = r.json()["refresh_token"]
    # Signing out ended every session of the user (issue 7): go on with the new one.
    fresh = {"Authorization": f"Bearer {r.json()['access_token']}"}

    store, clock = world.app.state.store, world.app.state.clock
    assert await prune(store, clock) == (0, 0)  # nothing is a day old yet
    later = clock() + timedelta(hours=25)
    keys, tokens = await prune(store, lambda: later)
    assert keys == 1 and tokens == 1  # the key, and the revoked token; not the live one

    r = await c.post("/api/v1/auth/refresh", json={"refresh_token": live_refresh})
    assert r.status_code == 200
    r = await c.post("/api/v1/spaces", headers={**fresh, "Idempotency-Key": "k1"}, json={
        "title": "t", "type": "exercise", "classification": "public"})
    assert r.status_code == 201 and r.json()["id"] != first  # the key was forgotten
