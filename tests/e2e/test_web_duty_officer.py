"""What a duty officer found (issue 8), in real Chromium against the running demo server: read
rights that stuck to the next entry, tabs left signed in as someone else, views broken for good by
navigating offline, a post form left on a closed space, one-click destructive acts, lost drafts,
throttling without a wait, and a phone header that pushed the log below the fold."""
from __future__ import annotations

import json
import re
import time
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from .web_helpers import (
    ConsoleWatch,
    api_space,
    api_token,
    bearer,
    create_space,
    entry,
    login,
    new_context,
    pick,
    post_entry,
    signed_in,
    unique,
    wait_connected,
)

LIVE = 20_000


@pytest.fixture(scope="module")
def cast(people) -> dict:
    writer = pick(people, role="editor", min_clearance="hemlig", can_create_space=True)
    other = pick(people, not_actor=writer["actor"]["id"], min_clearance="sekretess")
    return {"writer": writer, "other": other}


def open_form(page) -> None:
    folded = page.locator("details.post-details:not([open]) > summary")
    if folded.count():
        folded.click()


def test_chosen_readers_do_not_stick_to_the_next_entry(browser, live_server, cast):
    """Item 1: after a post the form is back at the level's default audience, and the readers are
    named beside the publish button before it is pressed."""
    writer, other = cast["writer"], cast["other"]
    ctx, page = signed_in(browser, live_server.base_url, writer)
    create_space(page, unique("Vattenbrist Tyresö"), participants=[other["actor"]["name"]])
    form = page.locator("form.post-entry")
    summary = form.locator(".publish-row .audience-summary")
    own_short, other_short = writer["actor"]["short_name"], other["actor"]["short_name"]

    shared = unique("Sekretess till båda")
    post_entry(page, shared, level="sekretess", audience=[writer["actor"]["name"], other["actor"]["name"]])
    expect(entry(page, shared)).to_contain_text("läsrätt hos 2 av 2")

    # nothing touched but the text: the next entry goes to the own actor only …
    nxt = unique("Nästa, inget rört")
    form.get_by_label("Text").fill(nxt)
    form.get_by_role("button", name="Publicera").click()
    expect(entry(page, nxt)).to_contain_text("läsrätt hos 1 av 2")
    # … and the form says so, by name, beside the button, before the next press
    expect(summary).to_be_visible()
    expect(summary).to_contain_text(own_short)
    expect(summary.locator(".audience-name")).to_have_count(1)
    expect(summary).not_to_contain_text(other_short)

    # öppen: the summary names every participating actor
    form.locator("input[type=radio][value=public]").check()
    expect(summary.locator(".audience-name")).to_have_count(2)
    expect(summary).to_contain_text(other_short)

    # item 7: a refused change of read right leaves the picker at the server's value, in Swedish
    page.route(re.compile(r".*/entries/[^/?]+$"), lambda route: route.fulfill(
        status=403, content_type="application/problem+json",
        body='{"type":"x","title":"Forbidden","status":403,"detail":"the space is closed","code":"space_closed"}'))
    item = entry(page, nxt)
    item.locator("details.entry-audience-edit > summary").click()
    box = item.locator(".audience li", has_text=other["actor"]["name"]).locator("input")
    box.check()
    item.get_by_role("button", name="Spara").click()
    expect(item.locator(".audience-change .status-line")).to_have_text("Ytan är avslutad.")
    expect(box).not_to_be_checked()
    expect(item.locator(".audience-change .audience-count")).to_have_text("läsrätt hos 1 av 2")
    ctx.close()


