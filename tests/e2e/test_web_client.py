"""End-to-end tests of the browser client (clients/web) in real headless Chromium against the
running server (fixture `live_server` from tests/e2e/conftest.py: .base_url, .demo)."""
from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import expect

from .web_helpers import (
    ConsoleWatch,
    assert_marked,
    create_space,
    entry,
    login,
    logout,
    new_context,
    no_horizontal_scroll,
    pick,
    post_entry,
    signed_in,
    unique,
    wait_connected,
)

LIVE = 20_000  # ms: live updates arrive by websocket, or by the polling fallback within seconds


@pytest.fixture(scope="module")
def cast(people) -> dict:
    """Writer: an editor cleared for hemlig. Other: a user of another actor cleared only up to
    sekretess. Admin: the other actor's actor administrator."""
    writer = pick(people, role="editor", min_clearance="hemlig", can_create_space=True)
    for me in sorted(people.values(), key=lambda m: m["username"]):
        if me["actor"]["id"] == writer["actor"]["id"] or me["clearance_eff"] != "sekretess":
            continue
        try:
            admin = pick(people, role="actor_admin", actor=me["actor"]["id"])
        except LookupError:
            continue
        return {"writer": writer, "other": me, "admin": admin}
    raise LookupError("demo data lacks a sekretess user of another actor that has an actor admin")


def test_login_wrong_password_then_login_and_logout(browser, live_server, cast):
    ctx = new_context(browser, live_server.base_url)
    page = ctx.new_page()
    watch = ConsoleWatch(page)
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    page.get_by_label("Användarnamn").fill(cast["writer"]["username"])
    page.get_by_label("Lösenord").fill("fel-lösenord-helt-enkelt")
    page.get_by_role("button", name="Logga in").click()
    expect(page.locator("#login-status")).to_contain_text("Fel användarnamn eller lösenord")
    login(page, cast["writer"]["username"], cast["writer"]["password"])
    expect(page.locator(".whoami")).to_contain_text(cast["writer"]["actor"]["short_name"])
    wait_connected(page)
    # a reload resumes the session from the HttpOnly refresh cookie (access token was memory only)
    page.reload()
    expect(page.get_by_role("heading", name="Mina ytor")).to_be_visible()
    storage = page.evaluate("({ls: JSON.stringify(localStorage), ss: JSON.stringify(sessionStorage), cookie: document.cookie})")
    assert "eyJ" not in storage["ls"] + storage["ss"] + storage["cookie"], "a token leaked into browser storage"
    assert "wis_refresh" not in storage["cookie"], "refresh cookie must be HttpOnly"
    logout(page)
    page.reload()
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    assert watch.csp_violations() == []
    ctx.close()


def test_english_can_be_selected(browser, live_server, cast):
    ctx = new_context(browser, live_server.base_url)
    page = ctx.new_page()
    page.goto("/")
    page.locator("#lang-select").select_option("en")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(cast["writer"]["username"])
    page.get_by_label("Password").fill(cast["writer"]["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My spaces")).to_be_visible()
    page.locator("#lang-select").select_option("sv")
    expect(page.get_by_role("heading", name="Mina ytor")).to_be_visible()
    ctx.close()


