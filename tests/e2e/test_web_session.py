"""The web session outlives short access tokens: the client refreshes through the HttpOnly
cookie before expiry, and when the server closes the stream with 4009 (token expired) it
refreshes, reconnects and resumes without losing entries. Uses its own server with the
shortest allowed access-token lifetime (60 s)."""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from .conftest import start_server, stop_server
from .web_helpers import (
    chromium,
    create_space,
    demo_people,
    entry,
    login,
    new_context,
    pick,
    post_entry,
    wait_connected,
)


@pytest.fixture(scope="module")
def short_token_server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("short-tokens"), {"WIS_ACCESS_TOKEN_TTL": "60"})
    yield server
    stop_server(server)


def test_session_survives_token_expiry_and_stream_resumes(short_token_server):
    server = short_token_server
    people = demo_people(server.base_url, server.demo)
    writer = pick(people, role="editor", min_clearance="hemlig", can_create_space=True)
    other = pick(people, not_actor=writer["actor"]["id"], min_clearance="sekretess", max_clearance="sekretess")
    with chromium() as browser:
        a_ctx = new_context(browser, server.base_url)
        a = a_ctx.new_page()
        login(a, writer["username"], writer["password"])
        space_id = create_space(a, "Långt pass", participants=[other["actor"]["name"]])
        b_ctx = new_context(browser, server.base_url)
        b = b_ctx.new_page()
        closes: list[int] = []
        b.on("websocket", lambda ws: ws.on("close", lambda _ws: closes.append(1)))
        login(b, other["username"], other["password"])
        b.goto(f"/#/spaces/{space_id}")
        wait_connected(b)
        post_entry(a, "Före tokenbyte")
        expect(entry(b, "Före tokenbyte")).to_be_visible(timeout=20_000)

        time.sleep(70)  # past the first access token's expiry: refresh + 4009 + resume happen here

        post_entry(a, "Efter tokenbyte")  # A's REST calls still work (token refreshed in memory)
        expect(entry(b, "Efter tokenbyte")).to_be_visible(timeout=20_000)
        wait_connected(b)
        expect(b.get_by_role("heading", name="Logga in")).to_have_count(0)
        assert closes, "the server should have closed the first stream when its token expired"
        # a reload still resumes the session from the rotated refresh cookie
        b.reload()
        expect(b.get_by_role("heading", level=1)).to_contain_text("Långt pass")
        a_ctx.close()
        b_ctx.close()
