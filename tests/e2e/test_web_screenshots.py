"""Screenshots of the web client's main views (shown in clients/web/README.md).
Runs against the live demo server and checks each view renders without CSP violations. The
images go to a temporary directory; with WIS_UPDATE_SCREENSHOTS=1 they replace
docs/screenshots/*.png (so an ordinary test run leaves the working tree clean)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .web_helpers import (
    ConsoleWatch,
    chromium,
    create_space,
    demo_people,
    login,
    new_context,
    pick,
    post_entry,
    wait_connected,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _exercise_space_id(page) -> str:
    link = page.locator("li.space-item.is-exercise a.space-link").first
    expect(link).to_be_visible()
    return link.get_attribute("href").rsplit("/", 1)[-1]


def test_screenshots(browser, live_server, tmp_path):
    OUT = DOCS if os.environ.get("WIS_UPDATE_SCREENSHOTS") == "1" else tmp_path
    OUT.mkdir(parents=True, exist_ok=True)
    people = demo_people(live_server.base_url, live_server.demo)
    writer = pick(people, role="editor", min_clearance="hemlig", can_create_space=True)
    other = pick(people, not_actor=writer["actor"]["id"], max_clearance="sekretess", min_clearance="sekretess")
    admin = pick(people, role="actor_admin", not_actor=writer["actor"]["id"])

    ctx = new_context(browser, live_server.base_url, width=1280, height=900)
    page = ctx.new_page()
    watch = ConsoleWatch(page)
    page.goto("/")
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    page.screenshot(path=OUT / "login.png")

    login(page, writer["username"], writer["password"])
    wait_connected(page)
    page.screenshot(path=OUT / "spaces.png", full_page=True)

    space_id = _exercise_space_id(page)
    page.goto(f"/#/spaces/{space_id}")
    expect(page.locator("li.entry").first).to_be_visible()
    page.screenshot(path=OUT / "space-log.png", full_page=True)

    page.goto(f"/#/spaces/{space_id}/report")
    expect(page.locator(".report-body")).to_be_visible()
    page.wait_for_timeout(300)
    page.screenshot(path=OUT / "report.png", full_page=True)

    # two versions of a report in a fresh space, to show "what changed"
    sid = create_space(page, "Skogsbrand Rimbo", participants=[other["actor"]["name"]],
                       description="Skogsbrand norr om Rimbo, Norrtälje kommun.")
    post_entry(page, "Räddningstjänsten på plats med sex enheter.", level="public", kind_label="Åtgärd")
    # the audience summary beside "Publicera": a SEKRETESS entry about to go to two named actors
    form = page.locator("form.post-entry")
    form.locator("input[type=radio][value=sekretess]").check()
    form.locator("details.audience-details > summary").click()
    form.locator(".audience li", has_text=other["actor"]["name"]).locator("input").check()
    form.get_by_label("Text").fill("Behov av reservvatten för evakuerade i Rimbo skola.")
    expect(form.locator(".audience-summary .audience-name")).to_have_count(2)
    form.screenshot(path=OUT / "audience-summary.png")
    form.get_by_label("Text").fill("")
    # a destructive act asks first
    page.locator("#toggle-status").click()
    expect(page.locator("dialog.confirm-dialog")).to_be_visible()
    page.screenshot(path=OUT / "confirm-close-space.png")
    page.locator("dialog.confirm-dialog").get_by_role("button", name="Avbryt").click()
    page.goto(f"/#/spaces/{sid}/report")
    for version, (situation, forecast) in enumerate([
        ("Branden omfattar 40 ha. Räddningstjänsten på plats.", ""),
        ("Branden omfattar 120 ha. Räddningstjänsten och Försvarsmakten på plats.", "Vinden ökar under natten."),
    ], start=1):
        page.get_by_role("button", name="Ny version").click()
        editor = page.locator("form.report-editor")
        editor.locator("textarea[data-key=event]").fill("Skogsbrand utbröt 14.05 norr om Rimbo.")
        editor.locator("textarea[data-key=current_situation]").fill(situation)
        editor.locator("fieldset[data-key=needs] input[type=radio][value=sekretess]").check()
        editor.locator("textarea[data-key=needs]").fill("Två helikoptrar med vattenbombning.")
        editor.locator("textarea[data-key=forecast]").fill(forecast)
        if version == 2:
            page.screenshot(path=OUT / "report-editor.png", full_page=True)
        editor.get_by_role("button", name="Publicera lägesbild").click()
        expect(page.locator("#report-version")).to_have_value(str(version))
    page.locator("#report-compare").select_option("1")
    expect(page.locator(".report-diff")).to_be_visible()
    page.screenshot(path=OUT / "report-diff.png", full_page=True)
    assert watch.csp_violations() == []
    ctx.close()

    # the other actor's view of the same exercise: less content, lower level in the header
    ctx = new_context(browser, live_server.base_url, width=1280, height=900)
    page = ctx.new_page()
    login(page, other["username"], other["password"])
    page.goto(f"/#/spaces/{space_id}")
    expect(page.locator("li.entry").first).to_be_visible()
    page.screenshot(path=OUT / "space-log-other-actor.png", full_page=True)
    ctx.close()

    # phone
    ctx = new_context(browser, live_server.base_url, width=360, height=760)
    page = ctx.new_page()
    login(page, writer["username"], writer["password"])
    page.screenshot(path=OUT / "mobile-spaces.png", full_page=True)
    page.goto(f"/#/spaces/{space_id}")
    expect(page.locator("li.entry").first).to_be_visible()
    wait_connected(page)
    page.screenshot(path=OUT / "mobile-space.png", full_page=True)
    ctx.set_offline(True)
    expect(page.locator("#stale-banner")).to_be_visible(timeout=20_000)
    page.screenshot(path=OUT / "mobile-offline-stale.png")
    ctx.set_offline(False)
    ctx.close()

    # administration
    ctx = new_context(browser, live_server.base_url, width=1280, height=900)
    page = ctx.new_page()
    login(page, admin["username"], admin["password"])
    page.get_by_role("link", name="Administration").click()
    expect(page.locator("li.user-row").first).to_be_visible()
    page.screenshot(path=OUT / "admin.png", full_page=True)
    ctx.close()

    for name in ("login", "spaces", "space-log", "report", "report-diff", "admin", "mobile-space",
                 "audience-summary", "confirm-close-space"):
        assert (OUT / f"{name}.png").stat().st_size > 5_000
    assert re.match(r"^[0-9a-f-]{36}$", space_id)
