"""Bad input never answers 500: malformed JSON, wrong types and media types, unknown and
missing fields, oversize bodies, unknown enum values, out-of-range numbers, NUL bytes, lone
surrogates, deep nesting — each gets a 4xx problem+json with a stable code, and no answer
echoes classified content. A bounded, seeded fuzz loop covers the endpoints."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx

from tests.conftest import World, make_settings
from tests.helpers import assert_problem, create_space, marker, post_entry
from wis_server.api.app import create_app


async def setup_space(world: World) -> tuple[str, dict[str, Any]]:
    space = await create_space(world.client, world["a_editor"],
                               participants=[world.actors["B"]], classification="sekretess")
    return space["id"], space


def entry_path(sid: str) -> str:
    return f"/api/v1/spaces/{sid}/entries"


GOOD_ENTRY = {"kind": "note", "classification": "public", "body": "hej"}


MALFORMED_ENTRY_BODIES: list[tuple[bytes, str | None]] = [
    (b"{", "malformed_json"),
    (b"", "malformed_json"),
    (b"null", "wrong_type"),
    (b"[]", "wrong_type"),
    (b'"text"', "wrong_type"),
    (b"\xff\xfe\x00", "malformed_json"),
    (b'{"kind": "note", "classification": "public", "body": "x",}', "malformed_json"),
    (b'{"kind": "note", "classification": "public", "body": NaN}', None),
    (b'{"kind": 1, "classification": "public", "body": "x"}', "wrong_type"),
    (b'{"kind": "note", "classification": ["public"], "body": "x"}', "wrong_type"),
    (b'{"kind": "note", "classification": "public", "body": 5}', "wrong_type"),
    (b'{"kind": "note", "classification": "public", "body": ""}', "too_short"),
    (b'{"kind": "note", "classification": "public", "body": "x", "audience": "all"}',
     "wrong_type"),
    (b'{"kind": "note", "classification": "public", "body": "x", "audience": [1]}',
     "wrong_type"),
    (b'{"kind": "note", "classification": "public", "body": "x", "extra": 1}',
     "unknown_field"),
    (b'{"kind": "note", "classification": "public"}', "missing_field"),
    (b'{"kind": "gossip", "classification": "public", "body": "x"}', "unknown_value"),
    (b'{"kind": "note", "classification": "topsecret", "body": "x"}', "unknown_value"),
    (b'{"kind": "note", "classification": "PUBLIC", "body": "x"}', "unknown_value"),
    (b'{"kind": "note", "classification": "hemlig", "body": "x"}',
     "classification_above_ceiling"),
    (b'{"kind": "note", "classification": "public", "body": "a\\u0000b"}', "invalid_field"),
    (b'{"kind": "note", "classification": "public", "body": "\\ud800"}', None),
    (b'{"kind": "note", "classification": "public", "body": "x", "\\udfff": 1}', None),
    (b'{"kind": "note", "classification": "public", "body": "x", "body": 7}', "duplicate_field"),
    (b'{"kind": "note", "classification": "public", "body": "x", "audience": ["a", "a"]}',
     "duplicate_item"),
]


async def test_malformed_entry_bodies(world: World) -> None:
    sid, _ = await setup_space(world)
    for body, code in MALFORMED_ENTRY_BODIES:
        r = await world.client.post(entry_path(sid), content=body, headers={
            **world["a_editor"].auth, "Content-Type": "application/json"})
        assert r.status_code != 500, body
        doc = assert_problem(r)
        if code is not None:
            assert doc["code"] == code, (body, doc)
    r = await world.client.get(entry_path(sid), headers=world["a_editor"].auth)
    assert r.json()["items"] == [], "nothing was created"


async def test_deeply_nested_json(world: World) -> None:
    sid, _ = await setup_space(world)
    docs = [(d, x) for d in (50, 5_000, 100_000)
            for x in ("[" * d + "]" * d, '{"kind": ' + '{"a":' * d + "1" + "}" * d + "}")]
    for depth, doc in docs:
        r = await world.client.post(entry_path(sid), content=doc.encode(), headers={
            **world["a_editor"].auth, "Content-Type": "application/json"})
        assert assert_problem(r)["code"] in ("malformed_json", "wrong_type", "missing_field"), depth


async def test_wrong_content_type(world: World) -> None:
    sid, _ = await setup_space(world)
    for content_type in (None, "text/plain", "application/x-www-form-urlencoded",
                         "multipart/form-data", "application/jsonx", "application/xml"):
        headers = dict(world["a_editor"].auth)
        if content_type:
            headers["Content-Type"] = content_type
        r = await world.client.post(entry_path(sid), content=json.dumps(GOOD_ENTRY).encode(),
                                    headers=headers)
        assert assert_problem(r)["code"] == "unsupported_media_type", content_type


async def test_oversize_body_is_413(world: World) -> None:
    sid, _ = await setup_space(world)
    limit = world.app.state.settings.server.max_body_bytes
    big = json.dumps({**GOOD_ENTRY, "body": "x" * (limit + 10)}).encode()
    r = await world.client.post(entry_path(sid), content=big, headers={
        **world["a_editor"].auth, "Content-Type": "application/json"})
    assert assert_problem(r, 413)["code"] == "body_too_large"

    # Without a Content-Length (chunked): the stream is cut off at the limit too.
    async def chunks() -> Any:
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    r = await world.client.post(entry_path(sid), content=chunks(), headers={
        **world["a_editor"].auth, "Content-Type": "application/json"})
    assert assert_problem(r, 413)["code"] == "body_too_large"
    # A body just over a field's own limit is a 422, not a 500.
    r = await world.client.post(entry_path(sid), headers=world["a_editor"].auth,
                                json={**GOOD_ENTRY, "body": "x" * 50_001})
    assert assert_problem(r, 422)["code"] == "too_long"


async def test_body_limit_is_configurable(database_url: str, keyring: Any, tmp_path: Any
                                          ) -> None:
    settings = make_settings(tmp_path, database_url, WIS_MAX_BODY_BYTES="200")
    app = create_app(settings, keyring)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.post("/api/v1/auth/token",
                             json={"username": "u", "password": "p" * 300})
            assert assert_problem(r, 413)["code"] == "body_too_large"
            r = await c.post("/api/v1/auth/token", json={"username": "u", "password": "p"})
            assert_problem(r, 401)


BAD_QUERIES: list[tuple[dict[str, str], str | None]] = [
    ({"limit": "100000"}, "out_of_range"),
    ({"limit": "0"}, "out_of_range"),
    ({"limit": "-1"}, "out_of_range"),
    ({"limit": "ten"}, "wrong_type"),
    ({"limit": "1" * 5000}, "wrong_type"),
    ({"after": "-5"}, "out_of_range"),
    ({"after": "99999999999999999999999"}, None),
    ({"before": "9223372036854775808"}, None),
    ({"after": "1e3"}, "wrong_type"),
    ({"order": "sideways"}, "unknown_value"),
    ({"secret": "1"}, "unknown_parameter"),
    ({"after": "\x00"}, "wrong_type"),
]


async def test_bad_query_parameters(world: World) -> None:
    sid, _ = await setup_space(world)
    for params, code in BAD_QUERIES:
        r = await world.client.get(entry_path(sid), params=params,
                                   headers=world["a_editor"].auth)
        doc = assert_problem(r)
        if code:
            assert doc["code"] == code, (params, doc)


ODD_PATHS = [
    "/api/v1/spaces/{sid}/situation-reports/99999999999999999999999",
    "/api/v1/spaces/{sid}/situation-reports/9223372036854775808",
    "/api/v1/spaces/{sid}/situation-reports/0",
    "/api/v1/audit?after=99999999999999999999999",
    "/api/v1/audit?actor_id=%00",
    "/api/v1/spaces/%00",
    "/api/v1/spaces/{sid}/entries/%00",
    "/api/v1/spaces/{sid}/entries/" + "x" * 5000,
    "/api/v1/spaces/" + "%F0%9F%92%A5" * 20,
    "/api/v1/spaces/%ED%A0%80",
    "/api/v1/spaces/{sid}/situation-reports/latest?scope=actor&actor_id=%00",
    "/api/v1/spaces/{sid}/situation-reports/latest?scope=everyone",
    "/api/v1/actors/%00/users",
    "/api/v1/users/%00",
]


async def test_odd_paths_and_ids(world: World) -> None:
    sid, _ = await setup_space(world)
    for path in ODD_PATHS:
        url = path.replace("{sid}", sid)
        method = "PATCH" if url.startswith("/api/v1/users/") else "GET"
        body = {"active": True} if method == "PATCH" else None
        who = world["sys"] if "audit" in url or "users" in url else world["a_editor"]
        r = await world.client.request(method, url, headers=who.auth, json=body)
        assert r.status_code < 500, (path, r.text)
        if r.status_code >= 400:
            assert_problem(r)
        else:
            assert url.startswith("/api/v1/audit") and r.json()["items"] == [], path


async def test_validation_errors_never_echo_classified_content(world: World) -> None:
    sid, _ = await setup_space(world)
    c, a = world.client, world["a_editor"]
    secret = marker("secret")
    cases: list[dict[str, Any]] = [
        {"kind": "note", "classification": "hemlig", "body": secret},
        {"kind": "note", "classification": "sekretess", "body": secret,
         "audience": [world.actors["C"]]},
        {"kind": "nope", "classification": "sekretess", "body": secret},
        {"kind": "note", "classification": "nope", "body": secret},
        {"kind": "note", "classification": "sekretess", "body": secret + "x" * 50_001},
        {"kind": "note", "classification": "sekretess", "body": secret, "x": secret},
    ]
    for doc in cases:
        r = await c.post(entry_path(sid), headers=a.auth, json=doc)
        assert_problem(r)
        assert secret not in r.text, r.text
    # A reader's refused write does not echo it either.
    r = await c.post(entry_path(sid), headers=world["a_reader"].auth,
                     json={"kind": "note", "classification": "public", "body": secret})
    assert_problem(r, 403)
    assert secret not in r.text
    r = await c.post(f"/api/v1/spaces/{sid}/situation-reports", headers=a.auth, json={
        "scope": "joint", "sections": [
            {"key": "event", "classification": "hemlig", "body": secret}]})
    assert_problem(r, 422)
    assert secret not in r.text


async def test_other_endpoints_reject_bad_bodies(world: World) -> None:
    c, ids = world.client, world.actors
    sid, _ = await setup_space(world)
    sys_ = world["sys"].auth
    a = world["a_editor"].auth
    cases: list[tuple[str, str, dict[str, str], Any, str]] = [
        ("POST", "/api/v1/spaces", a, {"title": "t", "type": "party",
                                        "classification": "public"}, "unknown_value"),
        ("POST", "/api/v1/spaces", a, {"title": "t", "type": "exercise",
                                        "classification": "public",
                                        "participants": ["no-such-actor"]}, "unknown_actor"),
        ("POST", "/api/v1/spaces", a, {"title": "t", "type": "exercise",
                                        "classification": "public",
                                        "participants": [ids["B"], ids["B"]]}, "duplicate_item"),
        ("POST", "/api/v1/spaces", world["b_editor"].auth,
         {"title": "t", "type": "exercise", "classification": "hemlig"},
         "ceiling_above_clearance"),
        ("POST", "/api/v1/spaces", a, {"title": "", "type": "exercise",
                                        "classification": "public"}, "too_short"),
        ("POST", "/api/v1/spaces", a, {"type": "exercise", "classification": "public"},
         "missing_field"),
        ("PATCH", f"/api/v1/spaces/{sid}", a, {"status": "archived"}, "unknown_value"),
        ("PATCH", f"/api/v1/spaces/{sid}", a, {"participants": [{"actor_id": ids["B"]}]},
         "owner_must_participate"),
        ("PATCH", f"/api/v1/spaces/{sid}", a,
         {"participants": [{"actor_id": ids["A"], "role_cap": "king"}]}, "unknown_value"),
        ("POST", "/api/v1/actors", sys_, {"name": "N", "short_name": "N",
                                          "clearance_ceiling": "ultra"}, "unknown_value"),
        ("POST", "/api/v1/actors", sys_, {"name": "Aktör A", "short_name": "A",
                                          "clearance_ceiling": "public"}, "actor_exists"),
        ("POST", f"/api/v1/actors/{ids['B']}/users", sys_,
         {"username": "user1", "password": "short", "display_name": "U", "role": "reader",
          "clearance": "public"}, "password_too_short"),
        ("POST", f"/api/v1/actors/{ids['B']}/users", sys_,
         {"username": "a_editor", "password": "long-enough-pw", "display_name": "U",
          "role": "reader", "clearance": "public"}, "username_taken"),
        ("POST", f"/api/v1/actors/{ids['B']}/users", sys_,
         {"username": "user2", "password": "long-enough-pw", "display_name": "U",
          "role": "emperor", "clearance": "public"}, "unknown_value"),
        ("PATCH", f"/api/v1/users/{world['b_reader'].user_id}", sys_, {"active": "no"},
         "wrong_type"),
        ("PATCH", f"/api/v1/users/{world['b_reader'].user_id}", sys_, {"active": 0},
         "wrong_type"),
        ("POST", "/api/v1/auth/token", {}, {"username": "x"}, "missing_field"),
        ("POST", "/api/v1/auth/token", {}, {"username": "x", "password": "y", "otp": 1},
         "unknown_field"),
        ("POST", "/api/v1/auth/token", {}, {"username": "x" * 81, "password": "y"}, "too_long"),
        ("POST", "/api/v1/auth/token", {}, {"username": "\ud800", "password": "y" * 12},
         ""),
        ("POST", "/api/v1/auth/refresh", {}, {"refresh_token": 5}, "wrong_type"),
        ("POST", f"/api/v1/spaces/{sid}/situation-reports", a,
         {"sections": []}, "empty_report"),
        ("POST", f"/api/v1/spaces/{sid}/situation-reports", a,
         {"sections": [{"key": "event", "classification": "public", "body": "x"}] * 2},
         ""),
        ("POST", f"/api/v1/spaces/{sid}/situation-reports", a,
         {"sections": [{"key": "gossip", "classification": "public", "body": "x"}]},
         "unknown_value"),
        ("POST", f"/api/v1/spaces/{sid}/situation-reports", a,
         {"scope": "world", "sections": []}, "unknown_value"),
    ]
    for method, path, headers, body, code in cases:
        raw = json.dumps(body, ensure_ascii=True).encode()
        r = await c.request(method, path, headers={**headers,
                                                   "Content-Type": "application/json"},
                            content=raw)
        doc = assert_problem(r)
        if code:
            assert doc["code"] == code, (method, path, body, doc)


async def test_bad_idempotency_keys(world: World) -> None:
    sid, _ = await setup_space(world)
    for key in ("x" * 201, "a\tb"):
        r = await world.client.post(entry_path(sid), json=GOOD_ENTRY,
                                    headers={**world["a_editor"].auth, "Idempotency-Key": key})
        assert assert_problem(r, 422)["code"] == "invalid_idempotency_key"


async def test_method_not_allowed_and_unknown_routes(world: World) -> None:
    c = world.client
    r = await c.delete("/api/v1/spaces", headers=world["a_editor"].auth)
    assert_problem(r, 405)
    r = await c.get("/api/v1/nothing-here", headers=world["a_editor"].auth)
    assert r.status_code == 404


async def test_wrong_method_on_api_paths_is_405_with_the_real_allow(world: World) -> None:
    """The web client's static files are the fallback, so a path that exists with other
    methods answers 405 naming them — not the static mount's `GET, HEAD` or a 404."""
    c, auth = world.client, world["a_editor"].auth
    sid, _ = await setup_space(world)
    cases = [("GET", "/api/v1/auth/token", {"POST"}),
             ("DELETE", "/api/v1/auth/token", {"POST"}),
             ("PUT", "/api/v1/spaces", {"GET", "HEAD", "POST"}),
             ("POST", f"/api/v1/spaces/{sid}/situation-reports/latest", {"GET", "HEAD"}),
             ("DELETE", "/openapi.json", {"GET", "HEAD"}),
             ("POST", "/healthz", {"GET", "HEAD"})]
    for method, path, allowed in cases:
        r = await c.request(method, path, headers=auth)
        assert assert_problem(r, 405)["code"] == "method_not_allowed", (method, path)
        assert {m.strip() for m in r.headers["allow"].split(",")} == allowed, (method, path)
    for method in ("GET", "POST", "DELETE"):
        r = await c.request(method, "/api/v1/nothing-here", headers=auth)
        assert assert_problem(r, 404)["code"] == "not_found", method
    r = await c.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")


