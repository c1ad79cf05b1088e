"""Issue 9.5: the services return the exercise flag (ÖVNING) with the items, so no route reads
or decrypts the space again just to render it. Every route that renders entries, notices and
situation reports marks them exactly as their space is, without one call of the spaces
service. Both databases."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import World
from tests.helpers import create_space


@pytest.mark.parametrize("kind", ["exercise", "disruption"])
async def test_routes_mark_items_as_their_space_without_reading_it(world: World, kind: str
                                                                   ) -> None:
    c, auth, b = world.client, world["a_editor"].auth, world.actors["B"]
    sid = (await create_space(c, world["a_editor"], participants=[b], type=kind))["id"]
    spaces = world.app.state.services.spaces
    calls: list[str] = []
    original = spaces.get

    async def counted(principal: Any, space_id: str) -> Any:
        calls.append(space_id)
        return await original(principal, space_id)

    spaces.get = counted
    try:
        rendered = await _render_everything(c, auth, sid)
    finally:
        del spaces.get  # the instance attribute goes; the method is back
    assert calls == []
    assert len(rendered) == 9
    assert all(doc["exercise"] is (kind == "exercise") for doc in rendered), rendered


async def _render_everything(c: Any, auth: dict[str, str], sid: str) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []

    async def ok(r: Any, status: int = 200) -> Any:
        assert r.status_code == status, r.text
        return r.json()

    entry = await ok(await c.post(f"/api/v1/spaces/{sid}/entries", headers=auth, json={
        "kind": "note", "classification": "public", "body": "Läget"}), 201)
    docs.append(entry)
    docs += (await ok(await c.get(f"/api/v1/spaces/{sid}/entries", headers=auth)))["items"]
    docs.append(await ok(await c.get(f"/api/v1/spaces/{sid}/entries/{entry['id']}",
                                     headers=auth)))
    docs.append(await ok(await c.patch(f"/api/v1/spaces/{sid}/entries/{entry['id']}",
                                       headers=auth, json={"audience": None})))
    docs.append(await ok(await c.post(f"/api/v1/spaces/{sid}/situation-reports", headers=auth,
                                      json={"scope": "joint", "sections": [
                                          {"key": "current_situation",
                                           "classification": "public", "body": "Lugnt"}]}),
                         201))
    docs.append(await ok(await c.get(f"/api/v1/spaces/{sid}/situation-reports/latest",
                                     params={"scope": "joint"}, headers=auth)))
    docs.append(await ok(await c.get(f"/api/v1/spaces/{sid}/situation-reports/1",
                                     params={"scope": "joint"}, headers=auth)))
    notice = await ok(await c.post(f"/api/v1/spaces/{sid}/notices", headers=auth, json={
        "classification": "public", "body": "Samlingsplats ändrad"}), 201)
    docs.append(notice)
    docs += (await ok(await c.get(f"/api/v1/spaces/{sid}/notices", headers=auth)))["items"]
    return docs
