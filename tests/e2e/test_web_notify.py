"""Notifications in real Chromium against the running demo server: unread counts on the space
list and in the tab title (kept on the server, so a reload keeps them; only what the user may
read counts), the notification preferences page (saved through the API, shown again after a
reload, a bad number refused with its Swedish text), and composing a notice in a space (the
audience summary beside the button; a classified notice asks first)."""
from __future__ import annotations

import httpx
from playwright.sync_api import Browser, expect

from .web_helpers import (
    ConsoleWatch,
    api_space,
    api_token,
    bearer,
    login,
    new_context,
    unique,
    wait_connected,
)

TITLE = "WIS – lägesbild och samverkan"


def _person(live_server, username: str) -> dict:  # type: ignore[no-untyped-def]
    return {"username": username, "password": live_server.demo[username]}


def _actor_id(base: str, auth: dict[str, str], short: str) -> str:
    actors = httpx.get(f"{base}/api/v1/actors", headers=auth).json()["items"]
    return str(next(a["id"] for a in actors if a["short_name"] == short))


def _post(base: str, auth: dict[str, str], space_id: str, level: str, body: str,
          audience: list[str] | None = None) -> None:
    doc = {"kind": "note", "classification": level, "body": body}
    if audience is not None:
        doc["audience"] = audience
    r = httpx.post(f"{base}/api/v1/spaces/{space_id}/entries", headers=auth, json=doc)
    assert r.status_code == 201, r.text


def _total(base: str, auth: dict[str, str]) -> int:
    return int(httpx.get(f"{base}/api/v1/me/unread", headers=auth).json()["total"])


