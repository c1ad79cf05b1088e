"""Weak inputs are refused (issue 8 item 14): common or repetitive passwords (NIST SP
800-63B), malformed e-mail addresses and phone numbers (E.164, Swedish ones normalised), and
actor short names with anything but letters, digits and '-'."""

from __future__ import annotations

import pytest

from tests.conftest import World
from tests.helpers import assert_problem


@pytest.mark.parametrize(("password", "code"), [
    ("aaaaaaaaaaaa", "password_repetitive"),
    ("qazwsxedcrfv", "password_common"),
    ("1qaz2wsx3edc", "password_common"),
    ("Password1234!", "password_common"),
    ("LEAVEMEALONE", "password_common"),
])
async def test_common_and_repetitive_passwords_are_refused(world: World, password: str,
                                                            code: str) -> None:
    r = await world.client.post(f"/api/v1/actors/{world.actors['A']}/users",
                                headers=world["sys"].auth, json={
                                    "username": "ny.person", "password": password,
                                    "display_name": "Ny", "role": "reader",
                                    "clearance": "public"})
    assert assert_problem(r, 422)["code"] == code
    r = await world.client.post(f"/api/v1/actors/{world.actors['A']}/users",
                                headers=world["sys"].auth, json={
                                    "username": "ny.person", "password": "snöstorm-vid-älven-7",
                                    "display_name": "Ny", "role": "reader",
                                    "clearance": "public"})
    assert r.status_code == 201, r.text


async def test_contact_points_are_validated_and_normalised(world: World) -> None:
    c, admin = world.client, world["a_admin"]
    url = f"/api/v1/actors/{world.actors['A']}/contact-points"
    for kind, value, code in (("email", "inte-en-adress", "invalid_email"),
                              ("email", "tib@", "invalid_email"),
                              ("phone", "12", "invalid_phone"),
                              ("sms", "ring mig", "invalid_phone")):
        r = await c.put(url, headers=admin.auth, json={"contact_points": [
            {"kind": kind, "value": value, "priority": 1}]})
        assert assert_problem(r, 422)["code"] == code, value
    r = await c.put(url, headers=admin.auth, json={"contact_points": [
        {"kind": "phone", "value": "08-123 450 00", "priority": 1},
        {"kind": "sms", "value": "+46 70 123 45 67", "priority": 2},
        {"kind": "email", "value": "TiB@LST.example", "priority": 3}]})
    assert r.status_code == 200, r.text
    assert [p["value"] for p in r.json()["contact_points"]] == [
        "+46812345000", "+46701234567", "TiB@lst.example"]


async def test_short_names_are_letters_digits_and_hyphens(world: World) -> None:
    c, sys_ = world.client, world["sys"]
    for short in ("Nacka kommun", "LST!", "-LST", "a_b", "A--B"):
        r = await c.post("/api/v1/actors", headers=sys_.auth, json={
            "name": "Ny aktör", "short_name": short, "clearance_ceiling": "public"})
        assert assert_problem(r, 422)["code"] == "invalid_short_name", short
    r = await c.patch(f"/api/v1/actors/{world.actors['C']}", headers=sys_.auth,
                      json={"short_name": "C C"})
    assert assert_problem(r, 422)["code"] == "invalid_short_name"
    r = await c.post("/api/v1/actors", headers=sys_.auth, json={
        "name": "Räddningstjänsten Syd", "short_name": "Räddning-Syd2",
        "clearance_ceiling": "public"})
    assert r.status_code == 201, r.text
