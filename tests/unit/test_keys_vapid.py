"""The keyring's Web Push (VAPID) key: generated with the keyring, round-trips through the file
and the environment, is optional for keyrings written before push, never printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.unit.test_keys import env_keys, pem
from wis_server.classification.keys import (
    KeyringError,
    from_document,
    generate_keyring,
    keyring_from_env,
    load_keyring_file,
    save_keyring,
    to_document,
)


def test_generated_keyring_has_a_p256_vapid_key(tmp_path: Path) -> None:
    ring = generate_keyring()
    assert ring.vapid_private_pem is not None
    key = serialization.load_pem_private_key(ring.vapid_private_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    save_keyring(ring, tmp_path / "k.json")
    assert load_keyring_file(tmp_path / "k.json").vapid_private_pem == ring.vapid_private_pem
    body = ring.vapid_private_pem.decode().splitlines()[1]
    assert body not in repr(ring)


def test_keyring_without_vapid_key_loads_and_gets_one() -> None:
    doc = to_document(generate_keyring())
    del doc["vapid_private_pem"]
    old = from_document(doc, "old")
    assert old.vapid_private_pem is None
    upgraded = old.with_vapid_key()
    assert upgraded.vapid_private_pem is not None
    assert upgraded.with_vapid_key() is upgraded  # never replaced once there
    assert upgraded.levels == old.levels and upgraded.audit_key == old.audit_key


def test_bad_vapid_key_is_refused_without_echoing_it() -> None:
    doc = to_document(generate_keyring())
    doc["vapid_private_pem"] = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----"
    with pytest.raises(KeyringError) as info:
        from_document(json.loads(json.dumps(doc)), "bad")
    assert "bm90IGEga2V5" not in str(info.value) and "VAPID" in str(info.value)


def test_vapid_key_from_environment() -> None:
    env, _ = env_keys()
    assert keyring_from_env(env) is not None
    assert keyring_from_env(env).vapid_private_pem is None  # type: ignore[union-attr]
    vapid = pem()
    ring = keyring_from_env({**env, "WIS_KEYRING_VAPID": vapid})
    assert ring is not None and ring.vapid_private_pem == vapid.strip().encode()
    with pytest.raises(KeyringError, match="WIS_KEYRING_VAPID"):
        keyring_from_env({**env, "WIS_KEYRING_VAPID": "garbage"})
