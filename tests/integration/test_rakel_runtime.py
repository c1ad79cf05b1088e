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
from sqlalchemy import text as sql

from tests.conftest import FAST_PASSWORDS, World, make_settings
from tests.helpers import create_space
from wis_server.api.app import create_app
from wis_server.channels.rakel.simulator import SimulatedNetwork, SimulatedRadio
from wis_server.classification.keys import Keyring
from wis_server.domain.levels import Classification, ContactKind, Role
from wis_server.domain.model import ContactPoint

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

    async def inbox(self, issi: int, count: int = 1) -> list[str]:
        terminal = self.network.terminals[issi]

        async def wait() -> list[str]:
            while len(terminal.inbox) < count:
                self.network.delivered.clear()
                if len(terminal.inbox) >= count:
                    break
                await self.network.delivered.wait()
            return terminal.inbox
        return await asyncio.wait_for(wait(), BOUND)


async def until(inbound: Any, predicate: Any) -> None:
    await asyncio.wait_for(inbound.wait_until(predicate), BOUND)


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


async def test_a_callout_over_rakel_is_acknowledged_by_an_sds_reply(
        rakel_app: RakelApp) -> None:
    """The whole path on a real pty: the dispatcher sends the call-out to the terminal's
    ISSI, the terminal's delivery report reaches the ledger, its `OK <code>` acknowledges."""
    w = World(rakel_app.client, rakel_app.app)
    directory = rakel_app.app.state.services.directory
    await w.add_actor("A", Classification.PUBLIC)
    actor = await directory.create_actor(None, "Räddningstjänsten", "RT", Classification.PUBLIC,
                                         (ContactPoint(ContactKind.RAKEL_ISSI, str(ALICE),
                                                       1, "RIB"),))
    w.actors["RT"] = actor.id
    await w.add_person("a_editor", "A", Role.EDITOR, Classification.PUBLIC)
    space = await create_space(w.client, w["a_editor"], classification="public",
                               participants=[actor.id])
    r = await w.client.post(f"/api/v1/spaces/{space['id']}/callouts",
                            headers=w["a_editor"].auth,
                            json={"actor_ids": [actor.id], "message": "Översvämning i Åby"})
    assert r.status_code == 201, r.text
    callout_id = r.json()["id"]
    [text] = await rakel_app.inbox(ALICE)
    assert "Översvämning i Åby" in text  # å/ä/ö intact over SDS
    code = text.split("Svara OK ")[1][:6]

    inbound = rakel_app.app.state.runtime.rakel_inbound
    await until(inbound, lambda c: c.delivery_updates >= 1)  # the terminal's SDS report
    assert inbound.counts.deliveries_unknown == 0  # it matched the ledger's delivery row

    rakel_app.radio.inject_text(ALICE, f"OK {code}")

    await until(inbound, lambda c: c.acknowledgements >= 1)
    doc = (await w.client.get(f"/api/v1/callouts/{callout_id}",
                              headers=w["a_editor"].auth)).json()
    target = next(a for a in doc["actors"] if a["actor_id"] == actor.id)
    assert target["state"] == "acknowledged"
    assert target["channel"] == "rakel_sds"
    # the terminal's delivery report (it came before the reply on the line) is in the ledger
    async with rakel_app.app.state.store.read() as tx:
        rows = (await tx.conn.execute(sql(
            "SELECT status, delivered_at FROM deliveries WHERE channel = 'rakel'"))).all()
    assert [r.status for r in rows] == ["delivered"] and rows[0].delivered_at is not None
    counts = (await w.client.get("/readyz")).json()["channels"]["rakel"]["inbound"]
    assert counts["acknowledgements"] == 1 and counts["delivery_updates"] >= 1


async def test_an_sds_for_no_linked_space_is_audited_without_its_text(
        rakel_app: RakelApp) -> None:
    inbound = rakel_app.app.state.runtime.rakel_inbound
    rakel_app.radio.inject_text(BOB, "Hemligt: vägen vid Åby är stängd")
    await until(inbound, lambda c: c.unrouted >= 1)
    async with rakel_app.app.state.store.read() as tx:
        records = [r.record for r in await tx.audit.page(actor_id=None, after=0, limit=1000)
                   if r.record.action == "rakel.sds_unrouted"]
    assert len(records) == 1
    assert "Åby" not in str(records[0].detail) and str(BOB) not in str(records[0].detail)
    assert records[0].detail["chars"] == len("Hemligt: vägen vid Åby är stängd")