def test_signing_out_in_one_tab_signs_out_every_tab(browser, live_server, cast):
    """Item 4: tab A shows a HEMLIG entry; tab B signs out: A is cleared at once. B signs in as
    someone else: A never shows or acts for them under the old name."""
    writer, other = cast["writer"], cast["other"]
    ctx, a = signed_in(browser, live_server.base_url, writer)
    create_space(a, unique("Skyddsobjekt Kista"), participants=[other["actor"]["name"]])
    secret = unique("Hemlig: bevakning förstärkt")
    post_entry(a, secret, level="hemlig")
    b = ctx.new_page()
    b.goto("/")
    expect(b.get_by_role("heading", name="Mina ytor")).to_be_visible()
    b.get_by_role("button", name="Logga ut").click()
    expect(b.get_by_role("heading", name="Logga in")).to_be_visible()

    expect(a.get_by_role("heading", name="Logga in")).to_be_visible(timeout=5_000)
    expect(entry(a, secret)).to_have_count(0)
    expect(a.locator("form.post-entry")).to_have_count(0)
    expect(a.locator(".whoami")).to_have_count(0)
    expect(a.locator("#level-banner")).to_be_hidden()

    login(b, other["username"], other["password"])
    # A follows the browser's new user (or stays signed out) but never names the old one
    expect(a.locator(".whoami")).to_contain_text(other["actor"]["short_name"], timeout=10_000)
    expect(a.get_by_role("heading", name="Mina ytor")).to_be_visible()
    ctx.close()


def test_a_refresh_for_another_user_restarts_the_tab(browser, live_server, cast):
    """Item 4, without any signal between tabs: the session cookie was replaced behind the tab's
    back (signed in as someone else elsewhere); the tab's next token refresh comes back for
    another user id, so it drops its view and starts again as that user."""
    writer, other = cast["writer"], cast["other"]
    ctx, a = signed_in(browser, live_server.base_url, writer)
    space_id = create_space(a, unique("Elavbrott Täby"), participants=[other["actor"]["name"]])
    secret = unique("Hemlig: reservkraft")
    post_entry(a, secret, level="hemlig")
    # sign in as the other user through the raw API in a second tab (no client code runs there)
    b = ctx.new_page()
    b.goto("/manifest.webmanifest")
    status = b.evaluate("""async (creds) => (await fetch('/api/v1/auth/session', {method: 'POST',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify(creds)})).status""",
                        {"username": other["username"], "password": other["password"]})
    assert status == 200
    b.close()
    # the tab's scheduled refresh, brought forward
    a.evaluate("import('/js/api.js').then((m) => m.refresh()).catch(() => null)")
    expect(entry(a, secret)).to_have_count(0, timeout=10_000)
    expect(a.locator(".whoami")).to_contain_text(other["actor"]["short_name"], timeout=10_000)
    expect(a.locator(".whoami")).not_to_contain_text(writer["actor"]["short_name"])
    assert space_id
    ctx.close()


def test_navigating_offline_recovers_by_itself(browser, live_server, cast):
    """Item 5: offline, open Lägesbild, go back, come online: the view comes back by itself
    (log, ÖVNING banner), and offered "Försök igen" while it could not load."""
    writer = cast["writer"]
    ctx, page = signed_in(browser, live_server.base_url, writer)
    link = page.locator("li.space-item.is-exercise a.space-link").first
    link.click()
    expect(page.locator("li.entry").first).to_be_visible()
    expect(page.locator("#exercise-banner")).to_be_visible()
    wait_connected(page)
    ctx.set_offline(True)
    expect(page.locator("#conn")).to_have_attribute("data-state", re.compile("offline|reconnecting"), timeout=LIVE)
    page.get_by_role("link", name="Lägesbild").click()
    expect(page.get_by_role("button", name="Försök igen")).to_be_visible()
    page.go_back()
    expect(page.get_by_role("button", name="Försök igen")).to_be_visible()
    expect(page.locator("li.entry")).to_have_count(0)
    ctx.set_offline(False)
    expect(page.locator("li.entry").first).to_be_visible(timeout=LIVE)
    expect(page.locator("#exercise-banner")).to_be_visible()
    expect(page.locator(".view-failed")).to_have_count(0)
    wait_connected(page)
    ctx.close()


