"""A long log pages further back on request: the newest 200 entries load first, the
'Visa äldre inlägg' button brings the rest, without duplicates."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from .web_helpers import chromium, login, new_context


def test_older_entries_page_in(live_server) -> None:
    base, demo = live_server.base_url, live_server.demo
    r = httpx.post(base + "/api/v1/auth/token",
                   json={"username": "tib.lst", "password": demo["tib.lst"]})
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    space = httpx.post(base + "/api/v1/spaces", headers=auth, json={
        "title": "Lång logg", "type": "disruption", "classification": "public"}).json()
    with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
        for n in range(1, 211):
            r = client.post(f"/api/v1/spaces/{space['id']}/entries",
                            json={"kind": "note", "classification": "public",
                                  "body": f"inlägg nummer {n:03d}"})
            assert r.status_code == 201
    with chromium() as browser:
        context = new_context(browser, base)
        page = context.new_page()
        login(page, "tib.lst", demo["tib.lst"])
        page.goto(f"{base}/#/spaces/{space['id']}")
        log = page.locator("ol.entry-log > li")
        expect(log).to_have_count(200)
        expect(page.get_by_text("inlägg nummer 010", exact=True)).to_have_count(0)
        page.get_by_role("button", name="Visa äldre inlägg").click()
        expect(log).to_have_count(210)
        expect(page.get_by_text("inlägg nummer 001", exact=True)).to_have_count(1)
        expect(page.get_by_role("button", name="Visa äldre inlägg")).to_have_count(0)
        context.close()
