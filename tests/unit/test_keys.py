"""The keyring: file and environment loading, rotation, and that malformed keyrings fail with
KeyringError whose message never contains key material; repr never shows keys."""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wis_server.classification.keys import (
    KeyringError,
    from_document,
    generate_keyring,
    keyring_from_env,
    load_keyring,
    load_keyring_file,
    save_keyring,
    to_document,
)
from wis_server.domain.levels import Classification


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def env_keys() -> tuple[dict[str, str], dict[str, Any]]:
    raw = {level: [secrets.token_bytes(32), secrets.token_bytes(32)] for level in
           ("PUBLIC", "SEKRETESS", "HEMLIG")}
    audit = secrets.token_bytes(32)
    signing = [pem(), pem()]
    env = {f"WIS_KEYRING_{lvl}": f"1:{b64(k[0])},2:{b64(k[1])}" for lvl, k in raw.items()}
    env["WIS_KEYRING_SIGNING"] = "\n".join(signing)
    env["WIS_KEYRING_AUDIT"] = b64(audit)
    return env, {"levels": raw, "audit": audit, "signing": signing}


def secrets_in(ring: Any) -> list[str]:
    out = [b64(ring.audit_key), ring.audit_key.hex()]
    for keys in ring.levels.values():
        for key in keys.versions.values():
            out += [b64(key), key.hex()]
    for key in ring.signing:
        out.append(key.private_pem.decode().splitlines()[1])
    return out


