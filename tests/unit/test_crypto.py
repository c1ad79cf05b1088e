"""Envelope encryption: round trips, and every way a ciphertext or wrapped key can be moved,
relabelled or altered ends in DecryptionFailed — never in wrong plaintext."""

from __future__ import annotations

import json

import pytest

from wis_server.classification.crypto import (
    NONCE_BYTES,
    DecryptionFailed,
    EnvelopeCipher,
    FieldContext,
    WrappedKey,
)
from wis_server.classification.keys import Keyring, KeyringError, generate_keyring
from wis_server.domain.levels import Classification

LEVELS = list(Classification)


def ctx(level: Classification = Classification.HEMLIG, row: str = "row-1",
        field: str = "body", table: str = "entries", space: str = "space-1") -> FieldContext:
    return FieldContext(table, row, field, space, level)


@pytest.fixture
def cipher() -> EnvelopeCipher:
    return EnvelopeCipher(generate_keyring())


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("text", ["", "hej", "ÖVNING åäö 🌨️", "x" * 100_000, "\x00nul"])
def test_round_trip(cipher: EnvelopeCipher, level: Classification, text: str) -> None:
    key = cipher.new_data_key("k1", level)
    assert key.level is level and key.kek_version == 1
    sealed = cipher.seal(key, ctx(level), text)
    assert text.encode() not in sealed or text == ""
    assert cipher.open(key, ctx(level), sealed) == text
    # A fresh cipher (no cache) with the same keyring opens it too.
    assert EnvelopeCipher(cipher.keyring).open(key, ctx(level), sealed) == text


def test_nonces_are_unique(cipher: EnvelopeCipher) -> None:
    key = cipher.new_data_key("k1", Classification.PUBLIC)
    sealed = {cipher.seal(key, ctx(Classification.PUBLIC), "same") for _ in range(200)}
    assert len(sealed) == 200
    assert len({s[1:1 + NONCE_BYTES] for s in sealed}) == 200


@pytest.mark.parametrize("change", ["table", "row", "field", "space", "level_ctx"])
def test_moved_ciphertext_fails(cipher: EnvelopeCipher, change: str) -> None:
    key = cipher.new_data_key("k1", Classification.HEMLIG)
    sealed = cipher.seal(key, ctx(), "hemligt")
    moved = {
        "table": ctx(table="report_sections"),
        "row": ctx(row="row-2"),
        "field": ctx(field="title"),
        "space": ctx(space="space-2"),
        "level_ctx": ctx(Classification.PUBLIC),
    }[change]
    with pytest.raises(DecryptionFailed):
        cipher.open(key, moved, sealed)


def test_relabelled_data_key_fails(cipher: EnvelopeCipher) -> None:
    key = cipher.new_data_key("k1", Classification.HEMLIG)
    sealed = cipher.seal(key, ctx(), "hemligt")
    relabelled = WrappedKey(key.id, Classification.PUBLIC, key.kek_version, key.wrapped)
    fresh = EnvelopeCipher(cipher.keyring)
    with pytest.raises(DecryptionFailed):
        fresh.open(relabelled, ctx(Classification.PUBLIC), sealed)
    with pytest.raises(DecryptionFailed):
        fresh.open(relabelled, ctx(), sealed)


def test_wrapped_key_bound_to_its_id(cipher: EnvelopeCipher) -> None:
    k1 = cipher.new_data_key("k1", Classification.SEKRETESS)
    k2 = cipher.new_data_key("k2", Classification.SEKRETESS)
    sealed = cipher.seal(k1, ctx(Classification.SEKRETESS), "a")
    fresh = EnvelopeCipher(cipher.keyring)
    # k1's wrapped bytes under k2's id, and the other way round.
    with pytest.raises(DecryptionFailed):
        fresh.open(WrappedKey("k2", k1.level, 1, k1.wrapped), ctx(Classification.SEKRETESS),
                   sealed)
    with pytest.raises(DecryptionFailed):
        fresh.open(WrappedKey("k1", k2.level, 1, k2.wrapped), ctx(Classification.SEKRETESS),
                   sealed)


def test_data_key_from_another_record_fails(cipher: EnvelopeCipher) -> None:
    k1 = cipher.new_data_key("k1", Classification.HEMLIG)
    k2 = cipher.new_data_key("k2", Classification.HEMLIG)
    sealed = cipher.seal(k1, ctx(), "a")
    with pytest.raises(DecryptionFailed):
        cipher.open(k2, ctx(), sealed)


@pytest.mark.parametrize("where", [0, 1, 5, 13, 20, -1])
def test_any_flipped_byte_fails(cipher: EnvelopeCipher, where: int) -> None:
    key = cipher.new_data_key("k1", Classification.PUBLIC)
    sealed = bytearray(cipher.seal(key, ctx(Classification.PUBLIC), "innehåll"))
    sealed[where] ^= 0x01
    with pytest.raises(DecryptionFailed):
        cipher.open(key, ctx(Classification.PUBLIC), bytes(sealed))


