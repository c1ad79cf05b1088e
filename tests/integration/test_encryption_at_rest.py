"""Encryption at rest, checked on the raw database: no content plaintext of any level is
stored anywhere (SQLite file bytes including the WAL; every PostgreSQL column as text and
bytea), keys are not in the database, and a ciphertext moved to another row, field or table,
or relabelled to another level, fails to decrypt instead of yielding wrong plaintext."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import World
from tests.helpers import (
    create_space,
    dump_database_bytes,
    marker,
    post_entry,
    raw_execute,
)
from wis_server.classification.crypto import DecryptionFailed
from wis_server.classification.keys import Keyring, load_keyring_file, save_keyring, to_document
from wis_server.domain.levels import Classification, Role

LEVELS = ("public", "sekretess", "hemlig")


async def fill(world: World) -> tuple[list[str], dict[str, Any]]:
    """Content of every kind and level, each with its own marker; returns the markers."""
    c, ids = world.client, world.actors
    markers: list[str] = []
    made: dict[str, Any] = {"spaces": {}, "entries": {}}

    def m(label: str) -> str:
        value = marker(label)
        markers.append(value)
        return value

    for level in LEVELS:
        space = await create_space(c, world["a_editor"], participants=[ids["B"]],
                                   classification=level, title=m(f"title{level}"),
                                   description=m(f"desc{level}") + " åäö ÖVNING")
        made["spaces"][level] = space
    hemlig_space = made["spaces"]["hemlig"]["id"]
    for level in LEVELS:
        body = m(f"entry{level}") + " Vällingby"
        made["entries"][level] = (await post_entry(c, world["a_editor"], hemlig_space,
                                                   level=level, body=body), body)
    made["entries"]["b_sekretess"] = (await post_entry(
        c, world["b_editor"], hemlig_space, level="sekretess", body=m("bentry")), None)
    sections = [{"key": key, "classification": level, "body": m(f"sec{key}")}
                for key, level in (("event", "public"), ("current_situation", "sekretess"),
                                   ("consequences", "hemlig"))]
    r = await c.post(f"/api/v1/spaces/{hemlig_space}/situation-reports",
                     headers=world["a_editor"].auth, json={"scope": "joint",
                                                           "sections": sections})
    assert r.status_code == 201, r.text
    r = await c.post(f"/api/v1/spaces/{hemlig_space}/situation-reports",
                     headers=world["b_editor"].auth, json={"sections": [
                         {"key": "needs", "classification": "sekretess", "body": m("bneeds")}]})
    assert r.status_code == 201, r.text
    # Updates go through their own code path.
    sid = made["spaces"]["sekretess"]["id"]
    r = await c.patch(f"/api/v1/spaces/{sid}", headers=world["a_editor"].auth,
                      json={"title": m("newtitle"), "description": m("newdesc")})
    assert r.status_code == 200, r.text
    entry = made["entries"]["sekretess"][0]
    r = await c.patch(f"/api/v1/spaces/{hemlig_space}/entries/{entry['id']}",
                      headers=world["a_editor"].auth, json={"audience": [ids["A"], ids["B"]]})
    assert r.status_code == 200, r.text
    # Reads (which write audit records) and failed writes.
    for level in LEVELS:
        e = made["entries"][level][0]
        r = await c.get(f"/api/v1/spaces/{hemlig_space}/entries/{e['id']}",
                        headers=world["a_editor"].auth)
        assert r.status_code == 200
    await c.get(f"/api/v1/spaces/{hemlig_space}/situation-reports/latest",
                headers=world["a_editor"].auth)
    r = await c.post(f"/api/v1/spaces/{sid}/entries", headers=world["a_editor"].auth,
                     json={"kind": "note", "classification": "hemlig", "body": m("refused")})
    assert r.status_code == 422
    return markers, made


async def test_no_content_plaintext_anywhere_in_the_database(world: World,
                                                             database_url: str) -> None:
    markers, made = await fill(world)
    # Positive control: something we know is stored in plain (a display name) IS found, so
    # the dump really covers the data.
    control = marker("displayname")
    await world.app.state.services.directory.create_user(
        None, world.actors["C"], "control_user", "control-password-1", control, Role.READER,
        Classification.PUBLIC)
    raw = await dump_database_bytes(database_url)
    assert control.encode() in raw, "the raw dump does not see stored data"
    assert made["spaces"]["hemlig"]["id"].encode() in raw
    found = [m for m in markers if m.encode() in raw]
    assert not found, f"plaintext in the database: {found}"
    # Not in other obvious encodings either.
    for m in markers:
        assert m.encode("utf-16-le") not in raw
        assert base64.b64encode(m.encode()) not in raw
    # Content columns hold the sealed format, never the text (entries: format 2, which also
    # binds author, kind, time and seq).
    rows = await raw_execute(database_url, "SELECT body_ct FROM entries")
    assert rows and all(bytes(r[0])[:1] == b"\x02" for r in rows)


async def test_keys_are_not_in_the_database(world: World, database_url: str) -> None:
    await fill(world)
    keyring: Keyring = world.app.state.keyring
    raw = await dump_database_bytes(database_url)
    secrets_: list[bytes] = [keyring.audit_key]
    for keys in keyring.levels.values():
        secrets_ += list(keys.versions.values())
    for secret in secrets_:
        assert secret not in raw
        assert base64.b64encode(secret) not in raw
        assert secret.hex().encode() not in raw
    for key in keyring.signing:
        body = b"".join(key.private_pem.splitlines()[1:-1])
        assert body[:40] not in raw
    # The wrapped data keys are there, and are not the raw keys they wrap.
    wrapped = await raw_execute(database_url, "SELECT level, kek_version, wrapped FROM data_keys")
    assert len(wrapped) >= 10
    assert {r[0] for r in wrapped} == set(LEVELS)
    assert all(len(bytes(r[2])) == 12 + 32 + 16 for r in wrapped)


def test_keyring_file_is_private(tmp_path: Path) -> None:
    from wis_server.classification.keys import generate_keyring

    path = tmp_path / "var" / "keyring.json"
    save_keyring(generate_keyring(), path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_keyring_file(path).levels
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".keyring-")]


# --- tampering ----------------------------------------------------------------------------

async def read_entry(world: World, space_id: str, entry_id: str) -> str:
    async with world.app.state.store.read() as tx:
        entry = await tx.entries.get(space_id, entry_id, lambda _label: True)
    assert entry is not None
    return str(entry.body)


async def assert_never_wrong_plaintext(world: World, space_id: str, entry_id: str,
                                       forbidden: str, *, http: bool = True) -> None:
    with pytest.raises(DecryptionFailed):
        await read_entry(world, space_id, entry_id)
    if not http:  # (the 500 path logs a full traceback, which is slow in the test console)
        return
    r = await world.client.get(f"/api/v1/spaces/{space_id}/entries/{entry_id}",
                               headers=world["a_editor"].auth)
    assert r.status_code != 200
    assert forbidden not in r.text


async def test_ciphertext_moved_to_another_row_fails(world: World, database_url: str) -> None:
    _, made = await fill(world)
    sid = made["spaces"]["hemlig"]["id"]
    (src, src_body) = made["entries"]["hemlig"]
    (dst, _) = made["entries"]["public"]
    # Same level, body only; then body together with its data key.
    (pub2, _) = made["entries"]["sekretess"]
    await raw_execute(database_url, "UPDATE entries SET body_ct = (SELECT body_ct FROM entries "
                      "WHERE id = $1) WHERE id = $2", src["id"], dst["id"])
    await assert_never_wrong_plaintext(world, sid, dst["id"], src_body)
    await raw_execute(database_url, "UPDATE entries SET body_ct = (SELECT body_ct FROM entries "
                      "WHERE id = $1), data_key_id = (SELECT data_key_id FROM entries WHERE "
                      "id = $2), classification = 'hemlig', level_rank = 2 WHERE id = $3",
                      src["id"], src["id"], pub2["id"])
    await assert_never_wrong_plaintext(world, sid, pub2["id"], src_body, http=False)
    # The source itself is untouched and still reads.
    assert await read_entry(world, sid, src["id"]) == src_body


async def test_relabelled_level_fails(world: World, database_url: str) -> None:
    _, made = await fill(world)
    sid = made["spaces"]["hemlig"]["id"]
    (entry, body) = made["entries"]["hemlig"]
    await raw_execute(database_url, "UPDATE entries SET classification = 'public', "
                      "level_rank = 0 WHERE id = $1", entry["id"])
    await assert_never_wrong_plaintext(world, sid, entry["id"], body)
    # Even with the data key relabelled too: it was wrapped under the hemlig KEK.
    await raw_execute(database_url, "UPDATE data_keys SET level = 'public' WHERE id = "
                      "(SELECT data_key_id FROM entries WHERE id = $1)", entry["id"])
    await assert_never_wrong_plaintext(world, sid, entry["id"], body, http=False)
    # And a public reader, who would now pass the label check, gets nothing readable.
    r = await world.client.get(f"/api/v1/spaces/{sid}/entries", headers=world["b_reader"].auth)
    assert body not in r.text


async def test_moved_between_fields_and_tables_fails(world: World, database_url: str) -> None:
    _, made = await fill(world)
    space = made["spaces"]["public"]
    sid = space["id"]
    await raw_execute(database_url, "UPDATE spaces SET description_ct = title_ct WHERE id = $1",
                      sid)
    with pytest.raises(DecryptionFailed):
        async with world.app.state.store.read() as tx:
            await tx.spaces.get(sid)

    # A report section's ciphertext and key, planted in an entry of the same level.
    hid = made["spaces"]["hemlig"]["id"]
    (entry, _) = made["entries"]["public"]
    rows = await raw_execute(database_url, "SELECT body_ct, data_key_id FROM report_sections "
                             "WHERE classification = 'public'")
    assert rows
    await raw_execute(database_url, "UPDATE entries SET body_ct = (SELECT body_ct FROM "
                      "report_sections WHERE data_key_id = $1), data_key_id = $2 WHERE id = $3",
                      rows[0][1], rows[0][1], entry["id"])
    with pytest.raises(DecryptionFailed):
        await read_entry(world, hid, entry["id"])


async def test_wrapped_data_key_moved_between_records_fails(world: World,
                                                            database_url: str) -> None:
    _, made = await fill(world)
    sid = made["spaces"]["hemlig"]["id"]
    (a, body_a) = made["entries"]["hemlig"]
    rows = await raw_execute(database_url, "SELECT e.id, d.id FROM entries e JOIN data_keys d "
                             "ON d.id = e.data_key_id WHERE e.classification = 'hemlig'")
    other = [r for r in rows if r[0] != a["id"]]
    if not other:
        b = await post_entry(world.client, world["a_editor"], sid, level="hemlig",
                             body=marker("second"))
        other = [(b["id"], None)]
    # Give entry a's data key the wrapped bytes of another hemlig key.
    await raw_execute(database_url, "UPDATE data_keys SET wrapped = (SELECT d.wrapped FROM "
                      "data_keys d JOIN entries e ON e.data_key_id = d.id WHERE e.id = $1) "
                      "WHERE id = (SELECT data_key_id FROM entries WHERE id = $2)",
                      other[0][0], a["id"])
    # The cipher caches unwrapped keys; a fresh store must not be fooled either.
    from wis_server.classification.crypto import EnvelopeCipher
    from wis_server.storage.database import Database
    from wis_server.storage.unit import Store

    database = Database(database_url)
    try:
        store = Store(database, EnvelopeCipher(world.app.state.keyring),
                      world.app.state.keyring.audit_key)
        with pytest.raises(DecryptionFailed):
            async with store.read() as tx:
                await tx.entries.get(sid, a["id"], lambda _label: True)
    finally:
        await database.dispose()
    assert body_a


def test_keyring_document_never_contains_a_database_url() -> None:
    from wis_server.classification.keys import generate_keyring

    doc = to_document(generate_keyring())
    assert set(doc) == {"format", "levels", "signing", "audit_key", "vapid_private_pem"}