def test_generate_save_load_round_trip(tmp_path: Path) -> None:
    ring = generate_keyring()
    path = tmp_path / "keyring.json"
    save_keyring(ring, path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    loaded = load_keyring_file(path)
    assert loaded == ring
    assert loaded.source == f"file:{path}"
    assert loaded.current_signing.kid == ring.current_signing.kid
    assert loaded.signing_key(ring.current_signing.kid) is not None
    assert loaded.signing_key("nope") is None
    assert b"BEGIN PUBLIC KEY" in loaded.current_signing.public_pem
    for level in Classification:
        assert loaded.level(level).current == 1


def test_save_replaces_atomically_and_stays_private(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    save_keyring(generate_keyring(), path)
    os.chmod(path, 0o600)
    rotated = load_keyring_file(path).with_new_versions()
    save_keyring(rotated, path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_keyring_file(path) == rotated
    assert [p.name for p in tmp_path.iterdir()] == ["keyring.json"]


def test_with_new_versions_keeps_old_ones() -> None:
    ring = generate_keyring()
    rotated = ring.with_new_versions().with_new_versions()
    for level in Classification:
        keys = rotated.level(level)
        assert keys.current == 3 and set(keys.versions) == {1, 2, 3}
        assert keys.key(1) == ring.level(level).key(1)
        assert len({keys.key(v) for v in (1, 2, 3)}) == 3
    assert rotated.audit_key == ring.audit_key and rotated.signing == ring.signing
    with pytest.raises(KeyringError):
        rotated.level(Classification.PUBLIC).key(4)


def test_repr_hides_keys() -> None:
    ring = generate_keyring()
    text = repr(ring) + str(ring)
    for secret in secrets_in(ring):
        assert secret not in text
    assert "PRIVATE" not in text
    assert "current" in text


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o666])
def test_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keyring.json"
    save_keyring(generate_keyring(), path)
    os.chmod(path, mode)
    with pytest.raises(KeyringError, match="chmod 600"):
        load_keyring_file(path)


def test_missing_keyring_file(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="wis init"):
        load_keyring_file(tmp_path / "nope.json")


def corrupt(doc: dict[str, Any], how: str) -> Any:
    doc = json.loads(json.dumps(doc))
    if how == "format":
        doc["format"] = 99
    elif how == "no_levels":
        del doc["levels"]
    elif how == "missing_level":
        del doc["levels"]["hemlig"]
    elif how == "short_key":
        doc["levels"]["public"]["versions"]["1"] = b64(b"\x01" * 16)
    elif how == "bad_b64":
        doc["levels"]["public"]["versions"]["1"] = doc["levels"]["public"]["versions"]["1"][:-3] + "!!!"
    elif how == "current_missing":
        doc["levels"]["sekretess"]["current"] = 7
    elif how == "version_not_int":
        doc["levels"]["public"]["versions"] = {"one": doc["levels"]["public"]["versions"]["1"]}
    elif how == "no_signing":
        doc["signing"] = []
    elif how == "signing_not_list":
        doc["signing"] = "x"
    elif how == "no_audit":
        del doc["audit_key"]
    elif how == "levels_list":
        doc["levels"] = ["x"]
    elif how == "not_object":
        return ["not", "an", "object"]
    return doc


@pytest.mark.parametrize("how", [
    "format", "no_levels", "missing_level", "short_key", "bad_b64", "current_missing",
    "version_not_int", "no_signing", "signing_not_list", "no_audit", "levels_list",
])
def test_malformed_documents_give_keyring_error_without_secrets(how: str) -> None:
    ring = generate_keyring()
    doc = corrupt(to_document(ring), how)
    with pytest.raises(KeyringError) as info:
        from_document(doc, "test")
    message = str(info.value)
    for secret in secrets_in(ring):
        assert secret not in message
    assert info.value.__cause__ is None or not any(s in str(info.value.__cause__)
                                                   for s in secrets_in(ring))


@pytest.mark.parametrize("content", ["", "{", "[1, 2]", "null", '{"format": 1}', "\x00\xff"])
def test_malformed_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keyring.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
        handle.write(content)
    with pytest.raises(KeyringError):
        load_keyring_file(path)


def test_keyring_from_env() -> None:
    env, raw = env_keys()
    ring = keyring_from_env(env)
    assert ring is not None and ring.source == "env"
    for level in Classification:
        keys = ring.level(level)
        assert keys.current == 2
        assert keys.key(1) == raw["levels"][level.value.upper()][0]
        assert keys.key(2) == raw["levels"][level.value.upper()][1]
    assert ring.audit_key == raw["audit"]
    assert len(ring.signing) == 2
    assert ring.current_signing.private_pem.decode().strip() == raw["signing"][1].strip()
    for secret in secrets_in(ring):
        assert secret not in repr(ring)


def test_no_env_keys_means_file(tmp_path: Path) -> None:
    assert keyring_from_env({}) is None
    assert keyring_from_env({"WIS_DATA_DIR": "x", "PATH": "/bin"}) is None
    # The file's location is a setting, not a key.
    assert keyring_from_env({"WIS_KEYRING_FILE": str(tmp_path / "k.json")}) is None
    path = tmp_path / "k.json"
    ring = generate_keyring()
    save_keyring(ring, path)
    assert load_keyring({"WIS_KEYRING_FILE": str(path)}, path) == ring
    env, _ = env_keys()
    assert load_keyring(env, tmp_path / "absent.json").source == "env"


@pytest.mark.parametrize("breakage", [
    ("WIS_KEYRING_HEMLIG", None), ("WIS_KEYRING_SIGNING", None), ("WIS_KEYRING_AUDIT", None),
    ("WIS_KEYRING_PUBLIC", "x:abc"), ("WIS_KEYRING_PUBLIC", "1:not base64!"),
    ("WIS_KEYRING_SEKRETESS", "1:" + b64(b"short")), ("WIS_KEYRING_AUDIT", b64(b"short")),
    ("WIS_KEYRING_PUBLIC", ""),
])
def test_malformed_env_keyring(breakage: tuple[str, str | None]) -> None:
    env, raw = env_keys()
    name, value = breakage
    if value is None:
        del env[name]
    else:
        env[name] = value
    with pytest.raises(KeyringError) as info:
        keyring_from_env(env)
    message = str(info.value)
    for keys in raw["levels"].values():
        for key in keys:
            assert b64(key) not in message
    assert b64(raw["audit"]) not in message
    assert "PRIVATE" not in message


@pytest.mark.parametrize("bad", [
    "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n",
    "rsa",
])
def test_unusable_signing_keys_are_refused_at_load(bad: str) -> None:
    env, _ = env_keys()
    if bad == "rsa":
        from cryptography.hazmat.primitives.asymmetric import rsa

        bad = rsa.generate_private_key(65537, 2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()
    env["WIS_KEYRING_SIGNING"] = bad
    with pytest.raises(KeyringError) as info:
        keyring_from_env(env)
    assert "c2VjcmV0" not in str(info.value) and bad.splitlines()[1] not in str(info.value)
    doc = to_document(generate_keyring())
    doc["signing"] = [{"kid": "k", "private_pem": bad}]  # type: ignore[index]
    with pytest.raises(KeyringError) as info:
        from_document(doc, "test")
    assert bad.splitlines()[1] not in str(info.value)
