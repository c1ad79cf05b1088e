"""The OpenAPI document is accurate: every route is documented, every documented operation is
routed, and real responses validate against the documented schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
from starlette.routing import Route

from tests.conftest import World
from wis_server.domain.codes import MEANING, STREAM_FRAME_CODES, STREAM_ONLY, Code

ROOT = Path(__file__).resolve().parents[2]


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    wrapped = {**schema, "components": doc["components"]}
    return jsonschema.Draft202012Validator(wrapped)


def _check(doc: dict[str, Any], path: str, method: str, status: int, body: Any) -> None:
    op = doc["paths"][path][method]
    response = op["responses"][str(status)]
    media = "application/problem+json" if status >= 400 else "application/json"
    schema = response["content"][media]["schema"]
    errors = sorted(_validator(doc, schema).iter_errors(body), key=lambda e: e.path)
    assert not errors, f"{method.upper()} {path} {status}: {errors[0].message}"


async def test_document_is_openapi_31_and_matches_routes(world: World) -> None:
    doc = (await world.client.get("/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    routed = set()
    for route in world.app.routes:
        if isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":
                    routed.add((route.path.replace(":int", ""), method.lower()))
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert documented == routed
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


async def test_real_responses_match_the_documented_schemas(world: World) -> None:
    c = world.client
    doc = (await c.get("/openapi.json")).json()
    a, b = world["a_editor"], world["b_editor"]

    r = await c.post("/api/v1/auth/token", json={"username": a.username, "password": a.password})
    _check(doc, "/api/v1/auth/token", "post", 200, r.json())
    r = await c.get("/api/v1/me", headers=a.auth)
    _check(doc, "/api/v1/me", "get", 200, r.json())
    r = await c.get("/api/v1/actors", headers=a.auth)
    _check(doc, "/api/v1/actors", "get", 200, r.json())
    r = await c.get(f"/api/v1/actors/{world.actors['A']}/users", headers=world["a_admin"].auth)
    _check(doc, "/api/v1/actors/{actor_id}/users", "get", 200, r.json())

    r = await c.post("/api/v1/spaces", headers=a.auth, json={
        "title": "Storm", "type": "exercise", "classification": "hemlig",
        "participants": [world.actors["B"]]})
    _check(doc, "/api/v1/spaces", "post", 201, r.json())
    space = r.json()["id"]
    r = await c.get("/api/v1/spaces", headers=b.auth)
    _check(doc, "/api/v1/spaces", "get", 200, r.json())

    r = await c.post(f"/api/v1/spaces/{space}/entries", headers=a.auth, json={
        "kind": "decision", "classification": "sekretess", "body": "x",
        "audience": [world.actors["B"]]})
    _check(doc, "/api/v1/spaces/{space_id}/entries", "post", 201, r.json())
    r = await c.get(f"/api/v1/spaces/{space}/entries", headers=b.auth)
    _check(doc, "/api/v1/spaces/{space_id}/entries", "get", 200, r.json())
    assert r.json()["items"][0]["exercise"] is True

    r = await c.post(f"/api/v1/spaces/{space}/situation-reports", headers=a.auth, json={
        "scope": "joint", "sections": [
            {"key": "event", "classification": "public", "body": "snö"},
            {"key": "needs", "classification": "hemlig", "body": "h"}]})
    _check(doc, "/api/v1/spaces/{space_id}/situation-reports", "post", 201, r.json())
    r = await c.get(f"/api/v1/spaces/{space}/situation-reports/latest", headers=b.auth)
    _check(doc, "/api/v1/spaces/{space_id}/situation-reports/latest", "get", 200, r.json())
    assert [s["key"] for s in r.json()["sections"]] == ["event"]
    r = await c.get(f"/api/v1/spaces/{space}/situation-reports", headers=b.auth)
    _check(doc, "/api/v1/spaces/{space_id}/situation-reports", "get", 200, r.json())

    r = await c.get("/api/v1/audit", headers=world["sys"].auth)
    _check(doc, "/api/v1/audit", "get", 200, r.json())
    r = await c.get(f"/api/v1/spaces/{space}", headers=world["c_editor"].auth)
    _check(doc, "/api/v1/spaces/{space_id}", "get", 404, r.json())
    r = await c.post("/api/v1/spaces", headers=a.auth, json={"title": "x", "bogus": 1})
    _check(doc, "/api/v1/spaces", "post", 422, r.json())


def _accepts(doc: dict[str, Any], component: str, body: Any) -> bool:
    schema = {"$ref": f"#/components/schemas/{component}"}
    return _validator(doc, schema).is_valid(body)


def _user(n: int, **fields: Any) -> dict[str, Any]:
    return {"username": f"strict{n}", "password": "long enough password",
            "display_name": "Anna", "role": "reader", "clearance": "public", **fields}


async def test_document_is_exactly_as_strict_as_the_server(world: World) -> None:
    """For each input the published schema and the server agree: both accept or both refuse
    (NUL, blank by either notion, invisible characters in names, `2.0` for an integer,
    password length, empty sections)."""
    c = world.client
    doc = (await c.get("/openapi.json")).json()
    admin, editor = world["a_admin"], world["a_editor"]
    users = f"/api/v1/actors/{world.actors['A']}/users"
    cases: list[tuple[str, str, str, Any, Any, str | None]] = [
        ("UserCreate", "POST", users, admin, _user(1), None),
        ("UserCreate", "POST", users, admin, _user(2, display_name="a\u202eb"),
         "invisible_character"),
        ("UserCreate", "POST", users, admin, _user(3, display_name="\u2067x\u2069"),
         "invisible_character"),
        ("UserCreate", "POST", users, admin, _user(4, display_name="Ann\u200ba"),
         "invisible_character"),
        ("UserCreate", "POST", users, admin, _user(5, display_name="x\U000e0041"),
         "invisible_character"),
        ("UserCreate", "POST", users, admin, _user(6, display_name="\x1c"),
         "invisible_character"),
        ("UserCreate", "POST", users, admin, _user(7, display_name=" \u3000 "), "blank"),
        ("UserCreate", "POST", users, admin, _user(8, display_name="Ærlig Åsa"), None),
        ("UserCreate", "POST", users, admin, _user(9, password="short"),
         "password_too_short"),
        ("UserCreate", "POST", users, admin, _user(10, display_name="a\x00"),
         "invalid_field"),
        ("SpaceCreate", "POST", "/api/v1/spaces", editor,
         {"title": "\ufeff", "type": "disruption", "classification": "public"}, None),
        ("SpaceCreate", "POST", "/api/v1/spaces", editor,
         {"title": "Storm\u202e", "type": "disruption", "classification": "public"},
         "invisible_character"),
        ("SpaceCreate", "POST", "/api/v1/spaces", editor,
         {"title": "Storm", "description": "a\x00", "type": "disruption",
          "classification": "public"}, "invalid_field"),
        ("ActorCreate", "POST", "/api/v1/actors", world["sys"],
         {"name": "Räddning\u200e", "short_name": "R", "clearance_ceiling": "public"},
         "invisible_character"),
        ("ActorCreate", "POST", "/api/v1/actors", world["sys"],
         {"name": "Räddning", "short_name": "RTJ", "clearance_ceiling": "public",
          "contact_points": [{"kind": "phone", "value": "+46 8 123 456 78", "priority": 2.0}]},
         None),
    ]
    for component, method, path, who, body, code in cases:
        r = await c.request(method, path, headers=who.auth, json=body)
        schema_ok = _accepts(doc, component, body)
        if code is None and component == "SpaceCreate":  # "\ufeff" is blank and invisible
            assert not schema_ok and r.status_code == 422, r.text
            continue
        if code is None:
            assert schema_ok and r.status_code == 201, (body, r.text)
        else:
            assert not schema_ok, body
            assert r.status_code == 422 and r.json()["code"] == code, (body, r.text)
    space = (await c.post("/api/v1/spaces", headers=editor.auth, json={
        "title": "Storm", "type": "disruption", "classification": "public"})).json()
    body = {"sections": []}
    r = await c.post(f"/api/v1/spaces/{space['id']}/situation-reports", headers=editor.auth,
                     json=body)
    assert not _accepts(doc, "ReportCreate", body)
    assert r.status_code == 422 and r.json()["code"] == "empty_report", r.text


async def test_parameters_publish_what_the_server_enforces(world: World) -> None:
    doc = (await world.client.get("/openapi.json")).json()
    space = (await world.client.post("/api/v1/spaces", headers=world["a_editor"].auth, json={
        "title": "Storm", "type": "disruption", "classification": "public"})).json()
    key = next(p for p in doc["paths"]["/api/v1/spaces"]["post"]["parameters"]
               if p["name"] == "Idempotency-Key")["schema"]
    for value in ("", " x", "é", "x" * 201, "ok-1", "x" * 200):
        valid = jsonschema.Draft202012Validator(key).is_valid(value)
        r = await world.client.post(
            f"/api/v1/spaces/{space['id']}/entries",
            headers={**world["a_editor"].auth, "Idempotency-Key": value.encode()},
            json={"kind": "note", "classification": "public", "body": "x"})
        assert valid == (r.status_code == 201), (value, r.text)
    for ops in doc["paths"].values():
        for op in ops.values():
            for param in op.get("parameters", ()):
                if param["schema"]["type"] == "integer":
                    assert "maximum" in param["schema"], param


async def test_every_error_code_is_documented(world: World) -> None:
    """The registry is the documentation: every problem+json code is enumerated in the served
    document with its meaning, every websocket error-frame code is in docs/realtime.md, and the
    README points at both."""
    doc = (await world.client.get("/openapi.json")).json()
    code = doc["components"]["schemas"]["Problem"]["properties"]["code"]
    problem_codes = [c for c in Code if c not in STREAM_ONLY]
    assert code["enum"] == [c.value for c in problem_codes]
    for c in problem_codes:
        assert f"- `{c.value}`: {MEANING[c]}" in code["description"]
    realtime = (ROOT / "docs" / "realtime.md").read_text(encoding="utf-8")
    frames = next(line for line in realtime.splitlines() if '"type":"error"' in line)
    for c in STREAM_FRAME_CODES:
        assert f"`{c.value}`" in frames, c
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "wis_server/domain/codes.py" in readme and "/openapi.json" in readme
