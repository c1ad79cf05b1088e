"""Tokens: forged, expired, confused and malformed access tokens are refused with 401
problem+json; refresh tokens rotate and a reused one revokes its family; logout revokes;
the cookie session needs the CSRF double submit; failed sign-ins are throttled."""

from __future__ import annotations

import time
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import World
from tests.helpers import (
    assert_problem,
    b64url,
    bearer,
    es256_jwt,
    hs256_jwt,
    unsigned_jwt,
)


def claims_for(world: World, who: str, **changes: Any) -> dict[str, Any]:
    settings = world.app.state.settings
    person = world[who]
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.auth.issuer, "aud": settings.auth.audience, "sub": person.user_id,
        "act": person.actor_id, "iat": now, "nbf": now, "exp": now + 300, "typ": "access",
        "jti": "t1"}
    for key, value in changes.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def signing(world: World) -> tuple[str, bytes, bytes]:
    key = world.app.state.keyring.current_signing
    return key.kid, key.private_pem, key.public_pem


def other_private_pem() -> bytes:
    private = ec.generate_private_key(ec.SECP256R1())
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


async def me(world: World, token: str) -> Any:
    return await world.client.get("/api/v1/me", headers=bearer(token))


async def test_a_well_formed_token_is_accepted(world: World) -> None:
    kid, private, _ = signing(world)
    token = es256_jwt({"kid": kid}, claims_for(world, "a_editor"), private)
    r = await me(world, token)
    assert r.status_code == 200, r.text
    assert r.json()["username"] == "a_editor"


FORGERIES = [
    "expired", "wrong_signature", "other_key_same_kid", "unknown_kid", "no_kid",
    "alg_none", "alg_none_unsigned_kid", "hs256_public_key", "hs256_empty_key",
    "missing_exp", "missing_iat", "missing_iss", "missing_aud", "missing_typ", "missing_sub",
    "wrong_aud", "wrong_iss", "typ_refresh", "unknown_user", "not_yet_valid",
    "garbage", "two_parts", "empty_signature", "es512_header",
]


def forge(world: World, case: str) -> str:
    kid, private, public = signing(world)
    good = claims_for(world, "a_editor")
    now = int(time.time())
    if case == "expired":
        token = es256_jwt({"kid": kid}, claims_for(world, "a_editor", iat=now - 3600,
                                                   nbf=now - 3600, exp=now - 600), private)
    elif case == "wrong_signature":
        token = es256_jwt({"kid": kid}, good, private)
        head, payload, sig = token.split(".")
        raw = bytearray(sig.encode())
        raw[5] = ord("A") if raw[5] != ord("A") else ord("B")
        token = f"{head}.{payload}.{raw.decode()}"
    elif case == "other_key_same_kid":
        token = es256_jwt({"kid": kid}, good, other_private_pem())
    elif case == "unknown_kid":
        token = es256_jwt({"kid": "sig-nope"}, good, private)
    elif case == "no_kid":
        token = es256_jwt({}, good, private)
    elif case == "alg_none":
        token = unsigned_jwt({"alg": "none", "typ": "JWT", "kid": kid}, good)
    elif case == "alg_none_unsigned_kid":
        token = unsigned_jwt({"alg": "None"}, good)
    elif case == "hs256_public_key":
        token = hs256_jwt({"alg": "HS256", "typ": "JWT", "kid": kid}, good, public)
    elif case == "hs256_empty_key":
        token = hs256_jwt({"alg": "HS256", "typ": "JWT", "kid": kid}, good, b"")
    elif case.startswith("missing_"):
        token = es256_jwt({"kid": kid}, claims_for(world, "a_editor",
                                                   **{case.removeprefix("missing_"): None}),
                          private)
    elif case == "wrong_aud":
        token = es256_jwt({"kid": kid}, claims_for(world, "a_editor", aud="other-api"), private)
    elif case == "wrong_iss":
        token = es256_jwt({"kid": kid}, claims_for(world, "a_editor", iss="evil"), private)
    elif case == "typ_refresh":
        token = es256_jwt({"kid": kid}, claims_for(world, "a_editor", typ="refresh"), private)
    elif case == "unknown_user":
        token = es256_jwt({"kid": kid}, claims_for(
            world, "a_editor", sub="00000000-0000-4000-8000-000000000000"), private)
    elif case == "not_yet_valid":
        token = es256_jwt({"kid": kid}, claims_for(world, "a_editor", nbf=now + 3600,
                                                   iat=now + 3600, exp=now + 7200), private)
    elif case == "garbage":
        token = "not.a.token"
    elif case == "two_parts":
        token = b64url(b'{"alg":"ES256"}') + "." + b64url(b"{}")
    elif case == "empty_signature":
        token = es256_jwt({"kid": kid}, good, private).rsplit(".", 1)[0] + "."
    elif case == "es512_header":
        token = hs256_jwt({"alg": "ES512", "kid": kid}, good, b"x")
    else:
        raise AssertionError(case)
    return token


