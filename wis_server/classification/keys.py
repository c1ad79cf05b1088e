"""The keyring: key-encryption keys per level (versioned), token-signing keys, the audit key.

Keys never live in the database. The embedded default keeps them in `WIS_DATA_DIR/keyring.json`
(mode 0600, created by `wis init`); production may instead supply them in `WIS_KEYRING_*`
environment variables (see README). Rotation adds a new version; old versions stay until every
data key has been re-wrapped, so old data stays readable throughout.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..domain.levels import Classification

KEYRING_FORMAT = 1


class KeyringError(Exception):
    """The keyring is missing, unreadable or incomplete. Never carries key material."""


@dataclass(frozen=True, slots=True)
class LevelKeys:
    """All versions of one level's key-encryption key; `current` wraps new data keys."""

    versions: Mapping[int, bytes]
    current: int

    def key(self, version: int) -> bytes:
        try:
            return self.versions[version]
        except KeyError:
            raise KeyringError(f"key version {version} not in keyring") from None


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_pem: bytes

    @property
    def public_pem(self) -> bytes:
        key = serialization.load_pem_private_key(self.private_pem, password=None)
        return key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclass(frozen=True, slots=True)
class Keyring:
    levels: Mapping[Classification, LevelKeys]
    signing: tuple[SigningKey, ...]
    audit_key: bytes
    source: str = field(default="memory", compare=False)
    # Web Push (RFC 8292 VAPID): the server's P-256 key; browsers subscribe with its public key.
    # None only for a keyring written before push existed (`wis init` adds one).
    vapid_private_pem: bytes | None = None

    def level(self, level: Classification) -> LevelKeys:
        try:
            return self.levels[level]
        except KeyError:
            raise KeyringError(f"no key for level {level.value}") from None

    @property
    def current_signing(self) -> SigningKey:
        return self.signing[-1]

    def signing_key(self, kid: str) -> SigningKey | None:
        for key in self.signing:
            if key.kid == kid:
                return key
        return None

    def with_new_versions(self) -> Keyring:
        """A keyring where every level has a fresh current version (old versions retained)."""
        levels = {}
        for level, keys in self.levels.items():
            new_version = max(keys.versions) + 1
            versions = dict(keys.versions)
            versions[new_version] = secrets.token_bytes(32)
            levels[level] = LevelKeys(versions, new_version)
        return replace(self, levels=levels)

    def with_vapid_key(self) -> Keyring:
        """This keyring with a VAPID key, generating one if it has none."""
        if self.vapid_private_pem is not None:
            return self
        return replace(self, vapid_private_pem=_new_signing_key().private_pem)

    @property
    def vapid_public_key(self) -> str | None:
        """The VAPID public key as browsers take it (applicationServerKey): the uncompressed
        P-256 point, base64url without padding."""
        if self.vapid_private_pem is None:
            return None
        private = serialization.load_pem_private_key(self.vapid_private_pem, None)
        point = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return base64.urlsafe_b64encode(point).rstrip(b"=").decode()

    def __repr__(self) -> str:  # never print key material
        versions = {lvl.value: keys.current for lvl, keys in self.levels.items()}
        return f"Keyring(source={self.source!r}, current={versions})"


def generate_keyring() -> Keyring:
    levels = {level: LevelKeys({1: secrets.token_bytes(32)}, 1) for level in Classification}
    return Keyring(levels, (_new_signing_key(),), secrets.token_bytes(32), "generated",
                   _new_signing_key().private_pem)


def _new_signing_key() -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SigningKey(f"sig-{secrets.token_hex(4)}", pem)


