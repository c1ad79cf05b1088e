"""Helpers for the web-client end-to-end tests: launch Debian's Chromium through Playwright,
log in through the real login form, and small assertions shared by the test modules."""
from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

CHROMIUM = os.environ.get("WIS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LEVEL_TEXT = {"public": "ÖPPEN", "sekretess": "SEKRETESS", "hemlig": "HEMLIG"}


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class ConsoleWatch:
    """Collects console errors and CSP violations so tests can assert the page stayed clean."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _on_console(self, msg) -> None:  # type: ignore[no-untyped-def]
        if msg.type == "error":
            self.errors.append(msg.text)

    def csp_violations(self) -> list[str]:
        return [e for e in self.errors if "Content Security Policy" in e or "Refused to" in e]


def new_context(browser: Browser, base_url: str, *, width: int = 1280, height: int = 900) -> BrowserContext:
    return browser.new_context(base_url=base_url, viewport={"width": width, "height": height}, locale="sv-SE")


def login(page: Page, username: str, password: str) -> None:
    page.goto("/")
    page.get_by_label("Användarnamn").fill(username)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", name="Mina ytor")).to_be_visible()


def signed_in(browser: Browser, base_url: str, who: dict, **context: int) -> tuple[BrowserContext, Page]:
    """A new browser context (new_context's width/height) with one page, signed in as `who`."""
    ctx = new_context(browser, base_url, **context)
    page = ctx.new_page()
    login(page, who["username"], who["password"])
    return ctx, page


def logout(page: Page) -> None:
    page.get_by_role("button", name="Logga ut").click()
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()


def wait_connected(page: Page, timeout: float = 15_000) -> None:
    expect(page.locator("#conn")).to_have_attribute("data-state", re.compile("connected|polling"), timeout=timeout)


def create_space(page: Page, title: str, *, participants: list[str], classification: str = "hemlig",
                 type_label: str = "Samhällsstörning", description: str = "") -> str:
    """Create a space through the form; returns its id (from the URL)."""
    page.goto("/#/spaces/new")
    form = page.locator("form.create-space")
    form.get_by_label("Rubrik").fill(title)
    if description:
        form.get_by_label("Beskrivning").fill(description)
    form.get_by_label("Typ", exact=True).select_option(label=type_label)
    form.locator(f"input[name=space-classification][value={classification}]").check()
    for name in participants:
        form.get_by_label(name, exact=True).check()
    form.get_by_role("button", name="Skapa").click()
    page.wait_for_url(re.compile(r"#/spaces/[^/]+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    return page.url.rsplit("/", 1)[-1]


def post_entry(page: Page, body: str, *, level: str = "public", kind_label: str = "Anteckning",
               audience: list[str] | None = None) -> None:
    """Post an entry from the space view. audience: actor names to tick (None = the default)."""
    folded = page.locator("details.post-details:not([open]) > summary")
    if folded.count():
        folded.click()
    form = page.locator("form.post-entry")
    form.get_by_label("Typ av inlägg").select_option(label=kind_label)
    form.locator(f"input[type=radio][value={level}]").check()
    if audience is not None:
        details = form.locator("details.audience-details")
        if details.get_attribute("open") is None:
            details.locator("summary").click()
        for box in form.locator(".audience input[type=checkbox]:not([disabled])").all():
            box.set_checked(False)
        for name in audience:
            box = form.locator(".audience li", has_text=name).locator("input")
            if box.is_enabled():
                box.check()
    form.get_by_label("Text").fill(body)
    form.get_by_role("button", name="Publicera").click()
    expect(page.locator("li.entry", has_text=body).first).to_be_visible()


def entry(page: Page, body: str):
    return page.locator("li.entry", has_text=body)


def assert_marked(page: Page) -> None:
    """Every entry and report section on screen carries a classification badge with colour class and text."""
    items = page.locator("li.entry, .report-section")
    for i in range(items.count()):
        item = items.nth(i)
        level = item.get_attribute("data-level")
        assert level in LEVEL_TEXT, f"item {i} has no level"
        badge = item.locator(f".lvl.lvl-{level}").first
        expect(badge).to_be_visible()
        expect(badge).to_contain_text(LEVEL_TEXT[level])


def unique(label: str) -> str:
    """A title or text no other test run has used (the live server is shared by the session)."""
    return f"{label} {uuid.uuid4().hex[:6]}"


def api_token(base_url: str, who: dict) -> str:
    """An access token for a demo user (from demo_people), for arranging a test over the API."""
    import httpx

    r = httpx.post(base_url + "/api/v1/auth/token", json={"username": who["username"], "password": who["password"]})
    r.raise_for_status()
    return str(r.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_space(base_url: str, auth: dict[str, str], title: str, *, participants: list[str],
              classification: str = "sekretess") -> str:
    """Create a space over the API (the caller's actor owns it); returns its id."""
    import httpx

    r = httpx.post(f"{base_url}/api/v1/spaces", headers=auth, json={
        "title": title, "description": "", "type": "disruption",
        "classification": classification, "participants": participants})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


# --- finding the right demo users -----------------------------------------------------------------
LEVEL_RANK = {"public": 0, "sekretess": 1, "hemlig": 2}
_people_cache: dict[str, dict[str, dict]] = {}


def demo_people(base_url: str, demo: dict[str, str]) -> dict[str, dict]:
    """username -> /me (plus 'password') for every demo login, fetched once through the API."""
    if base_url in _people_cache:
        return _people_cache[base_url]
    import httpx

    people: dict[str, dict] = {}
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for username, password in demo.items():
            r = client.post("/api/v1/auth/session", json={"username": username, "password": password})
            if r.status_code != 200:
                continue
            token = r.json()["access_token"]
            me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
            me["password"] = password
            me["clearance_eff"] = me.get("effective_clearance") or me["clearance"]
            people[username] = me
            client.cookies.clear()
    _people_cache[base_url] = people
    return people


def pick(people: dict[str, dict], *, role: str | None = None, min_clearance: str | None = None,
         max_clearance: str | None = None, not_actor: str | None = None, actor: str | None = None,
         can_create_space: bool | None = None) -> dict:
    """The first demo user (sorted by username) matching every given condition."""
    for username in sorted(people):
        me = people[username]
        level = LEVEL_RANK[me["clearance_eff"]]
        if role and me["role"] != role:
            continue
        if min_clearance and level < LEVEL_RANK[min_clearance]:
            continue
        if max_clearance and level > LEVEL_RANK[max_clearance]:
            continue
        if not_actor and me["actor"]["id"] == not_actor:
            continue
        if actor and me["actor"]["id"] != actor:
            continue
        if can_create_space is not None and bool(me["permissions"].get("create_space")) != can_create_space:
            continue
        return me
    raise LookupError("no demo user matches")