async def test_forged_or_malformed_access_tokens_are_refused(world: World) -> None:
    for case in FORGERIES:
        r = await me(world, forge(world, case))
        assert r.status_code == 401, (case, r.status_code, r.text)
        doc = assert_problem(r, 401)
        assert doc["code"] in ("token_invalid", "token_expired", "account_inactive"), doc
        if case == "expired":
            assert doc["code"] == "token_expired"
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer")


async def test_missing_or_odd_authorization_headers(world: World) -> None:
    for header in (None, "", "Bearer", "Bearer ", "Bearer    ", "Basic YTpi", "Token abc",
                   "bearer", "Bearer a b"):
        headers = {} if header is None else {"Authorization": header}
        r = await world.client.get("/api/v1/spaces", headers=headers)
        assert_problem(r, 401)


async def test_token_in_query_string_is_not_accepted(world: World) -> None:
    r = await world.client.get("/api/v1/me", params={"access_token": world["a_editor"].token})
    assert r.status_code in (400, 401, 422)
    assert r.status_code != 200


async def sign_in(world: World, who: str) -> dict[str, Any]:
    person = world[who]
    r = await world.client.post("/api/v1/auth/token",
                                json={"username": person.username, "password": person.password})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["token_type"] == "bearer" and 600 <= doc["expires_in"] <= 900
    assert doc["refresh_token"] and doc["access_token"]
    return dict(doc)


