"""Push notifications in the PWA, in real Chromium against the running server.

What is real and what is not: headless Chromium here cannot create a push subscription
(Playwright contexts are incognito, where Chrome has no Push API, and a persistent profile
would need Google's push service). So `PushManager.subscribe/getSubscription` are replaced by an
init script that hands out a REAL subscription made by the web-push-testing peer for the
server's VAPID key; everything else is real: the settings page, the toggle, the VAPID key
fetched from the server, the POST/DELETE, the stored subscription (then sent to through
channels.webpush and decrypted by the peer). The service worker's `push` and
`notificationclick` handlers are exercised by dispatching synthetic PushEvent /
NotificationEvent in the real service worker: the notification shown (title, body, tag) and
the window it navigates to. Not exercised: the window's focus() (Chromium allows it only from a
real click, which a synthetic event is not) and the operating system's notification display."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer, start_server, stop_server
from tests.e2e.web_helpers import chromium, login, new_context
from tests.peers.push_service import PushService
from wis_server.channels.ports import Message, PushSubscription
from wis_server.channels.registry import build_channels
from wis_server.channels.render import render
from wis_server.channels.settings import ChannelSettings, channel_settings
from wis_server.classification.channel_policy import ChannelKind, MessageContent, apply
from wis_server.classification.keys import load_keyring_file
from wis_server.config import load_settings
from wis_server.domain.levels import Classification

PUSH_ENV = {"WIS_CHANNELS": "push", "WIS_VAPID_SUBJECT": "mailto:wis@kommun.example",
            "WIS_PUSH_ALLOW_LOOPBACK": "true"}

FAKE_PUSH = """
(() => {
  const sub = %s;
  const b64 = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') +
                                          '='.repeat((4 - s.length %% 4) %% 4)), c => c.charCodeAt(0));
  let current = null;
  window.__pushCalls = [];
  const make = (key) => ({
    endpoint: sub.endpoint, expirationTime: null,
    options: { userVisibleOnly: true, applicationServerKey: key.buffer },
    toJSON: () => ({ endpoint: sub.endpoint, expirationTime: null, keys: sub.keys }),
    unsubscribe: async () => { window.__pushCalls.push('unsubscribe'); current = null; return true; },
  });
  PushManager.prototype.subscribe = async function (opts) {
    window.__pushCalls.push('subscribe');
    const key = new Uint8Array(opts.applicationServerKey);
    window.__pushKey = btoa(String.fromCharCode(...key)).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
    current = make(key); return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();
"""


@pytest.fixture(scope="module")
def push_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("push"), PUSH_ENV)
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def push_service() -> Iterator[PushService]:
    service = PushService().start()
    try:
        yield service
    finally:
        service.stop()


def _token(server: LiveServer, username: str) -> str:
    answer = httpx.post(server.base_url + "/api/v1/auth/token",
                        json={"username": username, "password": server.demo[username]})
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def _mine(server: LiveServer, token: str) -> list[dict[str, str]]:
    answer = httpx.get(server.base_url + "/api/v1/me/push-subscriptions",
                       headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status()
    items: list[dict[str, str]] = answer.json()["items"]
    return items


def test_push_toggle_registers_and_unregisters_this_browser(
        push_server: LiveServer, push_service: PushService, tmp_path: Path) -> None:
    username = sorted(push_server.demo)[0]
    token = _token(push_server, username)
    key = httpx.get(push_server.base_url + "/api/v1/me/push-subscriptions/vapid-key",
                    headers={"Authorization": f"Bearer {token}"}).json()["public_key"]
    peer_sub = push_service.subscribe(key)
    with chromium() as browser:
        context = new_context(browser, push_server.base_url)
        context.grant_permissions(["notifications"])
        context.add_init_script(FAKE_PUSH % json.dumps(
            {"endpoint": peer_sub["endpoint"], "keys": peer_sub["keys"]}))
        page = context.new_page()
        login(page, username, push_server.demo[username])
        page.get_by_role("link", name="Inställningar").click()
        expect(page.get_by_role("heading", name="Push-aviseringar")).to_be_visible()
        toggle = page.get_by_role("switch", name="Push-aviseringar i den här webbläsaren")
        expect(page.locator("#push-status")).to_have_attribute("data-state", "off")
        assert _mine(push_server, token) == []
        toggle.check()
        expect(page.locator("#push-status")).to_have_attribute("data-state", "on")
        expect(page.locator("#push-status")).to_have_text("Påslagna i den här webbläsaren.")
        assert page.evaluate("window.__pushKey") == key  # subscribed with the server's key
        [stored] = _mine(push_server, token)
        assert stored["service"] == push_service.url
        # the stored subscription is the peer's: a message through our channel reaches it
        _send_through_channel(push_server, stored["id"], push_service, peer_sub)
        toggle.uncheck()
        expect(page.locator("#push-status")).to_have_attribute("data-state", "off")
        assert page.evaluate("window.__pushCalls") == ["subscribe", "unsubscribe"]
        assert _mine(push_server, token) == []
        context.close()


def _send_through_channel(server: LiveServer, sub_id: str, peer: PushService,
                          peer_sub: dict[str, object]) -> None:
    keyring = load_keyring_file(server.data_dir / "keyring.json")
    keys = peer_sub["keys"]
    assert isinstance(keys, dict)

    async def send() -> None:
        registry = build_channels(_channels(PUSH_ENV),
                                  vapid_private_pem=keyring.vapid_private_pem)
        push = registry.channels[ChannelKind.PUSH]
        content = MessageContent(level=Classification.PUBLIC, body="Provlarm från WIS",
                                 title="WIS", link=server.base_url + "/#/spaces")
        try:
            await push.send(Message("d-e2e", PushSubscription(
                str(peer_sub["endpoint"]), keys["p256dh"], keys["auth"]),
                render(apply(ChannelKind.PUSH, content), push.capabilities), topic="t1"))
        finally:
            await registry.aclose()

    # Playwright's sync API holds this thread's event loop: send from a thread of its own
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, send()).result(timeout=60)
    [decrypted] = peer.notifications(str(peer_sub["clientHash"]))
    assert json.loads(decrypted)["body"].startswith("Provlarm från WIS")


def test_service_worker_shows_the_push_and_opens_its_space(push_server: LiveServer) -> None:
    username = sorted(push_server.demo)[0]
    with chromium() as browser:
        context = new_context(browser, push_server.base_url)
        context.grant_permissions(["notifications"])
        page = context.new_page()
        login(page, username, push_server.demo[username])
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15_000)
        [worker] = context.service_workers
        target = push_server.base_url + "/#/spaces/space-42"
        shown = worker.evaluate("""async (url) => {
          const show = async (doc) => {
            const ev = new PushEvent('push', { data: JSON.stringify(doc) });
            const done = [];
            ev.waitUntil = (p) => done.push(p);
            self.dispatchEvent(ev);
            await Promise.all(done);
          };
          await show({ title: 'WIS', body: 'Ny information i WIS (SEKRETESS) – logga in för att läsa', url, tag: 'space-42' });
          await show({ title: 'WIS', body: 'Nyare', url, tag: 'space-42' });
          await show({ title: 'Annan', body: 'Annan yta', url: 'https://evil.example/x', tag: 'space-7' });
          const list = await self.registration.getNotifications();
          return list.map(n => ({ title: n.title, body: n.body, tag: n.tag, url: n.data.url }));
        }""", target)
        by_tag = {n["tag"]: n for n in shown}
        assert len(shown) == 2  # the newer space-42 notice replaced the older one
        assert by_tag["space-42"] == {"title": "WIS", "body": "Nyare", "tag": "space-42",
                                      "url": target}
        assert by_tag["space-7"]["url"] == push_server.base_url + "/"  # never off-site
        worker.evaluate("""async () => {
          const [n] = (await self.registration.getNotifications({ tag: 'space-42' }));
          const ev = new NotificationEvent('notificationclick', { notification: n });
          const done = [];
          ev.waitUntil = (p) => done.push(p);
          self.dispatchEvent(ev);
          await Promise.all(done);
        }""")
        expect(page).to_have_url(target)
        context.close()


def _channels(env: dict[str, str]) -> ChannelSettings:
    """Channel settings as the runtime gets them: through the config sections (which read
    WIS_PUBLIC_URL and WIS_SMS_WEBHOOK_SECRET once)."""
    return channel_settings(load_settings(env))