def test_space_levels_live_visibility_marking_and_escaping(browser, live_server, cast):
    writer, other = cast["writer"], cast["other"]
    a_ctx = new_context(browser, live_server.base_url)
    a = a_ctx.new_page()
    a_watch = ConsoleWatch(a)
    login(a, writer["username"], writer["password"])
    title = unique("Skyfall Uppsala")
    space_id = create_space(a, title, participants=[other["actor"]["name"]], classification="hemlig",
                            description="Skyfall med översvämmade vägar.")
    expect(a.locator("#level-banner")).to_be_hidden()

    b_ctx = new_context(browser, live_server.base_url)
    b = b_ctx.new_page()
    b_watch = ConsoleWatch(b)
    login(b, other["username"], other["password"])
    expect(b.locator(f"li.space-item[data-space-id='{space_id}']")).to_be_visible()
    b.goto(f"/#/spaces/{space_id}")
    expect(b.get_by_role("heading", level=1)).to_contain_text(title)
    wait_connected(b)
    wait_connected(a)

    public = unique("Öppet: vägar avstängda")
    sek_own = unique("Sekretess bara egen aktör")
    sek_shared = unique("Sekretess delad med kommunen")
    hemlig = unique("Hemlig: skyddsobjekt påverkat")
    xss = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script><b>fet</b>'

    post_entry(a, public, level="public")
    post_entry(a, sek_own, level="sekretess", kind_label="Beslut")
    post_entry(a, sek_shared, level="sekretess", kind_label="Behov",
               audience=[writer["actor"]["name"], other["actor"]["name"]])
    post_entry(a, hemlig, level="hemlig", kind_label="Åtgärd",
               audience=[writer["actor"]["name"], other["actor"]["name"]])
    post_entry(a, xss, level="public", kind_label="Inkommande")

    # the author sees everything, each marked, and the header shows HEMLIG
    for body in (public, sek_own, sek_shared, hemlig):
        expect(entry(a, body)).to_have_count(1)
    expect(entry(a, sek_own)).to_contain_text("läsrätt hos 1 av 2")
    expect(entry(a, public)).to_contain_text("läsrätt hos 2 av 2")
    expect(a.locator("#level-banner")).to_have_attribute("data-level", "hemlig")
    expect(a.locator("#level-banner")).to_contain_text("HEMLIG")
    assert_marked(a)

    # the other actor got what it may read, live, without reload …
    expect(entry(b, public)).to_be_visible(timeout=LIVE)
    expect(entry(b, sek_shared)).to_be_visible(timeout=LIVE)
    expect(b.locator("li.entry", has_text="fet")).to_be_visible(timeout=LIVE)
    # … and nothing else (sekretess not shared with it; hemlig above its clearance)
    time.sleep(1)
    expect(entry(b, sek_own)).to_have_count(0)
    expect(entry(b, hemlig)).to_have_count(0)
    assert_marked(b)
    expect(entry(b, sek_shared).locator(".lvl-sekretess")).to_contain_text("SEKRETESS")
    expect(entry(b, public).locator(".lvl-public")).to_contain_text("ÖPPEN")
    expect(b.locator("#level-banner")).to_have_attribute("data-level", "sekretess")

    # the HTML/script payload is text, not markup
    for page in (a, b):
        body = page.locator("li.entry", has_text="fet").locator(".entry-body")
        expect(body).to_have_text(xss)
        assert body.locator("img, script, b").count() == 0
        assert page.evaluate("window.__xss") is None
    assert a_watch.csp_violations() == [] and b_watch.csp_violations() == []
    a_ctx.close()
    b_ctx.close()


def test_dropped_connection_resumes_with_missed_entries(browser, live_server, cast):
    writer, other = cast["writer"], cast["other"]
    a_ctx, a = signed_in(browser, live_server.base_url, writer)
    space_id = create_space(a, unique("Elavbrott Norrtälje"), participants=[other["actor"]["name"]])
    b_ctx, b = signed_in(browser, live_server.base_url, other)
    b.goto(f"/#/spaces/{space_id}")
    wait_connected(b)
    before = unique("Före avbrottet")
    post_entry(a, before)
    expect(entry(b, before)).to_be_visible(timeout=LIVE)

    b_ctx.set_offline(True)
    expect(b.locator("#conn")).to_have_attribute("data-state", re.compile("offline|reconnecting"), timeout=LIVE)
    expect(b.locator("#conn")).to_contain_text(re.compile("Ingen anslutning|Återansluter"))
    expect(b.locator("#stale-banner")).to_be_visible()
    expect(b.locator("#stale-banner")).to_contain_text("inaktuell")
    missed = [unique("Missat 1"), unique("Missat 2")]
    for body in missed:
        post_entry(a, body)
    time.sleep(1)
    expect(entry(b, missed[0])).to_have_count(0)
    expect(entry(b, before)).to_be_visible()  # the last view stays on screen, marked stale

    b_ctx.set_offline(False)
    for body in missed:
        expect(entry(b, body)).to_be_visible(timeout=LIVE)
    wait_connected(b)
    expect(b.locator("#stale-banner")).to_be_hidden()
    expect(b.locator("li.entry", has_text="Missat 1")).to_have_count(1)  # no duplicates
    after = unique("Efter återanslutning")
    post_entry(a, after)
    expect(entry(b, after)).to_be_visible(timeout=LIVE)
    a_ctx.close()
    b_ctx.close()