def _signing_key(kid: str, pem: bytes, what: str) -> SigningKey:
    """A signing key, checked now (an unusable one would otherwise fail every sign-in)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise KeyringError(f"{what} is not a PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise KeyringError(f"{what} is not an EC P-256 key (ES256)")
    return SigningKey(kid, pem)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeError):
        raise KeyringError(f"{what} is not valid base64") from None


def to_document(keyring: Keyring) -> dict[str, object]:
    return {
        "format": KEYRING_FORMAT,
        "levels": {
            level.value: {
                "current": keys.current,
                "versions": {str(v): _b64(k) for v, k in sorted(keys.versions.items())},
            }
            for level, keys in keyring.levels.items()
        },
        "signing": [{"kid": k.kid, "private_pem": k.private_pem.decode()} for k in keyring.signing],
        "audit_key": _b64(keyring.audit_key),
        **({"vapid_private_pem": keyring.vapid_private_pem.decode()}
           if keyring.vapid_private_pem is not None else {}),
    }


def from_document(doc: Mapping[str, object], source: str) -> Keyring:
    try:
        if doc.get("format") != KEYRING_FORMAT:
            raise KeyringError("unsupported keyring format")
        raw_levels = doc["levels"]
        assert isinstance(raw_levels, dict)
        levels: dict[Classification, LevelKeys] = {}
        for level in Classification:
            entry = raw_levels[level.value]
            versions = {
                int(v): _unb64(k, f"{level.value} key v{v}") for v, k in entry["versions"].items()
            }
            for version, key in versions.items():
                if len(key) != 32:
                    raise KeyringError(f"{level.value} key v{version} is not 256 bits")
            levels[level] = LevelKeys(versions, int(entry["current"]))
            levels[level].key(levels[level].current)
        raw_signing = doc["signing"]
        assert isinstance(raw_signing, list) and raw_signing
        signing = tuple(
            _signing_key(str(k["kid"]), str(k["private_pem"]).encode(), "signing key")
            for k in raw_signing
        )
        audit_key = _unb64(str(doc["audit_key"]), "audit key")
        vapid = None
        if doc.get("vapid_private_pem") is not None:
            vapid = _signing_key("vapid", str(doc["vapid_private_pem"]).encode(),
                                 "VAPID key").private_pem
    except KeyringError:
        raise
    except (KeyError, TypeError, ValueError, AssertionError, AttributeError):
        raise KeyringError("keyring document is incomplete or malformed") from None
    return Keyring(levels, signing, audit_key, source, vapid)


def save_keyring(keyring: Keyring, path: Path) -> None:
    """Write atomically with mode 0600 (the file is created private, never chmod-ed after)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".keyring-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(to_document(keyring), handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_keyring_file(path: Path) -> Keyring:
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        raise KeyringError(f"no keyring at {path}; run `wis init`") from None
    if mode & 0o077:
        raise KeyringError(f"keyring {path} is readable by others (mode {mode:o}); chmod 600 it")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise KeyringError(f"keyring {path} is unreadable") from None
    return from_document(doc, f"file:{path}")


ENV_PREFIX = "WIS_KEYRING_"
# Only these carry keys; WIS_KEYRING_FILE (the file's location) is a setting, not a key.
ENV_KEY_NAMES = tuple(ENV_PREFIX + name for name in (
    *(level.value.upper() for level in Classification), "SIGNING", "AUDIT"))


def keyring_from_env(env: Mapping[str, str]) -> Keyring | None:
    """Keys from the environment, or None if no `WIS_KEYRING_*` variable is set.

    WIS_KEYRING_PUBLIC / _SEKRETESS / _HEMLIG: "1:<base64>,2:<base64>" (highest = current);
    WIS_KEYRING_SIGNING: one or more PEM EC P-256 private keys, in order, last = current;
    WIS_KEYRING_AUDIT: base64 of 32 bytes;
    WIS_KEYRING_VAPID (optional): PEM EC P-256 private key for Web Push.
    """
    if not any(name in env for name in ENV_KEY_NAMES):
        return None
    levels: dict[Classification, LevelKeys] = {}
    for level in Classification:
        name = ENV_PREFIX + level.value.upper()
        raw = env.get(name)
        if not raw:
            raise KeyringError(f"{name} is not set")
        versions: dict[int, bytes] = {}
        for part in raw.split(","):
            version_text, _, key_text = part.strip().partition(":")
            if not version_text.isdigit():
                raise KeyringError(f"{name}: each key is <version>:<base64>")
            key = _unb64(key_text, name)
            if len(key) != 32:
                raise KeyringError(f"{name}: key v{version_text} is not 256 bits")
            versions[int(version_text)] = key
        levels[level] = LevelKeys(versions, max(versions))
    signing_raw = env.get(ENV_PREFIX + "SIGNING", "")
    pems = [
        "-----BEGIN" + chunk for chunk in signing_raw.split("-----BEGIN") if chunk.strip()
    ]
    if not pems:
        raise KeyringError(f"{ENV_PREFIX}SIGNING is not set")
    signing = tuple(_signing_key(f"env-{i + 1}", pem.encode(), f"{ENV_PREFIX}SIGNING #{i + 1}")
                    for i, pem in enumerate(pems))
    audit = _unb64(env.get(ENV_PREFIX + "AUDIT", ""), ENV_PREFIX + "AUDIT")
    if len(audit) != 32:
        raise KeyringError(f"{ENV_PREFIX}AUDIT is not 256 bits")
    vapid_raw = env.get(ENV_PREFIX + "VAPID", "").strip()
    vapid = (_signing_key("vapid", vapid_raw.encode(), f"{ENV_PREFIX}VAPID").private_pem
             if vapid_raw else None)
    return Keyring(levels, signing, audit, "env", vapid)


def load_keyring(env: Mapping[str, str], path: Path) -> Keyring:
    """Keys from `WIS_KEYRING_*` if any is set, otherwise from the keyring file."""
    from_env = keyring_from_env(env)
    return from_env if from_env is not None else load_keyring_file(path)
