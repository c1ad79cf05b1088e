"""Ending sessions reaches open connections at once (issue 7, item 8): after a password reset
or a sign-out the old access token is refused over REST, the open websocket closes (4001),
the SSE stream ends and a waiting long-poll answers 401 `session_revoked` — through a real
server process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LiveServer, start_server, stop_server
from tests.e2e.stream_client import StreamClient, auth, exercise_space, login, post_entry


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("session-revocation"))
    yield live
    stop_server(live)


async def _session(server: LiveServer, username: str, password: str | None = None
                   ) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        r = await client.post("/api/v1/auth/token", json={
            "username": username, "password": password or server.demo[username]})
        assert r.status_code == 200, r.text
        return dict(r.json())


async def _user_id(server: LiveServer, admin: str, username: str) -> str:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        me = (await client.get("/api/v1/me", headers=auth(admin))).json()
        r = await client.get(f"/api/v1/actors/{me['actor']['id']}/users", headers=auth(admin))
    return str(next(u["id"] for u in r.json()["items"] if u["username"] == username))


@pytest.mark.parametrize("how", ["password_reset", "sign_out"])
async def test_open_streams_end_when_the_session_ends(server: LiveServer, how: str) -> None:
    writer = await login(server, "tib.lst")
    space_id = await exercise_space(server, writer)
    password = server.demo.get("tib.sthlm.new", server.demo["tib.sthlm"])
    session = await _session(server, "tib.sthlm", password)
    token = session["access_token"]
    ws = await StreamClient.open(server, token)
    await ws.subscribe(space_id, None)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        await post_entry(http, writer, space_id, f"before-{how}")
        await ws.until_body(f"before-{how}")
        async with http.stream("GET", f"/api/v1/spaces/{space_id}/events/stream",
                               headers=auth(token)) as sse:
            assert sse.status_code == 200
            lines = sse.aiter_lines()
            async for line in lines:
                if line.startswith("event: subscribed"):
                    break
            head = (await http.get(f"/api/v1/spaces/{space_id}", headers=auth(token))
                    ).json()["last_seq"]
            poll = asyncio.create_task(http.get(
                f"/api/v1/spaces/{space_id}/events", headers=auth(token),
                params={"after": head, "wait": 25}))
            await asyncio.sleep(0)  # let the long-poll start waiting (not synchronisation:
            # whether it is waiting or not yet sent, it must end with 401 either way)
            if how == "password_reset":
                admin = await login(server, "admin.sthlm")
                user_id = await _user_id(server, admin, "tib.sthlm")
                r = await http.post(f"/api/v1/users/{user_id}/password", headers=auth(admin),
                                    json={"password": "tib-sthlm-new-password"})
                assert r.status_code == 204, r.text
                server.demo["tib.sthlm.new"] = "tib-sthlm-new-password"
            else:
                r = await http.post("/api/v1/auth/logout",
                                    json={"refresh_token": session["refresh_token"]})
                assert r.status_code == 204
            # The websocket closes at once: 4001, session ended.
            assert await ws.closed_with() == 4001
            # A new entry is posted; none of the old session's streams may carry it.
            await post_entry(http, writer, space_id, f"after-{how}")
            sse_rest = []
            async for line in lines:  # the SSE response ends (no hang until a timeout)
                sse_rest.append(line)
            assert not any(f"after-{how}" in line for line in sse_rest)
            polled = await poll
            assert polled.status_code == 401, polled.text
            assert polled.json()["code"] == "session_revoked"
            r = await http.get("/api/v1/me", headers=auth(token))
            assert r.status_code == 401 and r.json()["code"] == "session_revoked"
    assert f"after-{how}" not in ws.bodies()