async def refresh(world: World, token: str) -> Any:
    return await world.client.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def test_sign_in_and_refresh_rotation(world: World) -> None:
    first = await sign_in(world, "b_editor")
    assert (await me(world, first["access_token"])).status_code == 200
    r = await refresh(world, first["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await me(world, second["access_token"])).status_code == 200
    r = await refresh(world, second["refresh_token"])
    assert r.status_code == 200
    third = r.json()
    # Reusing a rotated token means it leaked: refused, and the whole family is revoked —
    # loudly (issue 7: `session_revoked` for everyone in the family).
    assert assert_problem(await refresh(world, first["refresh_token"]), 401)["code"] == \
        "session_revoked"
    assert assert_problem(await refresh(world, third["refresh_token"]), 401)["code"] == \
        "session_revoked"
    # A separate sign-in (another family) is unaffected.
    other = await sign_in(world, "b_editor")
    assert (await refresh(world, other["refresh_token"])).status_code == 200
    assert_problem(await refresh(world, "x" * 43), 401)


async def test_refresh_tokens_are_stored_hashed(world: World, database_url: str) -> None:
    from tests.helpers import dump_database_bytes

    doc = await sign_in(world, "a_reader")
    raw = await dump_database_bytes(database_url)
    assert doc["refresh_token"].encode() not in raw


async def test_logout_revokes_the_refresh_token(world: World) -> None:
    doc = await sign_in(world, "a_reader")
    r = await world.client.post("/api/v1/auth/logout",
                                json={"refresh_token": doc["refresh_token"]})
    assert r.status_code == 204
    assert_problem(await refresh(world, doc["refresh_token"]), 401)


async def test_inactive_user_cannot_sign_in_or_refresh(world: World) -> None:
    doc = await sign_in(world, "b_reader")
    person = world["b_reader"]
    r = await world.client.patch(f"/api/v1/users/{person.user_id}",
                                 headers=world["b_admin"].auth, json={"active": False})
    assert r.status_code == 200
    assert_problem(await refresh(world, doc["refresh_token"]), 401)
    r = await world.client.post("/api/v1/auth/token",
                                json={"username": person.username, "password": person.password})
    doc401 = assert_problem(r, 401)
    # The same answer as a wrong password: no hint that the account exists.
    r2 = await world.client.post("/api/v1/auth/token",
                                 json={"username": "nobody-at-all", "password": "x" * 12})
    assert assert_problem(r2, 401) == doc401
    assert_problem(await me(world, doc["access_token"]), 401)


async def test_password_reset_signs_the_user_out(world: World) -> None:
    doc = await sign_in(world, "b_reader")
    person = world["b_reader"]
    r = await world.client.post(f"/api/v1/users/{person.user_id}/password",
                                headers=world["b_admin"].auth,
                                json={"password": "a-brand-new-password"})
    assert r.status_code == 204, r.text
    assert_problem(await refresh(world, doc["refresh_token"]), 401)
    r = await world.client.post("/api/v1/auth/token", json={
        "username": person.username, "password": "a-brand-new-password"})
    assert r.status_code == 200


async def test_failed_sign_ins_are_throttled(world: World) -> None:
    c = world.client
    person = world["c_editor"]
    statuses = []
    for _ in range(8):
        r = await c.post("/api/v1/auth/token",
                         json={"username": person.username, "password": "wrong-password!"})
        statuses.append(r.status_code)
    assert statuses[0] == 401
    assert 429 in statuses
    r = await c.post("/api/v1/auth/token",
                     json={"username": person.username, "password": person.password})
    doc = assert_problem(r, 429)
    assert doc["code"] == "too_many_attempts"
    assert int(r.headers["retry-after"]) > 0
    # Others are not locked out by it.
    r = await c.post("/api/v1/auth/token", json={"username": "a_reader",
                                                  "password": world["a_reader"].password})
    assert r.status_code == 200
    # The cookie sign-in path shares the throttle.
    r = await c.post("/api/v1/auth/session",
                     json={"username": person.username, "password": person.password})
    assert_problem(r, 429)
    # Other spellings of the same username do not get a fresh allowance.
    for spelling in (person.username.upper(), f" {person.username}", f"{person.username}  "):
        r = await c.post("/api/v1/auth/token",
                         json={"username": spelling, "password": "wrong-password!"})
        assert_problem(r, 429)


async def test_cookie_session_with_csrf_double_submit(world: World) -> None:
    c = world.client
    person = world["a_editor"]
    r = await c.post("/api/v1/auth/session",
                     json={"username": person.username, "password": person.password})
    assert r.status_code == 200, r.text
    assert "refresh_token" not in r.json()
    set_cookie = r.headers.get_list("set-cookie")
    refresh_cookie = next(h for h in set_cookie if h.startswith("wis_refresh="))
    assert "httponly" in refresh_cookie.lower() and "samesite=strict" in refresh_cookie.lower()
    assert "path=/api/v1/auth" in refresh_cookie.lower()
    csrf = c.cookies.get("wis_csrf")
    assert csrf
    assert (await me(world, r.json()["access_token"])).status_code == 200

    # No CSRF header, a wrong one, or one without the cookie: refused.
    r = await c.post("/api/v1/auth/session/refresh")
    assert assert_problem(r, 401)["code"] == "csrf_failed"
    r = await c.post("/api/v1/auth/session/refresh", headers={"X-CSRF-Token": csrf + "x"})
    assert assert_problem(r, 401)["code"] == "csrf_failed"
    r = await c.post("/api/v1/auth/session/refresh", headers={"X-CSRF-Token": ""})
    assert_problem(r, 401)

    r = await c.post("/api/v1/auth/session/refresh", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    assert (await me(world, r.json()["access_token"])).status_code == 200
    new_csrf = c.cookies.get("wis_csrf")
    assert new_csrf

    r = await c.post("/api/v1/auth/session/logout")
    assert_problem(r, 401)
    r = await c.post("/api/v1/auth/session/logout", headers={"X-CSRF-Token": new_csrf})
    assert r.status_code == 204
    c.cookies.set("wis_csrf", new_csrf)
    r = await c.post("/api/v1/auth/session/refresh", headers={"X-CSRF-Token": new_csrf})
    assert_problem(r, 401)


async def test_cookie_session_without_a_session_cookie(world: World) -> None:
    c = world.client
    c.cookies.set("wis_csrf", "abc")
    r = await c.post("/api/v1/auth/session/refresh", headers={"X-CSRF-Token": "abc"})
    assert assert_problem(r, 401)["code"] == "no_session"


async def test_refresh_tokens_expire(database_url: str, keyring: Any, tmp_path: Any) -> None:
    from datetime import UTC, datetime, timedelta

    import httpx

    from tests.conftest import FAST_PASSWORDS, make_settings
    from wis_server.api.app import create_app
    from wis_server.domain.levels import Classification, Role

    now = [datetime.now(UTC)]
    settings = make_settings(tmp_path, database_url, WIS_REFRESH_TOKEN_TTL="3600")
    app = create_app(settings, keyring, clock=lambda: now[0], passwords=FAST_PASSWORDS)
    async with app.router.lifespan_context(app):
        directory = app.state.services.directory
        actor = await directory.create_actor(None, "Aktör T", "T", Classification.PUBLIC)
        await directory.create_user(None, actor.id, "t_user", "t-password-long", "T",
                                    Role.READER, Classification.PUBLIC)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.post("/api/v1/auth/token", json={"username": "t_user",
                                                          "password": "t-password-long"})
            assert r.status_code == 200, r.text
            token = r.json()["refresh_token"]
            now[0] += timedelta(minutes=59)
            r = await c.post("/api/v1/auth/refresh", json={"refresh_token": token})
            assert r.status_code == 200, r.text
            token = r.json()["refresh_token"]
            now[0] += timedelta(minutes=61)
            r = await c.post("/api/v1/auth/refresh", json={"refresh_token": token})
            assert assert_problem(r, 401)["code"] == "invalid_refresh_token"


async def test_a_refresh_retried_at_once_is_a_retry_not_reuse(world: World) -> None:
    """On a lossy link the answer to a refresh can be lost; the client retries with the same
    token within seconds. That must not end the session — but only while the token it got
    instead has not been used (then the old one showing up again means it leaked)."""
    first = await sign_in(world, "b_editor")
    lost = await refresh(world, first["refresh_token"])
    assert lost.status_code == 200
    retried = await refresh(world, first["refresh_token"])
    assert retried.status_code == 200, retried.text
    # The retry gets the very token of the "lost" answer (issue 7: a replay gets nothing
    # the owner does not also hold — no parallel session from one old token) ...
    assert retried.json()["refresh_token"] == lost.json()["refresh_token"]
    assert (await refresh(world, retried.json()["refresh_token"])).status_code == 200
    # Now a successor has been used: the first token again is reuse, and the family dies.
    assert assert_problem(await refresh(world, first["refresh_token"]), 401)["code"] == \
        "session_revoked"
