"""Sign-in throttling through the shipped nginx config (issue 7, item 4): with
WIS_TRUSTED_PROXIES naming nginx, the throttle keys on each client's own address — one
address failing does not lock the username for everybody else, and a client cannot escape its
limit by writing its own X-Forwarded-For. nginx connects to the server from 127.0.0.2 (the
trusted proxy) and clients come from other loopback addresses, as from other machines."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import LiveServer, start_server, stop_server
from tests.helpers import NGINX, shipped_nginx

PROXY_ADDRESS = "127.0.0.2"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("behind-nginx"),
                        {"WIS_TRUSTED_PROXIES": PROXY_ADDRESS})
    yield live
    stop_server(live)


@pytest.fixture(scope="module")
def proxy(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if NGINX is None:
        pytest.skip("nginx not installed")

    def edit(site: str, port: int) -> str:
        site = site.replace("server 127.0.0.1:8001", f"server {server.base_url[7:]}")
        site = site.replace("    server 127.0.0.1:8002 max_fails=3 fail_timeout=10s;\n", "")
        site = site.replace("listen 8080;",
                            f"listen 127.0.0.1:{port};\n    proxy_bind {PROXY_ADDRESS};")
        assert "proxy_bind" in site and server.base_url[7:] in site
        return site

    with shipped_nginx(tmp_path_factory.mktemp("nginx-proxy"), edit) as url:
        yield url


def _from(address: str, base_url: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=60)


async def test_sign_in_throttle_keys_on_each_client_behind_nginx(
        server: LiveServer, proxy: str) -> None:
    username, password = "tib.trv", server.demo["tib.trv"]
    async with _from("127.0.0.3", proxy) as guesser:
        statuses = []
        for i in range(8):
            # Claiming another address in X-Forwarded-For buys no fresh allowance.
            r = await guesser.post("/api/v1/auth/token",
                                   headers={"X-Forwarded-For": f"198.51.100.{i}"},
                                   json={"username": username, "password": "wrong-password"})
            statuses.append(r.status_code)
        assert statuses[:5] == [401] * 5 and statuses[5:] == [429] * 3, statuses
        r = await guesser.post("/api/v1/auth/token",
                               json={"username": username, "password": password})
        assert r.status_code == 429
    # The owner, from another machine, is not locked out by the guesser.
    async with _from("127.0.0.4", proxy) as owner:
        r = await owner.post("/api/v1/auth/token",
                             json={"username": username, "password": password})
        assert r.status_code == 200, r.text