def test_truncated_or_empty_ciphertext_fails(cipher: EnvelopeCipher) -> None:
    key = cipher.new_data_key("k1", Classification.PUBLIC)
    sealed = cipher.seal(key, ctx(Classification.PUBLIC), "innehåll")
    for broken in (b"", b"\x01", sealed[:10], sealed[:-1], b"\x02" + sealed[1:]):
        with pytest.raises(DecryptionFailed):
            cipher.open(key, ctx(Classification.PUBLIC), broken)


def test_tampered_wrapped_key_fails(cipher: EnvelopeCipher) -> None:
    key = cipher.new_data_key("k1", Classification.HEMLIG)
    sealed = cipher.seal(key, ctx(), "a")
    wrapped = bytearray(key.wrapped)
    wrapped[-1] ^= 1
    fresh = EnvelopeCipher(cipher.keyring)
    with pytest.raises(DecryptionFailed):
        fresh.open(WrappedKey(key.id, key.level, key.kek_version, bytes(wrapped)), ctx(),
                   sealed)


def test_another_keyring_cannot_open(cipher: EnvelopeCipher) -> None:
    key = cipher.new_data_key("k1", Classification.PUBLIC)
    sealed = cipher.seal(key, ctx(Classification.PUBLIC), "a")
    with pytest.raises(DecryptionFailed):
        EnvelopeCipher(generate_keyring()).open(key, ctx(Classification.PUBLIC), sealed)


def test_unknown_key_version_fails_cleanly(cipher: EnvelopeCipher) -> None:
    key = cipher.new_data_key("k1", Classification.PUBLIC)
    sealed = cipher.seal(key, ctx(Classification.PUBLIC), "a")
    future = WrappedKey(key.id, key.level, 99, key.wrapped)
    with pytest.raises(DecryptionFailed):
        EnvelopeCipher(cipher.keyring).open(future, ctx(Classification.PUBLIC), sealed)


def test_seal_refuses_a_key_of_another_level(cipher: EnvelopeCipher) -> None:
    key = cipher.new_data_key("k1", Classification.PUBLIC)
    with pytest.raises(DecryptionFailed):
        cipher.seal(key, ctx(Classification.HEMLIG), "hemligt")


def test_rewrap_keeps_data_readable_and_uses_the_new_version() -> None:
    old_ring = generate_keyring()
    old = EnvelopeCipher(old_ring)
    keys = {level: old.new_data_key(f"k-{level.value}", level) for level in LEVELS}
    sealed = {level: old.seal(keys[level], ctx(level), level.value) for level in LEVELS}
    new_ring = old_ring.with_new_versions()
    new = EnvelopeCipher(new_ring)
    for level in LEVELS:
        rewrapped = new.rewrap(keys[level])
        assert rewrapped.kek_version == 2 and rewrapped.wrapped != keys[level].wrapped
        assert rewrapped.id == keys[level].id and rewrapped.level is level
        assert EnvelopeCipher(new_ring).open(rewrapped, ctx(level), sealed[level]) == level.value
        assert EnvelopeCipher(new_ring).open(keys[level], ctx(level), sealed[level]) == \
            level.value  # old version still in the keyring
        assert new.rewrap(rewrapped) is rewrapped  # already current
        # The old keyring cannot open the re-wrapped key.
        with pytest.raises(DecryptionFailed):
            EnvelopeCipher(old_ring).open(rewrapped, ctx(level), sealed[level])
    assert new.new_data_key("n", Classification.PUBLIC).kek_version == 2


def test_levels_have_independent_keys() -> None:
    ring = generate_keyring()
    values = [ring.level(level).key(1) for level in LEVELS]
    assert len(set(values)) == 3 and all(len(v) == 32 for v in values)


def test_cipher_reloads_a_rotated_keyring() -> None:
    ring = generate_keyring()
    holder: dict[str, Keyring] = {"ring": ring}
    cipher = EnvelopeCipher(ring, reload=lambda: holder["ring"], reload_every_s=3600)
    rotated = ring.with_new_versions()
    other = EnvelopeCipher(rotated)
    key = other.new_data_key("k", Classification.HEMLIG)
    sealed = other.seal(key, ctx(), "ny")
    holder["ring"] = rotated
    # A missing version forces a reload at once, whatever the interval.
    assert cipher.open(key, ctx(), sealed) == "ny"
    assert cipher.keyring.level(Classification.HEMLIG).current == 2


def test_cipher_keeps_serving_if_the_reload_fails() -> None:
    ring = generate_keyring()

    def broken() -> Keyring:
        raise KeyringError("unreadable")

    cipher = EnvelopeCipher(ring, reload=broken, reload_every_s=0)
    key = cipher.new_data_key("k", Classification.PUBLIC)
    sealed = cipher.seal(key, ctx(Classification.PUBLIC), "ok")
    assert EnvelopeCipher(ring, reload=broken, reload_every_s=0).open(
        key, ctx(Classification.PUBLIC), sealed) == "ok"


def test_data_key_cache_is_bounded() -> None:
    cipher = EnvelopeCipher(generate_keyring(), cache_size=10)
    keys = [cipher.new_data_key(f"k{i}", Classification.PUBLIC) for i in range(50)]
    assert len(cipher._cache) <= 11
    sealed = cipher.seal(keys[0], ctx(Classification.PUBLIC), "still")
    assert cipher.open(keys[0], ctx(Classification.PUBLIC), sealed) == "still"


