"""In real Chromium: an entry whose read right is withdrawn from the reader disappears from an
open screen at once (`entry.withdrawn`), and one withdrawn while the reader was offline
disappears when the stream resumes."""
from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import LiveServer, start_server, stop_server

from .web_helpers import chromium, entry, login, new_context, wait_connected

LIVE = 20_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("stream-withdrawn"))
    yield live
    stop_server(live)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _token(http: httpx.Client, server: LiveServer, username: str) -> dict[str, str]:
    r = http.post("/api/v1/auth/token", json={"username": username,
                                              "password": server.demo[username]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_withdrawn_entries_leave_the_screen_live_and_after_reconnect(
        browser: Browser, server: LiveServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        lst = _token(http, server, "tib.lst")
        actors = {a["short_name"]: a["id"]
                  for a in http.get("/api/v1/actors", headers=lst).json()["items"]}
        space_id = next(s["id"] for s in http.get("/api/v1/spaces", headers=lst).json()["items"]
                        if s["exercise"])

        def post(body: str) -> str:
            r = http.post(f"/api/v1/spaces/{space_id}/entries", headers=lst, json={
                "kind": "note", "classification": "sekretess", "body": body,
                "audience": [actors["LST"], actors["STHLM"]]})
            assert r.status_code == 201, r.text
            return str(r.json()["id"])

        def narrow(entry_id: str) -> None:
            r = http.patch(f"/api/v1/spaces/{space_id}/entries/{entry_id}", headers=lst,
                           json={"audience": [actors["LST"]]})
            assert r.status_code == 200, r.text

        live_id = post("Sekretess som dras tillbaka live")
        offline_id = post("Sekretess som dras tillbaka offline")
        kept = "Sekretess som står kvar"
        post(kept)

        ctx = new_context(browser, server.base_url)
        page = ctx.new_page()
        login(page, "tib.sthlm", server.demo["tib.sthlm"])
        page.goto(f"/#/spaces/{space_id}")
        wait_connected(page)
        for body in ("Sekretess som dras tillbaka live", "Sekretess som dras tillbaka offline",
                     kept):
            expect(entry(page, body)).to_have_count(1, timeout=LIVE)

        narrow(live_id)
        expect(entry(page, "Sekretess som dras tillbaka live")).to_have_count(0, timeout=LIVE)

        ctx.set_offline(True)
        page.evaluate("window.dispatchEvent(new Event('offline'))")
        narrow(offline_id)
        ctx.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        wait_connected(page)
        expect(entry(page, "Sekretess som dras tillbaka offline")).to_have_count(0,
                                                                                timeout=LIVE)
        expect(entry(page, kept)).to_have_count(1)
        ctx.close()