async def test_query_integers_and_last_event_id_are_plain_ascii_digits(world: World) -> None:
    c, auth = world.client, world["a_editor"].auth
    sid, _ = await setup_space(world)
    for raw in ("1_0", "+2", " 2 ", "٣", "2\n", "0x1", "2.0", "1e3", ""):
        r = await c.get(f"/api/v1/spaces/{sid}/events", params={"after": raw}, headers=auth)
        assert assert_problem(r, 422)["code"] == "wrong_type", repr(raw)
        r = await c.get(entry_path(sid), params={"limit": raw}, headers=auth)
        assert assert_problem(r, 422)["code"] == "wrong_type", repr(raw)
    for raw in ("1_0", "+2", "٣", "0x1", "--1"):
        r = await c.get(f"/api/v1/spaces/{sid}/events/stream",
                        headers={**auth, "Last-Event-ID": raw.encode()})
        assert assert_problem(r, 422)["code"] == "wrong_type", repr(raw)
    r = await c.get(f"/api/v1/spaces/{sid}/events", params={"after": "007"}, headers=auth)
    assert r.status_code == 200


VALUES: list[Any] = [
    None, True, False, 0, -1, 2**63, 1.5, "", "x", "public", "hemlig", "note", "\x00",
    "\ud800", "ä" * 300, [], [None], ["x"], {}, {"a": 1}, "9" * 50, "../../etc/passwd",
    "<script>", "' OR 1=1 --",
]