def test_space_closed_by_someone_else_removes_the_form_live(browser, live_server, cast):
    """Item 8: the space is closed elsewhere; the open post form disappears with "Ytan är avslutad"."""
    writer, other = cast["writer"], cast["other"]
    ctx, page = signed_in(browser, live_server.base_url, writer)
    space_id = create_space(page, unique("Storm Gotland"), participants=[other["actor"]["name"]])
    wait_connected(page)
    open_form(page)
    page.locator("form.post-entry").get_by_label("Text").fill("Halvskrivet inlägg")
    expect(page.locator("form.post-entry")).to_be_visible()
    token = api_token(live_server.base_url, writer)
    r = httpx.patch(f"{live_server.base_url}/api/v1/spaces/{space_id}", json={"status": "closed"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    expect(page.locator(".space-closed-notice")).to_contain_text("Ytan är avslutad", timeout=LIVE)
    expect(page.locator("form.post-entry")).to_have_count(0)
    ctx.close()


def test_closing_a_space_asks_first_and_looks_destructive(browser, live_server, cast):
    """Item 9: "Avsluta ytan" is styled as destructive and asks in a dialog; cancelling keeps it open."""
    writer, other = cast["writer"], cast["other"]
    ctx = new_context(browser, live_server.base_url)
    page = ctx.new_page()
    watch = ConsoleWatch(page)
    login(page, writer["username"], writer["password"])
    create_space(page, unique("Översvämning Kiruna"), participants=[other["actor"]["name"]])
    button = page.locator("#toggle-status")
    expect(button).to_have_class(re.compile("btn-danger"))
    button.click()
    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Avsluta ytan")
    dialog.get_by_role("button", name="Avbryt").click()
    expect(dialog).to_have_count(0)
    expect(page.locator(".space-meta .status-open")).to_be_visible()
    button.click()
    page.locator("dialog.confirm-dialog").get_by_role("button", name="Avsluta ytan").click()
    expect(page.locator(".space-meta .status-closed")).to_be_visible()
    expect(page.locator(".space-closed-notice")).to_contain_text("Ytan är avslutad")
    assert watch.csp_violations() == []
    ctx.close()


def test_admin_own_row_has_no_controls_and_changes_need_save(browser, live_server, people):
    """Items 7 and 9: no control on one's own row; role changes wait for "Spara"; disabling asks;
    after a refusal the controls show the server's value."""
    admin = pick(people, role="actor_admin")
    ctx, page = signed_in(browser, live_server.base_url, admin)
    page.get_by_role("link", name="Administration").click()
    own = page.locator(f"li.user-row[data-username='{admin['username']}']")
    expect(own).to_be_visible()
    expect(own.locator("select, button")).to_have_count(0)
    # a fresh user to change
    username = f"vakt.{uuid.uuid4().hex[:6]}"
    form = page.locator("form.new-user")
    form.get_by_role("textbox", name="Användarnamn").fill(username)
    form.get_by_role("textbox", name="Namn", exact=True).fill("Vera Vakt")
    form.get_by_role("textbox", name="Lösenord").fill("ett-langt-losenord-" + uuid.uuid4().hex[:6])
    form.get_by_role("button", name="Skapa").click()
    row = page.locator(f"li.user-row[data-username='{username}']")
    expect(row).to_be_visible()
    row.get_by_label("Roll").select_option("editor")
    expect(row.locator(".unsaved")).to_be_visible()
    page.reload()  # not saved on change
    row = page.locator(f"li.user-row[data-username='{username}']")
    expect(row.get_by_label("Roll")).to_have_value("reader")
    row.get_by_label("Roll").select_option("editor")
    row.get_by_role("button", name="Spara").click()
    expect(row.get_by_label("Roll")).to_have_value("editor")
    expect(row).to_contain_text("Sparat")
    page.reload()
    row = page.locator(f"li.user-row[data-username='{username}']")
    expect(row.get_by_label("Roll")).to_have_value("editor")
    # a refusal: the server rejects the change (route answers 403 self_change) — the control reverts
    page.route(re.compile(r".*/api/v1/users/[^/]+$"), lambda route: route.fulfill(
        status=403, content_type="application/problem+json",
        body='{"type":"x","title":"Forbidden","status":403,"detail":"you cannot","code":"self_change"}'))
    row.get_by_label("Roll").select_option("reader")
    row.get_by_role("button", name="Spara").click()
    expect(row).to_contain_text("Du kan inte inaktivera dig själv")
    expect(row.get_by_label("Roll")).to_have_value("editor")
    page.unroute(re.compile(r".*/api/v1/users/[^/]+$"))
    row.get_by_role("button", name="Inaktivera").click()
    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_contain_text("Vera Vakt")
    dialog.get_by_role("button", name="Inaktivera").click()
    expect(page.locator(f"li.user-row[data-username='{username}']")).to_contain_text("Inaktiverad")
    ctx.close()


def test_drafts_survive_moving_to_the_report_and_back(browser, live_server, cast):
    """Item 11: an unsent draft is kept per space in memory (and nothing lands in browser storage)."""
    writer, other = cast["writer"], cast["other"]
    ctx, page = signed_in(browser, live_server.base_url, writer)
    space_id = create_space(page, unique("Dricksvatten Uppsala"), participants=[other["actor"]["name"]])
    open_form(page)
    form = page.locator("form.post-entry")
    text = unique("Sekretess: utkast om vattentäkt")
    form.locator("input[type=radio][value=sekretess]").check()
    form.get_by_label("Text").fill(text)
    page.get_by_role("link", name="Lägesbild").click()
    expect(page.locator(".report-body")).to_be_visible()
    page.goto(f"/#/spaces/{space_id}")
    form = page.locator("form.post-entry")
    expect(form.get_by_label("Text")).to_have_value(text)
    expect(form.locator("input[type=radio][value=sekretess]")).to_be_checked()
    # the same for a situation report being written
    page.get_by_role("link", name="Lägesbild").click()
    page.get_by_role("button", name="Ny version").click()
    page.locator("form.report-editor textarea[data-key=needs]").fill("Utkast: nödvatten till vattentäkt 2")
    # each section names its readers too (item 1 for the lägesbild)
    expect(page.locator("form.report-editor fieldset[data-key=needs] .audience-summary")).to_contain_text(writer["actor"]["short_name"])
    page.locator("p.breadcrumb a").click()
    expect(page.locator("form.post-entry").get_by_label("Text")).to_have_value(text)
    page.get_by_role("link", name="Lägesbild").click()
    expect(page.locator("form.report-editor textarea[data-key=needs]")).to_have_value("Utkast: nödvatten till vattentäkt 2")
    stored = page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
    assert "vattentäkt" not in stored
    page.goto(f"/#/spaces/{space_id}")
    logout_button = page.get_by_role("button", name="Logga ut")
    logout_button.click()
    login(page, writer["username"], writer["password"])
    page.goto(f"/#/spaces/{space_id}")
    open_form(page)
    expect(page.locator("form.post-entry").get_by_label("Text")).to_have_value("")
    ctx.close()


def test_throttled_sign_in_says_how_long_to_wait(browser, live_server):
    """Item 15: the server's Retry-After is shown."""
    name = f"okand.{uuid.uuid4().hex[:6]}"
    for _ in range(6):
        httpx.post(live_server.base_url + "/api/v1/auth/session", json={"username": name, "password": "fel-fel-fel-fel"})
    ctx = new_context(browser, live_server.base_url)
    page = ctx.new_page()
    page.goto("/")
    page.get_by_label("Användarnamn").fill(name)
    page.get_by_label("Lösenord").fill("fel-fel-fel-fel")
    page.get_by_role("button", name="Logga in").click()
    expect(page.locator("#login-status")).to_contain_text(re.compile(r"Vänta \d+ s"))
    ctx.close()


def test_phone_header_is_compact_and_connection_stays_visible(browser, live_server, cast):
    """Item 16: at 360 px the header with HEMLIG and ÖVNING banners stays a small part of the
    screen and is still there (with the connection state) after scrolling the log."""
    writer = cast["writer"]
    ctx, page = signed_in(browser, live_server.base_url, writer, width=360, height=740)
    page.locator("li.space-item.is-exercise a.space-link").first.click()
    expect(page.locator("li.entry").first).to_be_visible()
    expect(page.locator("#exercise-banner")).to_be_visible()
    expect(page.locator("#level-banner")).to_be_visible()
    wait_connected(page)
    height = page.locator("#topbar").bounding_box()["height"]
    assert height <= 185, f"header takes {height} of 740 px"
    scrolled = page.evaluate("() => { window.scrollTo(0, document.documentElement.scrollHeight); return window.scrollY; }")
    assert scrolled > 300, "the exercise log should be longer than one screen"
    box = page.locator("#conn").bounding_box()
    assert box is not None and 0 <= box["y"] < 100, box
    expect(page.locator("#conn")).to_be_in_viewport()
    expect(page.locator("#level-banner")).to_be_in_viewport()
    ctx.close()


def test_log_filters_and_search(browser, live_server, cast):
    """Item 18 (client): filter the log by kind, level and actor and search its text; the server
    searches only what the reader may read, and live entries appear only when they match."""
    writer, other = cast["writer"], cast["other"]
    ctx, page = signed_in(browser, live_server.base_url, writer)
    space_id = create_space(page, unique("Ras Göta älv"), participants=[other["actor"]["name"]])
    tag = uuid.uuid4().hex[:6]
    post_entry(page, f"Skred vid Lilla Edet {tag}", level="public", kind_label="Inkommande")
    post_entry(page, f"Beslut: utrymning {tag}", level="sekretess", kind_label="Beslut")
    post_entry(page, "Vägen stängd", level="public", kind_label="Åtgärd")
    wait_connected(page)
    page.locator("details.filter-details > summary").click()
    bar = page.locator("form.filter-form")
    bar.get_by_label("Sök i text").fill(tag.upper())
    bar.get_by_role("button", name="Filtrera").click()
    expect(page.locator("li.entry")).to_have_count(2)
    bar.get_by_label("Typ av inlägg").select_option("decision")
    bar.get_by_role("button", name="Filtrera").click()
    expect(page.locator("li.entry")).to_have_count(1)
    expect(page.locator("li.entry")).to_contain_text("utrymning")
    bar.get_by_label("Informationsklass").select_option("public")
    bar.get_by_role("button", name="Filtrera").click()
    expect(page.locator("li.entry")).to_have_count(0)
    expect(page.locator("li.empty")).to_contain_text("Inga inlägg matchar")
    # live: a matching entry appears, a non-matching one does not
    bar.get_by_role("button", name="Rensa filter").click()
    expect(page.locator("li.entry")).to_have_count(3)
    bar.get_by_label("Typ av inlägg").select_option("need")
    bar.get_by_role("button", name="Filtrera").click()
    expect(page.locator("li.entry")).to_have_count(0)
    token = api_token(live_server.base_url, writer)
    for kind, body in (("need", f"Behov: sandsäckar {tag}"), ("note", f"Anteckning {tag}")):
        r = httpx.post(f"{live_server.base_url}/api/v1/spaces/{space_id}/entries",
                       json={"kind": kind, "classification": "public", "body": body},
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
    expect(page.locator("li.entry", has_text="sandsäckar")).to_be_visible(timeout=LIVE)
    expect(page.locator("li.entry")).to_have_count(1)
    ctx.close()


def test_space_closed_elsewhere_removes_the_report_editor_live(browser, live_server, cast):
    """Item 8 for the lägesbild: an open report editor goes when the space closes elsewhere."""
    writer, other = cast["writer"], cast["other"]
    ctx, page = signed_in(browser, live_server.base_url, writer)
    space_id = create_space(page, unique("Brand Södertälje"), participants=[other["actor"]["name"]])
    page.get_by_role("link", name="Lägesbild").click()
    page.get_by_role("button", name="Ny version").click()
    page.locator("form.report-editor textarea[data-key=event]").fill("Brand i industrilokal.")
    wait_connected(page)
    token = api_token(live_server.base_url, writer)
    r = httpx.patch(f"{live_server.base_url}/api/v1/spaces/{space_id}", json={"status": "closed"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    expect(page.locator(".space-closed-notice")).to_contain_text("Ytan är avslutad", timeout=LIVE)
    expect(page.locator("form.report-editor")).to_have_count(0)
    expect(page.locator("#edit-report")).to_have_count(0)
    ctx.close()


def test_publisher_is_told_that_unreadable_sections_are_kept(browser, live_server, people):
    """Item 2: a sekretess-cleared editor of the owning actor publishes a new version of a joint
    lägesbild that has a HEMLIG section: the screen says the section they cannot read is kept
    unchanged, never shows it, and the HEMLIG section is still there for those who may read it."""
    base = live_server.base_url
    admin = pick(people, role="actor_admin", min_clearance="hemlig")
    boss = pick(people, role="editor", min_clearance="hemlig", actor=admin["actor"]["id"],
                can_create_space=True)
    username, password = f"sek.{uuid.uuid4().hex[:6]}", "ett-langt-losenord-" + uuid.uuid4().hex[:6]
    r = httpx.post(f"{base}/api/v1/actors/{admin['actor']['id']}/users", headers=bearer(api_token(base, admin)),
                   json={"username": username, "password": password, "display_name": "Redaktör i tjänst",
                         "role": "editor", "clearance": "sekretess"})
    assert r.status_code == 201, r.text
    boss_auth = bearer(api_token(base, boss))
    space_id = api_space(base, boss_auth, unique("Sabotage elnät"), participants=[],
                         classification="hemlig")
    secret = unique("Hemlig uppgift om gärningspersoner")
    r = httpx.post(f"{base}/api/v1/spaces/{space_id}/situation-reports", headers=boss_auth, json={
        "scope": "joint", "sections": [
            {"key": "event", "classification": "hemlig", "body": secret},
            {"key": "current_situation", "classification": "public", "body": "Läget: 4 000 utan el."}]})
    assert r.status_code == 201, r.text

    ctx = new_context(browser, base)
    page = ctx.new_page()
    watch = ConsoleWatch(page)
    login(page, username, password)
    page.goto(f"/#/spaces/{space_id}/report")
    expect(page.locator(".report-section[data-key=current_situation]")).to_contain_text("4 000 utan el")
    expect(page.locator("main")).not_to_contain_text(secret)
    page.get_by_role("button", name="Ny version").click()
    editor = page.locator("form.report-editor")
    expect(editor.locator("textarea[data-key=current_situation]")).to_have_value("Läget: 4 000 utan el.")
    expect(editor.locator("textarea[data-key=event]")).to_have_value("")  # what they cannot read is not offered
    editor.locator("textarea[data-key=current_situation]").fill("Läget: 1 500 utan el.")
    editor.locator("#publish-report").click()
    notice = page.locator(".report-notice .kept-unreadable")
    expect(notice).to_have_text("1 avsnitt som du inte kan läsa behålls oförändrade.")
    expect(page.locator(".report-section[data-key=current_situation]")).to_contain_text("1 500 utan el")
    expect(page.locator("main")).not_to_contain_text(secret)
    assert watch.csp_violations() == []
    ctx.close()
    # the HEMLIG section was carried forward into the new version, unchanged
    latest = httpx.get(f"{base}/api/v1/spaces/{space_id}/situation-reports/latest",
                       params={"scope": "joint"}, headers=boss_auth).json()
    assert latest["version"] == 2
    assert [(s["key"], s["classification"], s["body"]) for s in latest["sections"]] == [
        ("event", "hemlig", secret), ("current_situation", "public", "Läget: 1 500 utan el.")]


def _frames(page) -> list[dict]:
    """Every JSON frame the page's websockets receive, in order (appended as they arrive)."""
    frames: list[dict] = []

    def on_socket(ws) -> None:
        ws.on("framereceived", lambda payload: frames.append(json.loads(payload)) if isinstance(payload, str) else None)

    page.on("websocket", on_socket)
    return frames


def _wait_for_frame(page, frames: list[dict], timeout_ms: float = LIVE, **match: str) -> dict:
    """Wait (bounded) until a frame with these fields has arrived."""
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        for frame in frames:
            if all(frame.get(k) == v for k, v in match.items()):
                return frame
        page.wait_for_timeout(100)  # lets Playwright deliver events; not a timing margin
    raise AssertionError(f"no frame {match} within {timeout_ms} ms; got {[f.get('type') for f in frames]}")


def test_joining_and_leaving_a_space_reach_the_screen_by_the_stream(browser, live_server, cast):
    """Item 12: membership.added / membership.removed update an open screen at once. The page's
    clock is paused once the stream is live, so no timer (the space list's 30 s poll) can fire:
    only the stream frames can have changed what is shown."""
    writer, other = cast["writer"], cast["other"]
    base = live_server.base_url
    writer_auth = bearer(api_token(base, writer))
    title = unique("Kraftbortfall Norrtälje")
    space_id = api_space(base, writer_auth, title, participants=[])

    def participants(*actors: str) -> None:
        r = httpx.patch(f"{base}/api/v1/spaces/{space_id}", headers=writer_auth,
                        json={"participants": [{"actor_id": a} for a in actors]})
        assert r.status_code == 200, r.text

    ctx = new_context(browser, base)
    page = ctx.new_page()
    frames = _frames(page)
    page.clock.install()
    login(page, other["username"], other["password"])
    wait_connected(page)
    item = page.locator(f"li.space-item[data-space-id='{space_id}']")
    expect(item).to_have_count(0)
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)

    participants(writer["actor"]["id"], other["actor"]["id"])
    _wait_for_frame(page, frames, type="membership.added", space_id=space_id)
    expect(item).to_contain_text(title)

    participants(writer["actor"]["id"])
    _wait_for_frame(page, frames, type="membership.removed", space_id=space_id)
    expect(item).to_have_count(0)

    # with the space open: removal takes the log away and says why, in plain words
    participants(writer["actor"]["id"], other["actor"]["id"])
    expect(item).to_contain_text(title)
    item.locator("a.space-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    frames.clear()
    participants(writer["actor"]["id"])
    _wait_for_frame(page, frames, type="membership.removed", space_id=space_id)
    expect(page.locator("p.flash")).to_have_text("Din aktör deltar inte längre i ytan.")
    expect(page.get_by_role("heading", name="Mina ytor")).to_be_visible()
    expect(item).to_have_count(0)
    ctx.close()


def test_a_refused_subscription_is_not_shown_as_live(browser, live_server, cast):
    """Item 13: "senast uppdaterad" is honest about the open space. While offline, the reader's
    actor is removed; back online the server refuses the resubscription (`error` not_found): the
    header says the space is not followed live and keeps the time of its last confirmation, the
    stale banner says so too — although the socket itself is connected and answers pings."""
    writer, other = cast["writer"], cast["other"]
    base = live_server.base_url
    writer_auth = bearer(api_token(base, writer))
    title = unique("Skyfall Gävle")
    space_id = api_space(base, writer_auth, title, participants=[other["actor"]["id"]])

    ctx = new_context(browser, base)
    page = ctx.new_page()
    frames = _frames(page)
    page.clock.install()
    login(page, other["username"], other["password"])
    page.goto(f"/#/spaces/{space_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    _wait_for_frame(page, frames, type="subscribed", space_id=space_id)
    conn = page.locator("#conn")
    expect(conn).to_have_attribute("data-state", "connected")
    expect(conn).to_contain_text("senast uppdaterad nyss")

    ctx.set_offline(True)
    expect(conn).to_have_attribute("data-state", re.compile("offline|reconnecting"), timeout=LIVE)
    r = httpx.patch(f"{base}/api/v1/spaces/{space_id}", headers=writer_auth,
                    json={"participants": [{"actor_id": writer["actor"]["id"]}]})
    assert r.status_code == 200, r.text
    frames.clear()
    ctx.set_offline(False)
    _wait_for_frame(page, frames, type="error", code="not_found", space_id=space_id)
    # Issue 8 item 3: nothing of the space stays shown, and the screen says why in plain words
    expect(page.locator("p.space-left-notice")).to_have_text("Din aktör deltar inte längre i ytan.")
    expect(page.locator("ol.entry-log li.entry")).to_have_count(0)
    expect(page.get_by_text(title)).to_have_count(0)
    expect(page.locator("form.post-entry")).to_have_count(0)
    expect(conn).to_have_attribute("data-state", "unfollowed")
    expect(conn).to_contain_text("Ytan följs inte live")
    expect(conn).not_to_contain_text("Ansluten")
    expect(page.locator("#stale-banner")).to_be_visible()
    expect(page.locator("#stale-banner")).to_contain_text("Servern följer inte längre ytan åt dig")

    # later the socket answers a ping: that says nothing about the space, its time does not move
    frames.clear()
    page.clock.run_for(26_000)  # past the 25 s ping, short of the pong timeout
    _wait_for_frame(page, frames, type="pong")
    expect(conn).to_have_attribute("data-state", "unfollowed")
    expect(conn).to_contain_text(re.compile(r"senast uppdaterad för \d+ (s|min) sedan"))
    expect(conn).not_to_contain_text("nyss")
    ctx.close()


def test_rights_narrowed_while_offline_reload_the_view_on_resume(browser, live_server, people):
    """Item 3 (offline case): while the reader is offline their clearance is lowered; when the
    stream resumes the server sends `space.resync` and the view is loaded again under the new
    rights, so the SEKRETESS entry leaves the screen and the public one stays."""
    base = live_server.base_url
    admin = pick(people, role="actor_admin", min_clearance="hemlig")
    writer = pick(people, role="editor", min_clearance="sekretess", actor=admin["actor"]["id"],
                  can_create_space=True)
    admin_auth = bearer(api_token(base, admin))
    reader = {"username": f"resync.{uuid.uuid4().hex[:8]}", "password": f"Ks-{uuid.uuid4().hex}"}
    r = httpx.post(f"{base}/api/v1/actors/{admin['actor']['id']}/users", headers=admin_auth, json={
        "username": reader["username"], "password": reader["password"],
        "display_name": "Tillfällig läsare", "role": "reader", "clearance": "sekretess"})
    assert r.status_code == 201, r.text
    reader_id = r.json()["id"]
    writer_auth = bearer(api_token(base, writer))
    space_id = api_space(base, writer_auth, unique("Isstorm Uppsala"), participants=[])
    secret, open_ = unique("Sekretess före nedgraderingen"), unique("Öppet för alla")
    for body, level in ((secret, "sekretess"), (open_, "public")):
        r = httpx.post(f"{base}/api/v1/spaces/{space_id}/entries", headers=writer_auth,
                       json={"kind": "note", "classification": level, "body": body})
        assert r.status_code == 201, r.text

    ctx = new_context(browser, base)
    page = ctx.new_page()
    frames = _frames(page)
    login(page, reader["username"], reader["password"])
    page.goto(f"/#/spaces/{space_id}")
    _wait_for_frame(page, frames, type="subscribed", space_id=space_id)
    expect(entry(page, secret)).to_have_count(1)
    expect(entry(page, open_)).to_have_count(1)

    ctx.set_offline(True)
    expect(page.locator("#conn")).to_have_attribute("data-state", re.compile("offline|reconnecting"), timeout=LIVE)
    r = httpx.patch(f"{base}/api/v1/users/{reader_id}", headers=admin_auth, json={"clearance": "public"})
    assert r.status_code == 200, r.text
    frames.clear()
    ctx.set_offline(False)
    expect(entry(page, secret)).to_have_count(0, timeout=LIVE)
    expect(entry(page, open_)).to_have_count(1, timeout=LIVE)
    _wait_for_frame(page, frames, type="event", event="space.resync", space_id=space_id)
    wait_connected(page)
    ctx.close()
