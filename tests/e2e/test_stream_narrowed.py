"""In real Chromium (issue 8 item 3): when a reader's own clearance is lowered while the space
stays readable, the entries and lägesbild sections they can no longer read leave open screens
at once (`entry.withdrawn` / `situation_report.section_withdrawn`, id only); and a client on
the REST polling fallback (websockets blocked) sees withdrawals too."""
from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import LiveServer, start_server, stop_server

from .web_helpers import chromium, entry, login, new_context, wait_connected

LIVE = 20_000
NO_WEBSOCKET = "window.WebSocket = function () { throw new Error('blocked by the network'); };"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("stream-narrowed"))
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


def _space(http: httpx.Client, headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    actors = {a["short_name"]: a["id"]
              for a in http.get("/api/v1/actors", headers=headers).json()["items"]}
    space_id = next(s["id"] for s in http.get("/api/v1/spaces", headers=headers).json()["items"]
                    if s["exercise"])
    return space_id, actors


def _post(http: httpx.Client, headers: dict[str, str], space_id: str, body: str, level: str,
          audience: list[str] | None = None) -> str:
    doc: dict[str, object] = {"kind": "note", "classification": level, "body": body}
    if audience is not None:
        doc["audience"] = audience
    r = http.post(f"/api/v1/spaces/{space_id}/entries", headers=headers, json=doc)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_a_lowered_clearance_takes_entries_and_sections_off_open_screens(
        browser: Browser, server: LiveServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        lst = _token(http, server, "tib.lst")
        space_id, actors = _space(http, lst)
        both = [actors["LST"], actors["STHLM"]]
        _post(http, lst, space_id, "Sekretess som försvinner vid sänkt behörighet",
              "sekretess", both)
        _post(http, lst, space_id, "Öppen post som står kvar", "public")
        r = http.post(f"/api/v1/spaces/{space_id}/situation-reports", headers=lst, json={
            "scope": "joint", "sections": [
                {"key": "current_situation", "classification": "public",
                 "body": "Öppet läge som står kvar"},
                {"key": "needs", "classification": "sekretess", "audience": both,
                 "body": "Sekretessbehov som försvinner"}]})
        assert r.status_code == 201, r.text

        log_ctx = new_context(browser, server.base_url)
        log_page = log_ctx.new_page()
        login(log_page, "tib.sthlm", server.demo["tib.sthlm"])
        log_page.goto(f"/#/spaces/{space_id}")
        wait_connected(log_page)
        report_ctx = new_context(browser, server.base_url)
        report_page = report_ctx.new_page()
        login(report_page, "tib.sthlm", server.demo["tib.sthlm"])
        report_page.goto(f"/#/spaces/{space_id}/report")
        wait_connected(report_page)
        gone_entry = entry(log_page, "Sekretess som försvinner vid sänkt behörighet")
        expect(gone_entry).to_have_count(1, timeout=LIVE)
        gone_section = report_page.locator(".report-section",
                                           has_text="Sekretessbehov som försvinner")
        expect(gone_section).to_have_count(1, timeout=LIVE)

        admin = _token(http, server, "admin.sthlm")
        me = http.get("/api/v1/me", headers=_token(http, server, "tib.sthlm")).json()
        r = http.patch(f"/api/v1/users/{me['id']}", headers=admin,
                       json={"clearance": "public"})
        assert r.status_code == 200, r.text

        expect(gone_entry).to_have_count(0, timeout=LIVE)
        expect(gone_section).to_have_count(0, timeout=LIVE)
        expect(entry(log_page, "Öppen post som står kvar")).to_have_count(1)
        expect(report_page.locator(".report-section", has_text="Öppet läge som står kvar")
               ).to_have_count(1)
        log_ctx.close()
        report_ctx.close()


def test_the_polling_fallback_sees_withdrawals(browser: Browser, server: LiveServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        lst = _token(http, server, "tib.lst")
        space_id, actors = _space(http, lst)
        withdrawn = _post(http, lst, space_id, "Dras tillbaka under polling", "sekretess",
                          [actors["LST"], actors["RS"]])
        ctx = new_context(browser, server.base_url)
        ctx.add_init_script(NO_WEBSOCKET)
        page = ctx.new_page()
        login(page, "tib.rs", server.demo["tib.rs"])
        page.goto(f"/#/spaces/{space_id}")
        expect(page.locator("#conn")).to_have_attribute("data-state", "polling", timeout=LIVE)
        expect(entry(page, "Dras tillbaka under polling")).to_have_count(1, timeout=LIVE)
        _post(http, lst, space_id, "Ny post under polling", "public")
        expect(entry(page, "Ny post under polling")).to_have_count(1, timeout=LIVE)
        r = http.patch(f"/api/v1/spaces/{space_id}/entries/{withdrawn}", headers=lst,
                       json={"audience": [actors["LST"]]})
        assert r.status_code == 200, r.text
        expect(entry(page, "Dras tillbaka under polling")).to_have_count(0, timeout=LIVE)
        ctx.close()