def fuzz_doc(rng: random.Random, fields: list[str]) -> Any:
    if rng.random() < 0.1:
        return rng.choice(VALUES)
    doc = {}
    for name in fields:
        if rng.random() < 0.8:
            doc[name] = rng.choice(VALUES)
    if rng.random() < 0.2:
        doc[rng.choice(["zz", "__proto__", "id", "seq"])] = rng.choice(VALUES)
    return doc


async def test_bounded_fuzz_never_500(world: World) -> None:
    sid, _ = await setup_space(world)
    await post_entry(world.client, world["a_editor"], sid, level="public", body="seed")
    rng = random.Random(20261123)
    ids = world.actors
    targets = [
        ("POST", f"/api/v1/spaces/{sid}/entries", ["kind", "classification", "body",
                                                   "audience"]),
        ("POST", "/api/v1/spaces", ["title", "description", "type", "classification",
                                    "participants"]),
        ("PATCH", f"/api/v1/spaces/{sid}", ["title", "description", "status", "participants"]),
        ("POST", f"/api/v1/spaces/{sid}/situation-reports", ["scope", "sections"]),
        ("POST", "/api/v1/auth/token", ["username", "password"]),
        ("POST", "/api/v1/auth/refresh", ["refresh_token"]),
        ("POST", f"/api/v1/actors/{ids['A']}/users", ["username", "password", "display_name",
                                                      "role", "clearance"]),
        ("PATCH", f"/api/v1/users/{world['a_reader'].user_id}", ["role", "clearance", "active",
                                                                 "display_name"]),
        ("POST", "/api/v1/actors", ["name", "short_name", "clearance_ceiling",
                                    "contact_points"]),
        ("PUT", f"/api/v1/actors/{ids['A']}/contact-points", ["contact_points"]),
    ]
    get_targets = [
        (f"/api/v1/spaces/{sid}/entries", ["after", "before", "limit", "order"]),
        (f"/api/v1/spaces/{sid}/situation-reports/latest", ["scope", "actor_id"]),
        ("/api/v1/audit", ["actor_id", "after", "limit"]),
    ]
    failures = []
    for i in range(150):
        who = rng.choice(["a_editor", "sys", "b_reader"])
        headers = {**world[who].auth, "Content-Type": "application/json"}
        if i % 4 == 3:
            path, names = rng.choice(get_targets)
            params = {n: str(rng.choice(VALUES)).replace("\ud800", "?")
                      for n in names if rng.random() < 0.6}
            r = await world.client.get(path, params=params, headers=world[who].auth)
            what: Any = (path, params)
        else:
            method, path, fields = rng.choice(targets)
            doc = fuzz_doc(rng, fields)
            raw = json.dumps(doc).encode()
            r = await world.client.request(method, path, content=raw, headers=headers)
            what = (method, path, doc)
        if r.status_code >= 500 or (r.status_code >= 400 and not r.headers.get(
                "content-type", "").startswith("application/problem+json")):
            failures.append((what, r.status_code, r.text[:200]))
    assert not failures, failures[:5]


async def test_security_headers_on_every_kind_of_answer(world: World) -> None:
    c = world.client
    sid, _ = await setup_space(world)
    limit = world.app.state.settings.server.max_body_bytes
    answers = [
        await c.get("/api/v1/spaces", headers=world["a_editor"].auth),
        await c.get(entry_path(sid), headers=world["a_editor"].auth),
        await c.get("/api/v1/spaces"),
        await c.get(f"/api/v1/spaces/{sid}", headers=world["c_editor"].auth),
        await c.post(entry_path(sid), headers={**world["a_editor"].auth,
                                               "Content-Type": "application/json"},
                     content=b"x" * (limit + 1)),
        await c.post(entry_path(sid), headers=world["a_editor"].auth, json={"kind": "x"}),
    ]
    for r in answers:
        h = r.headers
        assert h.get("x-content-type-options") == "nosniff", r.status_code
        assert h.get("x-frame-options") == "DENY"
        assert "frame-ancestors 'none'" in h.get("content-security-policy", "")
        assert h.get("referrer-policy") == "no-referrer"
        assert "no-store" in h.get("cache-control", ""), (r.request.url, r.status_code)
        assert "server" not in h
