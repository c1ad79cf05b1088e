"""Envelope encryption of content at rest: AES-256-GCM, a data key per record.

    field plaintext ──AES-256-GCM(data key, nonce, aad)──► nonce ‖ ciphertext ‖ tag
    data key ─────────AES-256-GCM(KEK[level][version], aad=key id ‖ level)──► wrapped key

The associated data binds each ciphertext to its table, row id, field, space, level and data key
id, so a ciphertext copied to another row, field or level fails to decrypt. A context may also
bind facts a reader relies on that live beside the ciphertext in clear (an entry's author,
kind, time and seq): a row re-attributed in the database then fails to decrypt too. Such
ciphertexts carry format byte 2; format 1 (no bound facts) is still read. An approved crypto
module replaces this by implementing the same `ContentCipher` port.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..domain.levels import Classification
from .keys import Keyring, KeyringError

NONCE_BYTES = 12
RELOAD_EVERY_S = 5.0
"""How often a server re-reads a file keyring (a rotation elsewhere may have changed it)."""
_TAG_BYTES = 16
_FORMAT = b"\x01"
_FORMAT_BOUND = b"\x02"


class DecryptionFailed(Exception):
    """A ciphertext or wrapped key did not authenticate. Carries no content."""


@dataclass(frozen=True, slots=True)
class FieldContext:
    """Where a ciphertext belongs; becomes the associated data."""

    table: str
    row_id: str
    field: str
    space_id: str
    level: Classification
    bound: tuple[str, ...] = ()
    """Further facts of the row the ciphertext is bound to (e.g. author, kind, time, seq)."""

    def aad(self, data_key_id: str, format_: bytes | None = None) -> bytes:
        if format_ is None:
            format_ = self.format
        if format_ == _FORMAT:
            return "|".join(("wis:v1", self.table, self.row_id, self.field, self.space_id,
                             self.level.value, data_key_id)).encode()
        # An unambiguous encoding: no value can pose as a separator.
        return b"wis:v2|" + _json_list([self.table, self.row_id, self.field, self.space_id,
                                        self.level.value, data_key_id, *self.bound])

    @property
    def format(self) -> bytes:
        return _FORMAT_BOUND if self.bound else _FORMAT


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key as stored: wrapped under the level's KEK of `kek_version`."""

    id: str
    level: Classification
    kek_version: int
    wrapped: bytes


class ContentCipher(Protocol):
    """The port an approved crypto module implements."""

    def new_data_key(self, key_id: str, level: Classification) -> WrappedKey: ...

    def seal(self, key: WrappedKey, context: FieldContext, plaintext: str) -> bytes: ...

    def open(self, key: WrappedKey, context: FieldContext, ciphertext: bytes) -> str: ...

    def rewrap(self, key: WrappedKey) -> WrappedKey: ...


def _json_list(values: list[str]) -> bytes:
    """`json.dumps(values, separators=(",", ":")).encode()`, byte for byte, without building
    an encoder per call (this runs once per field opened). The common case (ids, level and
    kind names, timestamps, numbers) is printable ASCII with no quote or backslash, which json
    leaves as it is: checked on the joined bytes in C. Otherwise each string is escaped by the
    same C function json's encoder uses for str (and str subclasses); anything that is not a
    str takes json.dumps itself."""
    try:
        inner = '","'.join(values)
    except TypeError:
        return json.dumps(values, separators=(",", ":")).encode()
    if values and inner.isascii():
        raw = inner.encode()
        # Deleting every plain byte must leave exactly the separators' quotes.
        if raw.translate(None, _PLAIN_JSON) == b'"' * (2 * (len(values) - 1)):
            return b'["' + raw + b'"]'
    return ("[" + ",".join(map(encode_basestring_ascii, values)) + "]").encode()


_PLAIN_JSON = bytes(c for c in range(0x20, 0x7F) if c not in b'"\\')
"""The bytes json.dumps writes as they are (with ensure_ascii): printable ASCII but the
quote and the backslash."""


def derive_key(root: bytes, purpose: str) -> bytes:
    """A sub-key of a keyring key for one purpose (e.g. keyed digests the database keeps),
    so nothing stored is an unkeyed hash of something guessable."""
    return hmac.new(root, b"wis:derive:v1|" + purpose.encode(), hashlib.sha256).digest()


def _wrap_aad(key_id: str, level: Classification) -> bytes:
    return f"wis:dek:v1|{key_id}|{level.value}".encode()


