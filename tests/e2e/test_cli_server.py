"""The server as a user runs it: init, demo, serve — then sign in with a printed login."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import LiveServer


def test_demo_logins_work_against_the_running_server(live_server: LiveServer) -> None:
    assert "tib.lst" in live_server.demo
    r = httpx.post(live_server.base_url + "/api/v1/auth/token",
                   json={"username": "tib.lst", "password": live_server.demo["tib.lst"]})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    spaces = httpx.get(live_server.base_url + "/api/v1/spaces",
                       headers={"Authorization": f"Bearer {token}"}).json()["items"]
    assert any(s["exercise"] and "Snöstorm" in s["title"] for s in spaces)
