"""Call-outs in real Chromium against the running demo server: the duty officer creates a
call-out from the web client; a second browser context (not signed in: the contact point's
phone) opens the signed link that was sent, sees the page (which acknowledges nothing), presses
the button; the first browser's call-out board shows the actor acknowledged, live."""
from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from wis_server.classification.keys import load_keyring_file
from wis_server.services.callout_links import LinkSigner
from wis_server.services.callouts import LINK_GRACE

from .web_helpers import ConsoleWatch, chromium, create_space, login, new_context, wait_connected

LIVE = 20_000


@pytest.fixture(scope="module")
def browser() -> Browser:
    with chromium() as b:
        yield b


def _sent_link(data_dir: Path, callout_id: str, actor_short: str, public_url: str) -> str:
    """The link the server put in the message to the actor's first contact point: the same
    signature over the same (contact point, expiry) with the keyring's key."""
    import sqlite3

    db = sqlite3.connect(data_dir / "wis.db")
    try:
        contact_id, deadline = db.execute(
            "SELECT k.id, c.deadline_at FROM callout_contacts k JOIN callouts c "
            "ON c.id = k.callout_id JOIN actors a ON a.id = k.actor_id "
            "WHERE k.callout_id = ? AND a.short_name = ? AND k.notified_count > 0 "
            "ORDER BY k.position LIMIT 1", (callout_id, actor_short)).fetchone()
    finally:
        db.close()
    from datetime import UTC, datetime

    expires = datetime.fromisoformat(str(deadline)).replace(tzinfo=UTC) + LINK_GRACE
    keyring = load_keyring_file(data_dir / "keyring.json")
    return LinkSigner(keyring.audit_key, public_url).link(contact_id, expires)


def test_create_callout_acknowledge_from_a_second_context_board_updates_live(
        browser: Browser, live_server) -> None:  # type: ignore[no-untyped-def]
    officer_ctx = new_context(browser, live_server.base_url)
    officer = officer_ctx.new_page()
    watch = ConsoleWatch(officer)
    login(officer, "tib.lst", live_server.demo["tib.lst"])
    title = f"Storm {uuid.uuid4().hex[:6]}"
    create_space(officer, title, participants=["Nacka kommun", "Solna stad"],
                            classification="public")
    officer.get_by_role("link", name="Aktivering").click()
    officer.wait_for_url(re.compile(r"#/spaces/[^/]+/callouts$"))
    wait_connected(officer)
    form = officer.locator("form.create-callout")
    form.get_by_label("Nacka kommun").check()
    form.get_by_label("Solna stad").check()
    form.get_by_label("Meddelande").fill("Samverkanskonferens om stormen")
    form.get_by_label("Inringningsnummer").fill("+46 8 555 123")
    form.get_by_label("PIN").fill("4711")
    form.get_by_role("button", name="Skicka aktivering").click()
    board = officer.locator("article.callout-board").first
    expect(board).to_be_visible()
    callout_id = board.get_attribute("data-callout")
    assert callout_id
    nacka = board.locator("tr[data-actor]", has_text="Nacka kommun")
    expect(nacka).to_have_attribute("data-state", "notified")
    expect(board.locator(".time-left")).to_contain_text("kvar")

    # The contact point's phone: a fresh context, not signed in.
    link = _sent_link(live_server.data_dir, callout_id, "NACKA", live_server.base_url)
    phone_ctx = browser.new_context(viewport={"width": 390, "height": 760}, locale="sv-SE")
    phone = phone_ctx.new_page()
    phone.goto(link)
    expect(phone.get_by_role("heading", name="Aktivering")).to_be_visible()
    expect(phone.locator("[data-message]")).to_contain_text("Samverkanskonferens om stormen")
    button = phone.get_by_role("button", name="Kvittera – jag deltar")
    expect(button).to_be_visible()
    # opening the page acknowledged nothing (a link scanner does exactly this)
    phone.reload()
    expect(nacka).to_have_attribute("data-state", "notified")
    button = phone.get_by_role("button", name="Kvittera – jag deltar")
    button.click()
    expect(phone.locator("[data-note]")).to_contain_text("Tack")
    expect(phone.locator('[data-state="acknowledged"]')).to_be_visible()

    # The officer's board turns without a reload.
    expect(nacka).to_have_attribute("data-state", "acknowledged", timeout=LIVE)
    expect(nacka).to_contain_text("Kvitterad")
    expect(nacka).to_contain_text("länk")
    expect(board.locator("[data-summary]")).to_contain_text("1 av 2 har svarat")

    # Escalate now and add an actor from the board.
    solna = board.locator("tr[data-actor]", has_text="Solna stad")
    board.get_by_role("button", name="Eskalera nu").click()
    expect(solna).to_have_attribute("data-state", "escalated", timeout=LIVE)
    assert not watch.csp_violations(), watch.errors
    phone_ctx.close()
    officer_ctx.close()