def test_actor_admin_creates_user_who_can_log_in(browser, live_server, cast):
    admin = cast["admin"]
    ctx, page = signed_in(browser, live_server.base_url, admin)
    page.get_by_role("link", name="Administration").click()
    expect(page.get_by_role("heading", name="Administration")).to_be_visible()
    expect(page.locator("#actors-title")).to_have_count(0)  # actor admins do not manage actors
    username = f"ny.{uuid.uuid4().hex[:6]}"
    password = "ett-langt-losenord-" + uuid.uuid4().hex[:6]
    form = page.locator("form.new-user")
    form.get_by_role("textbox", name="Användarnamn").fill(username)
    form.get_by_role("textbox", name="Namn", exact=True).fill("Nina Nyberg")
    form.get_by_role("textbox", name="Lösenord").fill("kort")
    form.get_by_role("button", name="Skapa").click()
    expect(form).to_contain_text("Minst 12 tecken")
    form.get_by_role("textbox", name="Lösenord").fill(password)
    form.get_by_label("Roll").select_option("reader")
    form.get_by_role("button", name="Skapa").click()
    row = page.locator(f"li.user-row[data-username='{username}']")
    expect(row).to_be_visible()
    expect(row).to_contain_text("Nina Nyberg")
    logout(page)
    login(page, username, password)
    expect(page.locator(".whoami")).to_contain_text(admin["actor"]["short_name"])
    expect(page.get_by_role("link", name="Administration")).to_have_count(0)  # no controls it may not use
    expect(page.locator("#create-space-link")).to_have_count(0)
    ctx.close()


def test_situation_report_versions_and_diff(browser, live_server, cast):
    writer = cast["writer"]
    ctx, page = signed_in(browser, live_server.base_url, writer)
    space_id = create_space(page, unique("Skogsbrand Rimbo"), participants=[cast["other"]["actor"]["name"]])
    page.goto(f"/#/spaces/{space_id}/report")
    expect(page.get_by_text("Ingen lägesbild publicerad ännu.")).to_be_visible()
    page.get_by_role("button", name="Ny version").click()
    editor = page.locator("form.report-editor")
    editor.locator("textarea[data-key=event]").fill("Skogsbrand norr om Rimbo.")
    editor.locator("textarea[data-key=current_situation]").fill("Branden omfattar 40 ha.")
    editor.locator("fieldset[data-key=needs] input[type=radio][value=sekretess]").check()
    editor.locator("textarea[data-key=needs]").fill("Två helikoptrar.")
    editor.get_by_role("button", name="Publicera lägesbild").click()
    expect(page.locator(".report-section")).to_have_count(3)
    assert_marked(page)
    page.get_by_role("button", name="Ny version").click()
    editor = page.locator("form.report-editor")
    expect(editor.locator("textarea[data-key=needs]")).to_have_value("Två helikoptrar.")
    editor.locator("textarea[data-key=current_situation]").fill("Branden omfattar 120 ha.")
    editor.get_by_role("button", name="Publicera lägesbild").click()
    expect(page.locator("#report-version")).to_have_value("2")
    page.locator("#report-compare").select_option("1")
    diff = page.locator(".report-diff")
    expect(diff).to_contain_text("Ändringar från version 1 till 2")
    expect(diff.locator("section[data-key=current_situation] del")).to_contain_text("40")
    expect(diff.locator("section[data-key=current_situation] ins")).to_contain_text("120")
    expect(diff.locator("section[data-key=event]")).to_contain_text("Oförändrad")
    ctx.close()


