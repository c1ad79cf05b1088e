"""The space ↔ talkgroup link (issue 11, item 1) through the simulated radio on a real pty:
the owner's editors link a GSSI (validated, one open space per talkgroup); an SDS to the
talkgroup lands as a public `incoming` entry with the sender's ISSI and mnemonic; a public
notice of the space goes out to the talkgroup; unlinked, an SDS is audited, not posted."""

from __future__ import annotations

from tests.conftest import World
from tests.helpers import create_space
from tests.integration.test_rakel_runtime import (  # noqa: F401 (the fixture)
    ALICE,
    BOB,
    GROUP,
    RakelApp,
    rakel_app,
    until,
)
from wis_server.domain.levels import Classification, ContactKind, Role
from wis_server.domain.model import ContactPoint


async def test_a_linked_talkgroup_brings_sds_in_as_entries_and_takes_notices_out(
        rakel_app: RakelApp) -> None:  # noqa: F811 (the imported fixture)
    w = World(rakel_app.client, rakel_app.app)
    directory = rakel_app.app.state.services.directory
    await w.add_actor("A", Classification.PUBLIC)
    await w.add_actor("B", Classification.PUBLIC)
    rt = await directory.create_actor(None, "Räddningstjänsten Nacka", "RTN",
                                      Classification.PUBLIC,
                                      (ContactPoint(ContactKind.RAKEL_ISSI, str(ALICE), 1,
                                                    "RTJ NACKA IL"),))
    await w.add_person("a_editor", "A", Role.EDITOR, Classification.PUBLIC)
    await w.add_person("b_editor", "B", Role.EDITOR, Classification.PUBLIC)
    space = await create_space(w.client, w["a_editor"], classification="public",
                               participants=[rt.id, w.actors["B"]])
    other = await create_space(w.client, w["a_editor"], classification="public",
                               participants=[w.actors["B"]])
    link = f"/api/v1/spaces/{space['id']}/rakel"

    # Validated, and only the owning actor's editors link.
    r = await w.client.put(link, headers=w["a_editor"].auth, json={"gssi": "90x1"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_rakel_ssi"
    r = await w.client.put(link, headers=w["a_editor"].auth, json={"gssi": "16777216"})
    assert r.status_code == 422
    r = await w.client.put(link, headers=w["b_editor"].auth, json={"gssi": str(GROUP)})
    assert r.status_code == 403
    r = await w.client.put(link, headers=w["a_editor"].auth, json={"gssi": f"0{GROUP}"})
    assert r.status_code == 200 and r.json() == {"gssi": str(GROUP)}
    assert (await w.client.get(link, headers=w["b_editor"].auth)).json() == {
        "gssi": str(GROUP)}
    r = await w.client.put(f"/api/v1/spaces/{other['id']}/rakel",
                           headers=w["a_editor"].auth, json={"gssi": str(GROUP)})
    assert r.status_code == 409 and r.json()["code"] == "rakel_gssi_taken"

    # In: the known terminal's SDS to the talkgroup becomes an incoming entry.
    inbound = rakel_app.app.state.runtime.rakel_inbound
    rakel_app.radio.inject_text(ALICE, "Väg 222 avstängd vid Skurubron", destination=GROUP)
    await until(inbound, lambda c: c.entries >= 1)
    items = (await w.client.get(f"/api/v1/spaces/{space['id']}/entries",
                                headers=w["b_editor"].auth)).json()["items"]
    [entry] = [e for e in items if e["kind"] == "incoming"]
    assert entry["classification"] == "public" and entry["audience"] is None
    assert entry["body"] == (f"Rakel-SDS från ISSI {ALICE} (RTJ NACKA IL, Räddningstjänsten "
                             "Nacka): Väg 222 avstängd vid Skurubron")
    assert entry["author"]["display_name"] == "Rakel-gateway"
    assert entry["author_actor_id"] == rt.id  # the sender's actor takes part
    # the gateway's user cannot sign in
    r = await w.client.post("/api/v1/auth/token", json={
        "username": f"rakel-gateway.{rt.id}", "password": "!no-sign-in"})
    assert r.status_code == 401

    # Out: a public notice of the space goes to the talkgroup (both members hear it).
    r = await w.client.post(f"/api/v1/spaces/{space['id']}/notices",
                            headers=w["a_editor"].auth,
                            json={"classification": "public",
                                  "body": "Stabsmöte 14:00 på ledningsplatsen i Älta"})
    assert r.status_code == 201, r.text
    assert [t for t in await rakel_app.inbox(BOB) if "Stabsmöte" in t]
    assert [t for t in await rakel_app.inbox(ALICE) if "Älta" in t]

    # Unlinked: an SDS to the talkgroup is audited, not posted.
    r = await w.client.delete(link, headers=w["a_editor"].auth)
    assert r.status_code == 200 and r.json() == {"gssi": None}
    rakel_app.radio.inject_text(BOB, "Efter avlänkning", destination=GROUP)
    await until(inbound, lambda c: c.unrouted >= 1)
    assert inbound.counts.entries == 1