class EnvelopeCipher:
    """The default ContentCipher, on `cryptography`'s AES-GCM, with a bounded data-key cache
    (in memory only: unwrapped data keys, held as ready AES-GCM objects, never leave it)."""

    def __init__(self, keyring: Keyring, cache_size: int = 20_000,
                 reload: Callable[[], Keyring] | None = None,
                 reload_every_s: float = RELOAD_EVERY_S
                 ) -> None:
        self._keyring = keyring
        self._cache: OrderedDict[tuple[str, int], AESGCM] = OrderedDict()
        self._cache_size = cache_size
        self._reload = reload
        self._reload_every_s = reload_every_s
        self._checked_at = time.monotonic()

    def refresh_keyring(self, *, force: bool = False) -> None:
        """Pick up a rotated keyring (`wis keys rotate` in another process) so new data keys
        use the new version and re-wrapped ones can be opened. Checked at most every few
        seconds, or at once when a key version is missing."""
        if self._reload is None:
            return
        now = time.monotonic()
        if not force and now - self._checked_at < self._reload_every_s:
            return
        self._checked_at = now
        try:
            fresh = self._reload()
        except KeyringError:
            return  # keep serving with the keys we have
        if fresh.levels != self._keyring.levels:
            self._keyring = fresh

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    def replace_keyring(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._cache.clear()

    def new_data_key(self, key_id: str, level: Classification) -> WrappedKey:
        self.refresh_keyring()
        keys = self._keyring.level(level)
        data_key = AESGCM.generate_key(bit_length=256)
        wrapped = self._wrap(data_key, key_id, level, keys.current)
        self._remember(key_id, keys.current, AESGCM(data_key))
        return WrappedKey(key_id, level, keys.current, wrapped)

    def seal(self, key: WrappedKey, context: FieldContext, plaintext: str) -> bytes:
        if context.level is not key.level:
            raise DecryptionFailed("data key level does not match field level")
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead(key).encrypt(
            nonce, plaintext.encode("utf-8"), context.aad(key.id, context.format)
        )
        return context.format + nonce + sealed

    def open(self, key: WrappedKey, context: FieldContext, ciphertext: bytes) -> str:
        format_ = ciphertext[:1]
        # A bound context opens only bound ciphertexts, except rows written before binding
        # existed (format 1); an unbound context never opens a bound one.
        if (context.level is not key.level or format_ not in (_FORMAT, context.format)
                or len(ciphertext) < 1 + NONCE_BYTES + _TAG_BYTES):
            raise DecryptionFailed("ciphertext does not belong here")
        nonce, sealed = ciphertext[1 : 1 + NONCE_BYTES], ciphertext[1 + NONCE_BYTES :]
        try:
            plain = self._aead(key).decrypt(nonce, sealed, context.aad(key.id, format_))
        except InvalidTag:
            raise DecryptionFailed("ciphertext failed authentication") from None
        return plain.decode("utf-8")

    def rewrap(self, key: WrappedKey) -> WrappedKey:
        """Re-wrap a data key under its level's current KEK (rotation). Data is untouched."""
        current = self._keyring.level(key.level).current
        if key.kek_version == current:
            return key
        data_key = self._unwrap(key)
        wrapped = self._wrap(data_key, key.id, key.level, current)
        return WrappedKey(key.id, key.level, current, wrapped)

    def _wrap(self, data_key: bytes, key_id: str, level: Classification, version: int) -> bytes:
        kek = self._keyring.level(level).key(version)
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + AESGCM(kek).encrypt(nonce, data_key, _wrap_aad(key_id, level))

    def _aead(self, key: WrappedKey) -> AESGCM:
        """The data key, unwrapped, as an AES-GCM object (made once per key, not per field:
        building one costs more than opening a short field)."""
        cache_key = (key.id, key.kek_version)
        cached = self._cache.get(cache_key)
        if cached is not None:
            self._cache.move_to_end(cache_key)
            return cached
        aead = AESGCM(self._unwrap(key))
        self._remember(key.id, key.kek_version, aead)
        return aead

    def _unwrap(self, key: WrappedKey) -> bytes:
        if key.kek_version not in self._keyring.level(key.level).versions:
            self.refresh_keyring(force=True)
        try:
            kek = self._keyring.level(key.level).key(key.kek_version)
        except KeyringError:
            raise DecryptionFailed("key version not available") from None
        nonce, sealed = key.wrapped[:NONCE_BYTES], key.wrapped[NONCE_BYTES:]
        try:
            data_key = AESGCM(kek).decrypt(nonce, sealed, _wrap_aad(key.id, key.level))
        except (InvalidTag, ValueError):  # ValueError: a truncated nonce
            raise DecryptionFailed("data key failed authentication") from None
        return data_key

    def _remember(self, key_id: str, version: int, aead: AESGCM) -> None:
        self._cache[(key_id, version)] = aead
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
