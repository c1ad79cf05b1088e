"""Screenshots of the call-out board for docs/runbook-callout-0300.md, on a desktop and a 360 px
phone, against the live demo server: a call-out to five actors of which one has acknowledged and
one declined. Checks the board renders (states, time left) without CSP violations or sideways
scrolling on the phone. The images go to a temporary directory; with WIS_UPDATE_SCREENSHOTS=1
they replace docs/screenshots/runbook-*.png (so an ordinary run leaves the tree clean)."""
from __future__ import annotations

import os
from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from .web_helpers import (
    ConsoleWatch,
    api_space,
    api_token,
    bearer,
    login,
    new_context,
    no_horizontal_scroll,
    unique,
    wait_connected,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SUMMONED = ("STHLM", "SOLNA", "NACKA", "RS", "TRV")


def _token(live_server, username: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return bearer(api_token(live_server.base_url, {"username": username,
                                                  "password": live_server.demo[username]}))


def test_runbook_board_screenshots(browser: Browser, live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = DOCS if os.environ.get("WIS_UPDATE_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    base = live_server.base_url
    officer = _token(live_server, "tib.lst")
    actors = {a["short_name"]: a["id"] for a in
              httpx.get(f"{base}/api/v1/actors", headers=officer).json()["items"]}
    space_id = api_space(base, officer, unique("Storm Alfrida, natt"), classification="public",
                         participants=[actors[s] for s in SUMMONED])
    r = httpx.post(f"{base}/api/v1/spaces/{space_id}/callouts", headers=officer, json={
        "actor_ids": [actors[s] for s in SUMMONED],
        "message": "Samverkanskonferens om stormen kl. 03.30. Ring in och kvittera.",
        "conference": {"dial_in": "+46 8 555 123 00", "pin": "4711"},
        "deadline_minutes": 60})
    assert r.status_code == 201, r.text
    callout_id = r.json()["id"]
    for username, answer in (("tib.sthlm", "acknowledge"), ("tib.rs", "decline")):
        r = httpx.post(f"{base}/api/v1/callouts/{callout_id}/acknowledgements",
                       headers=_token(live_server, username), json={"answer": answer})
        assert r.status_code == 200, r.text

    for name, width, height in (("runbook-board.png", 1280, 900),
                                ("runbook-board-mobile.png", 360, 760)):
        ctx = new_context(browser, base, width=width, height=height)
        page = ctx.new_page()
        watch = ConsoleWatch(page)
        login(page, "tib.lst", live_server.demo["tib.lst"])
        page.goto(f"/#/spaces/{space_id}/callouts")
        wait_connected(page)
        board = page.locator(f"article.callout-board[data-callout='{callout_id}']")
        expect(board.locator("tr[data-actor]", has_text="Stockholms stad")) \
            .to_have_attribute("data-state", "acknowledged")
        expect(board.locator("tr[data-actor]", has_text="Region Stockholm")) \
            .to_have_attribute("data-state", "declined")
        expect(board.locator(".time-left")).to_contain_text("kvar")
        page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the top of the image
        page.screenshot(path=out / name, full_page=True)
        assert no_horizontal_scroll(page), f"{name}: the page scrolls sideways"
        assert not watch.csp_violations(), watch.errors
        ctx.close()