def test_unread_counts_on_the_space_list_and_in_the_tab_title(
        browser: Browser, live_server) -> None:  # type: ignore[no-untyped-def]
    base = live_server.base_url
    writer = bearer(api_token(base, _person(live_server, "tib.lst")))
    reader_who = _person(live_server, "tib.sthlm")  # sekretess: no hemlig
    reader = bearer(api_token(base, reader_who))
    title = unique("Vattenläcka")
    space_id = api_space(base, writer, title, participants=[_actor_id(base, writer, "STHLM")],
                         classification="hemlig")
    _post(base, writer, space_id, "public", "Ledningen är avstängd")
    _post(base, writer, space_id, "public", "Tankbil på plats")
    _post(base, writer, space_id, "hemlig", "Bara LST")  # the reader may not read it

    ctx = new_context(browser, base)
    page = ctx.new_page()
    watch = ConsoleWatch(page)
    login(page, reader_who["username"], reader_who["password"])
    item = page.locator("li.space-item", has_text=title)
    badge = item.locator(".unread-badge")
    expect(badge).to_have_attribute("data-unread", "2")
    expect(badge).to_contain_text("2 nya")
    expect(page).to_have_title(f"({_total(base, reader)}) {TITLE}")

    # viewing the space marks it seen, on the server: back on the list (and after a reload)
    # the badge is gone
    item.locator("a.space-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    wait_connected(page)
    page.locator("p.breadcrumb a").click()
    expect(page.locator("li.space-item", has_text=title)).to_be_visible()
    expect(page.locator("li.space-item", has_text=title).locator(".unread-badge")).to_have_count(0)
    page.reload()
    expect(page.locator("li.space-item", has_text=title)).to_be_visible()
    expect(page.locator("li.space-item", has_text=title).locator(".unread-badge")).to_have_count(0)
    assert next(c for c in httpx.get(f"{base}/api/v1/me/unread", headers=reader).json()["items"]
                if c["space_id"] == space_id)["unread"] == 0

    # a new entry by someone else counts again; the title says the sum
    _post(base, writer, space_id, "public", "Ny tankbil")
    page.reload()
    expect(page.locator("li.space-item", has_text=title).locator(".unread-badge")) \
        .to_have_attribute("data-unread", "1")
    total = _total(base, reader)
    expect(page).to_have_title(f"({total}) {TITLE}" if total else TITLE)
    assert not watch.csp_violations() and not watch.errors, watch.errors
    ctx.close()


def test_notification_preferences_page(browser: Browser, live_server) -> None:  # type: ignore[no-untyped-def]
    base = live_server.base_url
    who = _person(live_server, "lasare.nacka")
    auth = bearer(api_token(base, who))
    ctx = new_context(browser, base)
    page = ctx.new_page()
    watch = ConsoleWatch(page)
    login(page, who["username"], who["password"])
    page.goto("/#/settings")
    form = page.locator("form.prefs-form")
    expect(page.get_by_role("heading", name="Aviseringar", exact=True)).to_be_visible()
    form.get_by_label("E-postadress").fill("beredskap@nacka.example.se")
    form.get_by_label("Mobilnummer").fill("12")
    form.get_by_role("button", name="Spara").click()
    expect(form.locator(".status-line")).to_contain_text("inte ett giltigt telefonnummer")
    form.get_by_label("Mobilnummer").fill("070-123 45 67")
    form.get_by_label("Push-avisering (webbläsare och telefon)").uncheck()
    form.get_by_label("Ny version av en lägesbild").check()
    form.get_by_label("Nytt inlägg i loggboken").check()
    form.get_by_label("Valda ytor").check()
    spaces = form.locator(".prefs-space-list input[type=checkbox]")
    expect(spaces.first).to_be_visible()
    spaces.first.check()
    chosen = spaces.first.get_attribute("value")
    form.get_by_label("Håll inne aviseringar under tysta timmar").check()
    form.get_by_label("Från", exact=True).fill("22:00")
    form.get_by_label("Till", exact=True).fill("06:30")
    form.get_by_role("button", name="Spara").click()
    expect(page.locator("form.prefs-form .status-line")).to_contain_text("sparade")

    saved = httpx.get(f"{base}/api/v1/me/notifications", headers=auth).json()
    assert saved["channels"] == ["email", "sms"]
    assert saved["phone"] == "+46701234567" and saved["email"] == "beredskap@nacka.example.se"
    assert saved["events"] == ["entry", "notice", "situation_report", "space_added"]
    assert saved["spaces"] == {"mode": "chosen", "space_ids": [chosen]}
    assert saved["quiet_hours"] == {"from": "22:00", "to": "06:30",
                                    "timezone": page.evaluate(
                                        "Intl.DateTimeFormat().resolvedOptions().timeZone")}
    page.reload()  # the page shows what the server holds
    form = page.locator("form.prefs-form")
    expect(form.get_by_label("Mobilnummer")).to_have_value("+46701234567")
    expect(form.get_by_label("Valda ytor")).to_be_checked()
    expect(form.get_by_label("Från", exact=True)).to_have_value("22:00")
    expect(form.get_by_label("Push-avisering (webbläsare och telefon)")).not_to_be_checked()
    page.get_by_label("Språk").select_option("en")
    expect(page.get_by_role("heading", name="Notifications", exact=True)).to_be_visible()
    page.get_by_label("Language").select_option("sv")
    assert not watch.csp_violations(), watch.errors
    ctx.close()


def test_compose_a_notice_with_the_audience_summary_and_a_confirmation_when_classified(
        browser: Browser, live_server) -> None:  # type: ignore[no-untyped-def]
    base = live_server.base_url
    who = _person(live_server, "tib.lst")
    auth = bearer(api_token(base, who))
    title = unique("Elavbrott")
    space_id = api_space(base, auth, title, participants=[_actor_id(base, auth, "SOLNA"),
                                                          _actor_id(base, auth, "NACKA")],
                         classification="sekretess")
    ctx = new_context(browser, base)
    page = ctx.new_page()
    watch = ConsoleWatch(page)
    login(page, who["username"], who["password"])
    page.goto(f"/#/spaces/{space_id}")
    wait_connected(page)
    folded = page.locator("details.notice-details > summary")
    folded.click()
    form = page.locator("form.post-notice")
    expect(form.locator(".audience-summary")).to_contain_text("LST, NACKA, SOLNA (läsrätt hos 3 av 3)")
    form.get_by_label("Meddelande").fill("Kokvattenrekommendation i Solna")
    form.get_by_role("button", name="Skicka underrättelse").click()
    expect(form.locator(".status-line")).to_contain_text("skickad")
    notice = page.locator("li.entry", has_text="Kokvattenrekommendation i Solna")
    expect(notice).to_contain_text("Informationsunderrättelse")
    expect(notice).to_have_attribute("data-level", "public")

    # sekretess: only for Solna (and the own actor), and asked first; "Avbryt" sends nothing
    form.locator("input[type=radio][value=sekretess]").check()
    form.locator("details.audience-details > summary").click()
    form.locator(".audience li", has_text="Solna stad").locator("input").check()
    expect(form.locator(".audience-summary")).to_contain_text("SOLNA")
    expect(form.locator(".audience-summary")).not_to_contain_text("NACKA")
    form.get_by_label("Meddelande").fill("Hotbild mot vattenverket")
    form.get_by_role("button", name="Skicka underrättelse").click()
    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_contain_text("bara ett meddelande om att det finns ny information")
    dialog.get_by_role("button", name="Avbryt").click()
    expect(dialog).to_have_count(0)
    form.get_by_role("button", name="Skicka underrättelse").click()
    page.locator("dialog.confirm-dialog").get_by_role("button", name="Skicka").click()
    expect(page.locator("li.entry", has_text="Hotbild mot vattenverket")) \
        .to_have_attribute("data-level", "sekretess")

    listed = httpx.get(f"{base}/api/v1/spaces/{space_id}/notices", headers=auth).json()["items"]
    assert [(n["body"], n["classification"]) for n in listed] == [
        ("Kokvattenrekommendation i Solna", "public"), ("Hotbild mot vattenverket", "sekretess")]
    solna = _actor_id(base, auth, "SOLNA")
    assert sorted(listed[1]["audience"]) == sorted([solna, who_actor(base, auth)])
    assert not watch.csp_violations() and not watch.errors, watch.errors
    ctx.close()


def who_actor(base: str, auth: dict[str, str]) -> str:
    return str(httpx.get(f"{base}/api/v1/me", headers=auth).json()["actor"]["id"])
