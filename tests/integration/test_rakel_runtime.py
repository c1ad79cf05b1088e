"""The Rakel gateway wired into the runtime: with WIS_RAKEL_DEVICE set the serving runtime
supervises the gateway and /readyz shows its health, through a simulated terminal on a real
pty. Every wait is for a state, bounded only to turn a hang into a failure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FAST_PASSWORDS, make_settings
from wis_server.api.app import create_app
from wis_server.channels.rakel.simulator import SimulatedNetwork, SimulatedRadio
from wis_server.classification.keys import Keyring

OWN, ALICE, BOB, GROUP = 2010001, 2011234, 2011235, 9001
BOUND = 30.0


class RakelApp:
    def __init__(self, app: Any, client: httpx.AsyncClient, radio: SimulatedRadio,
                 network: SimulatedNetwork) -> None:
        self.app, self.client, self.radio, self.network = app, client, radio, network

    @property
    def gateway(self) -> Any:
        return self.app.state.runtime.rakel

    async def ready(self) -> None:
        await asyncio.wait_for(self.gateway.wait_state("ready"), BOUND)


@pytest.fixture
async def rakel_app(database_url: str, keyring: Keyring, tmp_path: Path
                    ) -> AsyncIterator[RakelApp]:
    network = SimulatedNetwork()
    network.add_terminal(ALICE)
    network.add_terminal(BOB)
    network.add_group(GROUP, {ALICE, BOB})
    device = tmp_path / "pei0"
    radio = SimulatedRadio(network, OWN, device)
    radio.plug()
    settings = make_settings(tmp_path, database_url, WIS_RAKEL_DEVICE=str(device),
                             WIS_RAKEL_ISSI=str(OWN))
    app = create_app(settings, keyring, passwords=FAST_PASSWORDS)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
            async with httpx.AsyncClient(transport=transport,
                                         base_url="http://testserver") as client:
                rig = RakelApp(app, client, radio, network)
                await rig.ready()
                yield rig
    finally:
        radio.unplug()


async def test_readyz_shows_the_terminal_connected_then_down_then_back(
        rakel_app: RakelApp) -> None:
    client, gateway = rakel_app.client, rakel_app.gateway
    r = await client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["background"]["channels.rakel"] == {"running": True, "restarts": 0}
    rakel = body["channels"]["rakel"]
    assert rakel["state"] == "ready" and rakel["connected"] is True
    assert rakel["max_bits"] == 1184 and rakel["initialisations"] >= 1

    rakel_app.radio.unplug()
    await asyncio.wait_for(gateway.wait_state("down"), BOUND)
    r = await client.get("/readyz")
    assert r.status_code == 200  # a channel down does not take the server out of service
    rakel = r.json()["channels"]["rakel"]
    assert rakel["connected"] is False and rakel["state"] in ("down", "connecting")
    assert rakel["last_fault"] and rakel["reconnects"] >= 1

    rakel_app.radio.plug()
    await rakel_app.ready()
    rakel = (await client.get("/readyz")).json()["channels"]["rakel"]
    assert rakel["state"] == "ready" and rakel["connected"] is True


async def test_without_a_device_there_is_no_gateway(
        app_client: tuple[Any, httpx.AsyncClient]) -> None:
    app, client = app_client
    assert app.state.runtime.rakel is None
    body = (await client.get("/readyz")).json()
    assert body["channels"] == {} and "channels.rakel" not in body["background"]