@pytest.mark.parametrize("view", ["spaces", "space", "report", "admin", "login"])
def test_works_at_360px(browser, live_server, cast, view):
    ctx = new_context(browser, live_server.base_url, width=360, height=740)
    page = ctx.new_page()
    user = cast["admin"] if view == "admin" else cast["writer"]
    if view != "login":
        login(page, user["username"], user["password"])
    if view in ("space", "report"):
        page.locator("a.space-link").first.click()
        expect(page.locator("li.entry, li.empty").first).to_be_visible()
        if view == "report":
            page.get_by_role("link", name="Lägesbild").click()
            expect(page.locator(".report-body")).to_be_visible()
    elif view == "admin":
        page.get_by_role("link", name="Administration").click()
        expect(page.locator("form.new-user")).to_be_visible()
    elif view == "login":
        page.goto("/")
        expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    assert no_horizontal_scroll(page), f"horizontal scroll at 360 px in {view}"
    ctx.close()


def test_keyboard_only_login_and_visible_focus(browser, live_server, cast):
    ctx = new_context(browser, live_server.base_url)
    page = ctx.new_page()
    page.goto("/")
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    page.get_by_label("Användarnamn").focus()
    page.keyboard.type(cast["writer"]["username"])
    page.keyboard.press("Tab")
    page.keyboard.type(cast["writer"]["password"])
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "focused control has no visible focus indicator"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Mina ytor")).to_be_visible()
    # every form control on the page has an accessible label
    unlabeled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(el => el.type !== 'hidden' && !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
        .map(el => el.outerHTML)""")
    assert unlabeled == []
    ctx.close()


def test_app_shell_opens_offline_without_content(browser, live_server, cast):
    ctx, page = signed_in(browser, live_server.base_url, cast["writer"])
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null || (navigator.serviceWorker && navigator.serviceWorker.ready.then(() => true))")
    page.evaluate("navigator.serviceWorker.ready")
    page.reload()  # now controlled by the service worker
    expect(page.get_by_role("heading", name="Mina ytor")).to_be_visible()
    cached = page.evaluate("""async () => {
        const out = [];
        for (const name of await caches.keys()) {
            const c = await caches.open(name);
            for (const r of await c.keys()) out.push(new URL(r.url).pathname);
        }
        return out;
    }""")
    assert cached and not [p for p in cached if p.startswith("/api/")], cached
    ctx.set_offline(True)
    page.reload()
    expect(page.locator(".offline-view")).to_contain_text("Ingen anslutning – visar ingen sekretessbelagd data")
    ctx.set_offline(False)
    ctx.close()


CONTRAST_JS = """() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(Number); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const lum = ({ r, g, b }) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bgOf = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0.5) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
  const out = [];
  const sel = '.lvl-text, .exercise-tag, .btn, .hint, .entry-body, .entry-foot span, .entry-kind, .entry-time, '
    + '.conn-state, .level-banner-label, .tag, .space-activity, .space-link, .exercise-banner, h1, h2, label, legend, a';
  for (const el of document.querySelectorAll(sel)) {
    if (!el.offsetParent && getComputedStyle(el).position !== 'fixed') continue;
    if (el.closest('.sr-only')) continue;
    const fg = parse(getComputedStyle(el).color); const bg = bgOf(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) out.push(`${el.className || el.tagName} "${el.textContent.slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return out;
}"""


def test_text_contrast_meets_wcag_aa(browser, live_server, cast):
    """Every visible text element on the main views has a contrast ratio of at least 4.5:1."""
    ctx = new_context(browser, live_server.base_url)
    page = ctx.new_page()
    page.goto("/")
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    assert page.evaluate(CONTRAST_JS) == []
    login(page, cast["writer"]["username"], cast["writer"]["password"])
    assert page.evaluate(CONTRAST_JS) == []
    page.locator("li.space-item.is-exercise a.space-link, a.space-link").first.click()
    expect(page.locator("li.entry, li.empty").first).to_be_visible()
    page.wait_for_timeout(8500)  # let the "new" highlight fade
    assert page.evaluate(CONTRAST_JS) == []
    page.get_by_role("link", name="Lägesbild").click()
    expect(page.locator(".report-body")).to_be_visible()
    assert page.evaluate(CONTRAST_JS) == []
    ctx.close()


def test_system_admin_manages_actors(browser, live_server, people):
    sysadmin = pick(people, role="system_admin")
    ctx, page = signed_in(browser, live_server.base_url, sysadmin)
    page.get_by_role("link", name="Administration").click()
    expect(page.locator("#actors-title")).to_be_visible()
    name = unique("Frivilliga resursgruppen Täby")
    form = page.locator("form.new-actor")
    form.locator("input[name=new-actor-name]").fill(name)
    form.locator("input[name=new-actor-short]").fill("FRG-" + name[-6:])
    form.get_by_label("Högsta informationsklass (tak)").select_option("sekretess")
    form.get_by_role("button", name="Skapa").click()
    expect(form).to_contain_text(f"Aktören {name} är skapad.")
    row = page.locator("form.actor-row", has_text=name)
    expect(row).to_be_visible()
    expect(row.locator("[data-choice=sekretess]")).to_be_visible()
    ctx.close()


def test_editor_adds_a_participating_actor(browser, live_server, cast):
    writer, other = cast["writer"], cast["other"]
    ctx, page = signed_in(browser, live_server.base_url, writer)
    title = unique("Vattenläcka Solna")
    space_id = create_space(page, title, participants=[])
    expect(page.locator(".space-participants")).not_to_contain_text(other["actor"]["short_name"])
    page.locator("details.participants-details > summary").click()
    page.locator("form.participants-form").get_by_label(other["actor"]["name"], exact=True).check()
    page.locator("form.participants-form").get_by_role("button", name="Spara").click()
    expect(page.locator(".space-participants")).to_contain_text(other["actor"]["short_name"])
    b_ctx, b = signed_in(browser, live_server.base_url, other)
    expect(b.locator(f"li.space-item[data-space-id='{space_id}']")).to_contain_text(title)
    b_ctx.close()
    ctx.close()


def test_two_tabs_resuming_at_once_keep_the_session(browser, live_server, cast):
    """Both tabs refresh through the same rotating cookie; the client serialises them (a reused
    refresh token would end the session for both)."""
    ctx, first = signed_in(browser, live_server.base_url, cast["writer"])
    second = ctx.new_page()
    second.goto("/")
    expect(second.get_by_role("heading", name="Mina ytor")).to_be_visible()
    for _ in range(3):
        first.evaluate("setTimeout(() => location.reload(), 0)")
        second.evaluate("setTimeout(() => location.reload(), 0)")
        first.wait_for_timeout(300)
        for page in (first, second):
            expect(page.get_by_role("heading", name="Mina ytor")).to_be_visible()
    third = ctx.new_page()
    third.goto("/")
    expect(third.get_by_role("heading", name="Mina ytor")).to_be_visible()
    ctx.close()


def test_author_widens_read_right_and_reader_gets_it_live(browser, live_server, cast):
    writer, other = cast["writer"], cast["other"]
    a_ctx, a = signed_in(browser, live_server.base_url, writer)
    space_id = create_space(a, unique("Gasläcka Kista"), participants=[other["actor"]["name"]])
    body = unique("Sekretess: utrymning av kvarter")
    post_entry(a, body, level="sekretess")
    expect(entry(a, body)).to_contain_text("läsrätt hos 1 av 2")
    b_ctx, b = signed_in(browser, live_server.base_url, other)
    b.goto(f"/#/spaces/{space_id}")
    wait_connected(b)
    expect(entry(b, body)).to_have_count(0)
    item = entry(a, body)
    item.locator("details.entry-audience-edit > summary").click()
    item.locator(".audience li", has_text=other["actor"]["name"]).locator("input").check()
    item.get_by_role("button", name="Spara").click()
    expect(entry(a, body)).to_contain_text("läsrätt hos 2 av 2")
    expect(entry(b, body)).to_be_visible(timeout=LIVE)
    expect(entry(b, body).locator(".lvl-sekretess")).to_be_visible()
    a_ctx.close()
    b_ctx.close()
