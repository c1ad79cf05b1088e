"""Property-based contract test: schemathesis generates requests from `/openapi.json` and
sends them to a real `wis serve` process (SQLite and PostgreSQL, demo data), as a reader and as an editor,
with real space, entry, report, actor and user ids fed into the path parameters. It fails on
any 5xx, any response that does not match its documented schema, status, content type or
headers, any invalid request the server accepts, and any wrong method not answered 405 with
the real `Allow`.

Deterministic (derandomized, no example database) and bounded twice: by example count per
operation and by a wall-clock budget for the whole module (cases past the budget are not
sent, so a slow machine tests less but never fails for being slow)."""

from __future__ import annotations

import asyncio
import time
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis import checks as sc

from tests.conftest import POSTGRES_URL, _with_database, admin_sql
from tests.e2e.conftest import LiveServer, start_server, stop_server

BUDGET_S = 65.0  # per database, so PostgreSQL is never starved by a slow SQLite run
MAX_EXAMPLES = 8
ROLES = ("lasare.nacka", "tib.lst")  # a reader (Nacka) and an editor (Länsstyrelsen)
# The SSE stream never ends by design (covered in test_events / e2e); everything else runs.
NOT_FUZZED = ("/api/v1/spaces/{space_id}/events/stream",)

# Each database's budget clock starts at its first generated case, not at import: in the whole
# suite the module is imported at collection, many minutes before its tests run.
_sent = {"cases": 0, "skipped_for_time": 0}
_clock: dict[str, float] = {}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                                  marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[LiveServer]:
    env: dict[str, str] = {}
    name = f"wis_st_{uuid.uuid4().hex[:12]}"
    if request.param == "postgres":
        if not POSTGRES_URL:
            pytest.skip("PostgreSQL: WIS_TEST_POSTGRES_URL not set")
        asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
        env["WIS_DATABASE_URL"] = _with_database(POSTGRES_URL, name)
    live = start_server(Path(tmp_path_factory.mktemp("schemathesis")), env)
    yield live
    stop_server(live)
    if request.param == "postgres":
        asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _prepare(server: LiveServer) -> dict[str, Any]:
    """Sign in both roles and create what the path parameters should name."""
    with httpx.Client(base_url=server.base_url, timeout=30) as c:
        tokens = {}
        for name in ROLES:
            r = c.post("/api/v1/auth/token", json={"username": name,
                                                  "password": server.demo[name]})
            assert r.status_code == 200, r.text
            tokens[name] = r.json()["access_token"]
        editor = {"Authorization": f"Bearer {tokens['tib.lst']}"}
        actors = {a["short_name"]: a["id"] for a in
                  c.get("/api/v1/actors", headers=editor).json()["items"]}
        r = c.post("/api/v1/spaces", headers=editor, json={
            "title": "Schemathesis", "type": "disruption", "classification": "sekretess",
            "participants": [actors["NACKA"]]})
        assert r.status_code == 201, r.text
        space = r.json()["id"]
        r = c.post(f"/api/v1/spaces/{space}/entries", headers=editor, json={
            "kind": "note", "classification": "public", "body": "fuzz target"})
        assert r.status_code == 201, r.text
        entry = r.json()["id"]
        r = c.post(f"/api/v1/spaces/{space}/situation-reports", headers=editor, json={
            "scope": "actor", "sections": [{"key": "current_situation", "classification": "public",
                                            "body": "läget"}]})
        assert r.status_code == 201, r.text
        me = c.get("/api/v1/me", headers=editor).json()
    return {"tokens": tokens, "ids": {
        "space_id": space, "entry_id": entry, "actor_id": actors["NACKA"],
        "user_id": me["id"], "version": 1}}


@pytest.fixture(scope="module")
def world(server: LiveServer) -> dict[str, Any]:
    return _prepare(server)


@pytest.fixture(scope="module")
def api_schema(server: LiveServer) -> Any:
    doc = httpx.get(server.base_url + "/openapi.json").json()
    for path in NOT_FUZZED:
        del doc["paths"][path]
    schema = schemathesis.openapi.from_dict(doc)
    schema.config.update(base_url=server.base_url)
    return schema


CHECKS = [sc.not_a_server_error, sc.status_code_conformance, sc.content_type_conformance,
          sc.response_schema_conformance, sc.response_headers_conformance]
BOUNDED = settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
                   suppress_health_check=list(HealthCheck),
                   phases=[Phase.explicit, Phase.generate])


def _call(case: Any, role: str, world: dict[str, Any], server: LiveServer,
          negative: bool = False) -> None:
    started = _clock.setdefault(str(server.data_dir), time.monotonic())
    if time.monotonic() - started > BUDGET_S:
        _sent["skipped_for_time"] += 1
        return
    # Most valid cases name real things (so the handlers run past the 404); some keep the
    # generated ids. The choice is a function of the case, hence deterministic. Invalid cases
    # keep theirs (the invalid part may be the id; bodies are validated before any lookup).
    seed = zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode())
    if case.path_parameters and seed % 5 and not negative:
        for name in case.path_parameters:
            if name in world["ids"]:
                case.path_parameters[name] = world["ids"][name]
    if case.query and "wait" in case.query:
        case.query["wait"] = 0  # a long-poll would only wait for nothing
    _sent["cases"] += 1
    case.call_and_validate(base_url=server.base_url, timeout=30,
                           headers={"Authorization": f"Bearer {world['tokens'][role]}"},
                           checks=CHECKS + ([sc.negative_data_rejection] if negative else []))


def _fuzz(api_schema: Any, role: str, world: dict[str, Any], server: LiveServer,
          mode: GenerationMode) -> None:
    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @BOUNDED
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            _call(case, role, world, server, negative=mode is GenerationMode.NEGATIVE)

        try:
            try:
                run()
            except Unsatisfiable:  # nothing to vary (no parameters, or no way to be invalid)
                if mode is GenerationMode.POSITIVE:
                    _call(operation.Case(), role, world, server)
        except Exception as error:  # collect every operation's failure, then report all
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["valid", "invalid"])
def test_api_matches_its_document(api_schema: Any, role: str, mode: GenerationMode,
                                  world: dict[str, Any], server: LiveServer) -> None:
    _fuzz(api_schema, role, world, server, mode)


def test_wrong_methods_answer_405_with_the_real_allow(server: LiveServer,
                                                      world: dict[str, Any]) -> None:
    doc = httpx.get(server.base_url + "/openapi.json").json()
    headers = {"Authorization": f"Bearer {world['tokens'][ROLES[1]]}"}
    every = {"get", "post", "put", "patch", "delete"}
    with httpx.Client(base_url=server.base_url, timeout=30) as c:
        for template, ops in doc["paths"].items():
            path = template
            for name, value in world["ids"].items():
                path = path.replace("{" + name + "}", str(value))
            allowed = {m.upper() for m in ops} | ({"HEAD"} if "get" in ops else set())
            for method in sorted(every - set(ops)):
                r = c.request(method.upper(), path, headers=headers)
                assert r.status_code == 405, (method, template, r.status_code)
                assert r.headers["content-type"] == "application/problem+json"
                assert {m.strip() for m in r.headers["allow"].split(",")} == allowed, template


def test_the_run_sent_requests() -> None:
    """The budget did not swallow the run (runs after the generated tests)."""
    print(f"schemathesis: {_sent['cases']} cases sent, {_sent['skipped_for_time']} past the "
          "time budget")
    assert _sent["cases"] > 0, _sent
