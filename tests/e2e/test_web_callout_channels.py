"""The call-out board showing channels, in real Chromium, against a server whose Rakel gateway
talks to the simulated radio on a pty (as `make run` does) and whose other channels record in
memory: Storstockholms brandförsvar (a Rakel terminal first) is reached over Rakel — the
terminal's delivery report says so — and answers `OK <kod>` by SDS; Nacka kommun's e-mail is
taken. The board says "nådd via Rakel HH:MM", reconciles per channel, and the system
administrator's page shows each channel's health. Screenshots: docs/screenshots/ with
WIS_UPDATE_SCREENSHOTS=1 (callout-channels.png, admin-channels.png)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from .conftest import LiveServer, start_server, stop_server
from .web_helpers import ConsoleWatch, chromium, create_space, login, new_context, wait_connected

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LIVE = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def rakel_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("rakel-live")
    link = data_dir / "pei0"
    radio = subprocess.Popen(
        [sys.executable, "-m", "wis_server.channels.rakel.simulator", "--link", str(link),
         "--issi", "2010001", "--terminal", "2011234", "--terminal", "2011235",
         "--group", "9001=2011234,2011235", "--auto-ack"], stdout=subprocess.PIPE, text=True)
    try:
        assert radio.stdout is not None
        assert radio.stdout.readline().startswith("simulated Rakel terminal")
        server = start_server(data_dir, {"WIS_CHANNELS": "memory",
                                         "WIS_RAKEL_DEVICE": str(link),
                                         "WIS_RAKEL_ISSI": "2010001"})
        try:
            yield server
        finally:
            stop_server(server)
    finally:
        radio.terminate()
        radio.wait(timeout=10)


def test_the_board_says_which_channel_reached_each_actor(
        browser: Browser, rakel_server: LiveServer) -> None:
    out = DOCS if os.environ.get("WIS_UPDATE_SCREENSHOTS") == "1" else None
    ctx = new_context(browser, rakel_server.base_url, width=1280, height=900)
    page = ctx.new_page()
    watch = ConsoleWatch(page)
    login(page, "tib.lst", rakel_server.demo["tib.lst"])
    create_space(page, f"Storm {uuid.uuid4().hex[:6]}",
                 participants=["Storstockholms brandförsvar", "Nacka kommun"],
                 classification="public")
    page.get_by_role("link", name="Aktivering").click()
    page.wait_for_url(re.compile(r"#/spaces/[^/]+/callouts$"))
    wait_connected(page)
    form = page.locator("form.create-callout")
    form.get_by_label("Storstockholms brandförsvar").check()
    form.get_by_label("Nacka kommun").check()
    form.get_by_label("Meddelande").fill("Samverkanskonferens om stormen 14:00")
    form.get_by_role("button", name="Skicka aktivering").click()
    board = page.locator("article.callout-board").first
    expect(board).to_be_visible()
    ssbf = board.locator("tr[data-actor]", has_text="Storstockholms brandförsvar")
    # The virtual terminal got the SDS, reported it delivered and answered OK <kod> over Rakel.
    expect(ssbf).to_have_attribute("data-state", "acknowledged", timeout=LIVE)
    expect(ssbf.locator("td.callout-reached")).to_have_attribute("data-reached", "rakel",
                                                                  timeout=LIVE)
    expect(ssbf.locator("td.callout-reached")).to_contain_text(
        re.compile(r"nådd via Rakel \d\d:\d\d"))
    expect(ssbf).to_contain_text("Rakel")  # the answer's channel
    ledger = board.locator("[data-ledger] li[data-channel=rakel]")
    expect(ledger).to_contain_text("1 skickade · 1 bekräftade · 0 misslyckade · 1 kvitterade",
                                   timeout=LIVE)
    expect(board).not_to_contain_text("null")
    if out is not None:
        page.screenshot(path=out / "callout-channels.png", full_page=True)
    # The space's log says it too, above the entries: who was reached over which channel.
    page.locator("p.breadcrumb a").click()
    page.wait_for_url(re.compile(r"#/spaces/[^/]+$"))
    strip = page.locator("section.callout-strip")
    expect(strip).to_be_visible()
    expect(strip.locator("li[data-reached=rakel]")).to_contain_text(
        re.compile(r"Storstockholms brandförsvar nådd via Rakel \d\d:\d\d"))
    expect(strip).to_contain_text("1 av 2 har svarat")
    expect(strip.get_by_role("link", name="Visa aktiveringstavlan")).to_be_visible()
    assert watch.csp_violations() == []
    ctx.close()

    # The operators' view: each channel's health, the Rakel terminal connected.
    ctx = new_context(browser, rakel_server.base_url, width=1280, height=900)
    page = ctx.new_page()
    login(page, "admin", rakel_server.demo["admin"])
    page.get_by_role("link", name="Administration").click()
    rakel = page.locator("table.channel-health tr[data-channel=rakel]")
    expect(rakel).to_have_attribute("data-breaker", "closed", timeout=LIVE)
    expect(rakel).to_contain_text("Rakelterminal ansluten")
    expect(page.locator("table.channel-health tr[data-channel=email]")).to_be_visible()
    if out is not None:
        page.locator("section.admin-channels").screenshot(path=out / "admin-channels.png")
    ctx.close()
