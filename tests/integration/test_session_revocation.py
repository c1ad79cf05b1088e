"""Ending sessions (issue 7, items 6, 8, 9, 16): sign-out, password reset and disabling end
every session of the user at once; refresh replays get nothing new and reused families fail
loudly; administrators cannot take over accounts cleared above them; re-validation only
re-authorises connections whose rights changed."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.conftest import World
from tests.helpers import assert_problem, bearer, es256_jwt
from wis_server.realtime.ports import Frame


async def _sign_in(world: World, username: str) -> dict[str, Any]:
    person = world[username]
    r = await world.client.post("/api/v1/auth/token", json={"username": person.username,
                                                             "password": person.password})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _me(world: World, access: str) -> httpx.Response:
    return await world.client.get("/api/v1/me", headers=bearer(access))


async def _refresh(world: World, token: str) -> httpx.Response:
    return await world.client.post("/api/v1/auth/refresh", json={"refresh_token": token})


@pytest.mark.parametrize("how", ["sign_out", "password_reset", "disable"])
async def test_every_session_ends_at_once_on_rest(world: World, how: str) -> None:
    laptop = await _sign_in(world, "b_reader")
    phone = await _sign_in(world, "b_reader")
    for session in (laptop, phone):
        assert (await _me(world, session["access_token"])).status_code == 200
    person = world["b_reader"]
    if how == "sign_out":
        r = await world.client.post("/api/v1/auth/logout",
                                    json={"refresh_token": laptop["refresh_token"]})
        assert r.status_code == 204
    elif how == "password_reset":
        r = await world.client.post(f"/api/v1/users/{person.user_id}/password",
                                    headers=world["b_admin"].auth,
                                    json={"password": "a-brand-new-password"})
        assert r.status_code == 204, r.text
    else:
        r = await world.client.patch(f"/api/v1/users/{person.user_id}",
                                     headers=world["b_admin"].auth, json={"active": False})
        assert r.status_code == 200, r.text
    expected = "account_inactive" if how == "disable" else "session_revoked"
    for session in (laptop, phone):
        assert assert_problem(await _me(world, session["access_token"]), 401)["code"] == \
            expected
        assert_problem(await _refresh(world, session["refresh_token"]), 401)
    # The world's own token (issued before) ended, too.
    assert_problem(await world.client.get("/api/v1/me", headers=person.auth), 401)


async def test_a_token_issued_in_the_future_is_refused(world: World) -> None:
    keyring = world.app.state.keyring
    key = keyring.current_signing
    person = world["a_reader"]
    settings = world.app.state.settings
    now = int(time.time())

    def token(iat: int) -> str:
        return es256_jwt({"alg": "ES256", "kid": key.kid, "typ": "JWT"}, {
            "iss": settings.auth.issuer, "aud": settings.auth.audience, "sub": person.user_id,
            "act": person.actor_id, "iat": iat, "nbf": now - 5, "exp": now + 600,
            "typ": "access", "jti": "x", "sep": 0}, key.private_pem)

    assert (await _me(world, token(now))).status_code == 200
    r = await _me(world, token(now + 3600))
    assert assert_problem(r, 401)["code"] == "token_invalid"


async def test_a_refresh_replay_gets_the_owners_successor_once_not_a_new_session(
        world: World) -> None:
    first = await _sign_in(world, "b_editor")
    owner = (await _refresh(world, first["refresh_token"])).json()
    # A thief replaying the rotated token within the grace gets the very same successor.
    thief = await _refresh(world, first["refresh_token"])
    assert thief.status_code == 200
    assert thief.json()["refresh_token"] == owner["refresh_token"]
    # The owner keeps working ...
    owner2 = await _refresh(world, owner["refresh_token"])
    assert owner2.status_code == 200
    # ... and now the thief's replays are reuse: the family dies loudly for everyone in it.
    r = await _refresh(world, first["refresh_token"])
    assert assert_problem(r, 401)["code"] == "session_revoked"
    for token in (owner["refresh_token"], owner2.json()["refresh_token"]):
        assert assert_problem(await _refresh(world, token), 401)["code"] == "session_revoked"
    # Reuse also ended the access tokens of the family at once.
    r = await _me(world, owner2.json()["access_token"])
    assert assert_problem(r, 401)["code"] == "session_revoked"
    # A fresh sign-in works.
    assert (await _me(world, (await _sign_in(world, "b_editor"))["access_token"])
            ).status_code == 200


# --- administrators and clearance (item 6) ----------------------------------------------

async def test_no_admin_resets_or_raises_an_account_cleared_above_them(world: World) -> None:
    c = world.client
    b_admin, b_editor = world["b_admin"], world["b_editor"]  # public admin, sekretess editor
    r = await c.post(f"/api/v1/users/{b_editor.user_id}/password", headers=b_admin.auth,
                     json={"password": "taken-over-password"})
    assert assert_problem(r, 403)["code"] == "clearance_above_own"
    # The old password still works: nothing was changed.
    assert (await c.post("/api/v1/auth/token", json={
        "username": b_editor.username, "password": b_editor.password})).status_code == 200
    b_reader = world["b_reader"]
    r = await c.patch(f"/api/v1/users/{b_reader.user_id}", headers=b_admin.auth,
                      json={"clearance": "sekretess"})
    assert assert_problem(r, 403)["code"] == "clearance_above_own"
    r = await c.post(f"/api/v1/actors/{world.actors['B']}/users", headers=b_admin.auth,
                     json={"username": "new.sek", "password": "zq-" * 5, "display_name": "N",
                           "role": "editor", "clearance": "sekretess"})
    assert assert_problem(r, 403)["code"] == "clearance_above_own"
    # Renaming or changing the role of the higher-cleared account: refused as well.
    for change in ({"display_name": "Someone else"}, {"role": "reader"}):
        r = await c.patch(f"/api/v1/users/{b_editor.user_id}", headers=b_admin.auth,
                          json=change)
        assert assert_problem(r, 403)["code"] == "clearance_above_own"
    # Disabling takes rights away: allowed. Re-enabling gives them back: refused.
    r = await c.patch(f"/api/v1/users/{b_editor.user_id}", headers=b_admin.auth,
                      json={"active": False})
    assert r.status_code == 200, r.text
    r = await c.patch(f"/api/v1/users/{b_editor.user_id}", headers=b_admin.auth,
                      json={"active": True})
    assert assert_problem(r, 403)["code"] == "clearance_above_own"
    # Lowering to the admin's own level is allowed.
    r = await c.patch(f"/api/v1/users/{world['b_speaker'].user_id}", headers=b_admin.auth,
                      json={"clearance": "public"})
    assert r.status_code == 200, r.text


async def test_a_system_admin_cannot_create_a_user_above_itself_in_another_actor(
        world: World) -> None:
    c, sysadmin = world.client, world["sys"]  # public-cleared system admin in A
    r = await c.post(f"/api/v1/actors/{world.actors['B']}/users", headers=sysadmin.auth,
                     json={"username": "planted", "password": "zq-" * 5, "display_name": "P",
                           "role": "editor", "clearance": "sekretess"})
    assert assert_problem(r, 403)["code"] == "clearance_above_own"
    r = await c.post(f"/api/v1/users/{world['a_editor'].user_id}/password",
                     headers=sysadmin.auth, json={"password": "taken-over-password"})
    assert assert_problem(r, 403)["code"] == "clearance_above_own"
    r = await c.patch(f"/api/v1/actors/{world.actors['C']}", headers=sysadmin.auth,
                      json={"clearance_ceiling": "hemlig"})
    assert assert_problem(r, 403)["code"] == "clearance_above_own"
    # Within its own clearance it still creates users anywhere.
    r = await c.post(f"/api/v1/actors/{world.actors['B']}/users", headers=sysadmin.auth,
                     json={"username": "pub.person", "password": "zq-" * 5,
                           "display_name": "P", "role": "reader", "clearance": "public"})
    assert r.status_code == 201, r.text


# --- re-validation of live connections (item 16) ----------------------------------------

class _Sink:
    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.closed: tuple[int, str] | None = None

    async def send(self, frame: Frame) -> None:
        self.frames.append(frame)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


async def test_revalidation_reauthorises_only_changed_connections(world: World) -> None:
    hub = world.app.state.hub
    directory = world.app.state.services.directory
    conns = {}
    for name in ("a_editor", "b_editor", "b_reader"):
        principal = await directory.principal(world[name].user_id)
        conns[name] = hub.connect(_Sink(), principal, None)
    before = hub.reauthorisations
    for _ in range(3):
        await hub.revalidate_all()
    assert hub.reauthorisations == before  # nothing changed: nobody re-authorised
    # A change made behind the hub's back (as if the notification were lost).
    from wis_server.domain.levels import Classification
    from wis_server.storage.tables import users

    async with world.app.state.store.write() as tx:
        await tx.conn.execute(users.update().where(users.c.id == world["b_reader"].user_id)
                              .values(clearance=Classification.SEKRETESS.value))
    await hub.revalidate_all()
    assert hub.reauthorisations == before + 1
    for conn in conns.values():
        conn.close_soon(1000, "test over")


async def test_revalidation_closes_a_connection_whose_session_ended(world: World) -> None:
    hub = world.app.state.hub
    person = world["b_reader"]
    principal = await world.app.state.services.directory.principal(person.user_id)
    sink = _Sink()
    conn = hub.connect(sink, principal, None)
    async with world.app.state.store.write() as tx:
        await tx.users.end_sessions(person.user_id, world.app.state.clock())
    await hub.revalidate_all()
    assert conn.closed and conn.close_code == 4001