def test_errors_carry_no_content(cipher: EnvelopeCipher) -> None:
    key = cipher.new_data_key("k1", Classification.HEMLIG)
    sealed = cipher.seal(key, ctx(), "HEMLIG-TEXT-123")
    with pytest.raises(DecryptionFailed) as info:
        cipher.open(key, ctx(row="other"), sealed)
    assert "HEMLIG" not in str(info.value)
    assert sealed.hex() not in str(info.value)


def test_truncated_wrapped_key_fails(cipher: EnvelopeCipher) -> None:
    key = cipher.new_data_key("k1", Classification.HEMLIG)
    sealed = cipher.seal(key, ctx(), "a")
    for wrapped in (b"", b"\x00" * 4, key.wrapped[:12], key.wrapped[:-1]):
        with pytest.raises(DecryptionFailed):
            EnvelopeCipher(cipher.keyring).open(
                WrappedKey(key.id, key.level, key.kek_version, wrapped), ctx(), sealed)


def test_bound_facts_are_part_of_the_associated_data(cipher: EnvelopeCipher) -> None:
    key = cipher.new_data_key("k1", Classification.HEMLIG)
    bound = FieldContext("entries", "row-1", "body", "space-1", Classification.HEMLIG,
                         bound=("author-1", "actor-1", "note", "2026-12-01T00:00:00+00:00", "7"))
    sealed = cipher.seal(key, bound, "hemligt")
    assert sealed[:1] == b"\x02" and cipher.open(key, bound, sealed) == "hemligt"
    for other in (("author-2", "actor-1", "note", "2026-12-01T00:00:00+00:00", "7"),
                  ("author-1", "actor-1", "note", "2026-12-01T00:00:00+00:00", "8"),
                  ("author-1|actor-1", "note", "2026-12-01T00:00:00+00:00", "7")):
        with pytest.raises(DecryptionFailed):
            cipher.open(key, FieldContext("entries", "row-1", "body", "space-1",
                                          Classification.HEMLIG, bound=other), sealed)
    with pytest.raises(DecryptionFailed):  # nor under the unbound (old) associated data
        cipher.open(key, ctx(), sealed)
    # A row sealed before binding existed (format 1) is still read under a bound context.
    legacy = cipher.seal(key, ctx(), "gammalt")
    assert legacy[:1] == b"\x01" and cipher.open(key, bound, legacy) == "gammalt"


@pytest.mark.parametrize("values", [
    [], ["entries", "id-1", "body"], ["ä", "\u00e9\u2603", "\U0001f600", 'q"uote', "back\\slash",
                                      "\x00\x1f\x7f", "new\nline\t", "</script>", "\ud800"],
])
def test_aad_list_encoding_is_json_dumps_byte_for_byte(values: list[str]) -> None:
    """The v2 associated data of every stored ciphertext depends on this encoding."""
    from wis_server.classification.crypto import _json_list

    assert _json_list(values) == json.dumps(values, separators=(",", ":")).encode()
    assert _json_list([*values, 3]) == json.dumps([*values, 3], separators=(",", ":")).encode()
    assert _json_list([*values, Classification.SEKRETESS]) == json.dumps(
        [*values, Classification.SEKRETESS], separators=(",", ":")).encode()


def test_aad_list_encoding_fast_path_and_escapes_agree_with_json_dumps() -> None:
    """The plain-ASCII shortcut must give json.dumps' bytes, and must not be taken when a
    value holds a quote (e.g. one that poses as a separator), a backslash or a control."""
    import random

    from wis_server.classification.crypto import _json_list

    rng = random.Random(13)
    alphabet = ['"', '","', "\\", "\x00", "\x1f", "\x7f", "\x80", "ä", "\u2028", " ", ",",
                "a", "Z", "0", "-", ":", "+", "T", "\ud800", "\U0001f600"]
    cases = [["a", 'b"c'], ['x","y'], ['x"', '"y'], ["\x7f"], ["a\\"], ["", ""], [""],
             ["2026-12-03T14:00:00.123456+00:00", "42", "note"]]
    for _ in range(3000):
        cases.append(["".join(rng.choices(alphabet, k=rng.randint(0, 6)))
                      for _ in range(rng.randint(1, 5))])
    for values in cases:
        assert _json_list(values) == json.dumps(values, separators=(",", ":")).encode(), values


def test_bound_context_aad_is_unchanged() -> None:
    """A ciphertext sealed before the encoder was changed still opens: the AAD of a bound
    context is the documented JSON list."""
    bound = FieldContext("entries", "row-1", "body", "space-1", Classification.SEKRETESS,
                         bound=("user-1", "actor-1", "note", "2026-12-02T10:00:00+00:00", "7"))
    expected = b"wis:v2|" + json.dumps(
        ["entries", "row-1", "body", "space-1", "sekretess", "key-1", "user-1", "actor-1",
         "note", "2026-12-02T10:00:00+00:00", "7"], separators=(",", ":")).encode()
    assert bound.aad("key-1") == expected
