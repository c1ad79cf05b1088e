"""The OpenAPI document is accurate: every route is documented, every documented operation is
routed, and real responses validate against the documented schemas."""

from __future__ import annotations

from typing import Any

import jsonschema
from starlette.routing import Route

from tests.conftest import World


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
