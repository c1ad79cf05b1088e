"""The sync cursor: round trip, bound to its user and key, and every malformed or altered one
refused with the one stable code (docs/sync.md)."""

from __future__ import annotations

import base64
import uuid

import pytest

from wis_server.domain.codes import Code
from wis_server.domain.errors import ValidationFailed
from wis_server.domain.levels import Classification, Role
from wis_server.services.sync_cursor import Cursor, CursorCodec, Rights, actor_tag

RIGHTS = Rights(Classification.SEKRETESS, Classification.HEMLIG, Role.EDITOR, actor_tag("a"))


def _refused(codec: CursorCodec, user: str, text: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        codec.decode(user, text)
    assert caught.value.code is Code.SYNC_CURSOR_INVALID


def test_round_trip_of_rights_and_positions() -> None:
    codec = CursorCodec(b"k" * 32)
    positions = {str(uuid.uuid4()): seq for seq in (0, 1, 127, 128, 2**40, 2**63 - 1)}
    text = codec.encode("u1", Cursor(RIGHTS, positions))
    assert codec.decode("u1", text) == Cursor(RIGHTS, positions)
    assert text.isascii() and "=" not in text and "+" not in text and "/" not in text
    empty = codec.encode("u1", Cursor(RIGHTS, {}))
    assert codec.decode("u1", empty).positions == {}
    assert len(empty) < 40  # small: it travels in every request


def test_another_user_another_key_or_any_altered_byte_is_refused() -> None:
    codec = CursorCodec(b"k" * 32)
    text = codec.encode("u1", Cursor(RIGHTS, {str(uuid.uuid4()): 42}))
    _refused(codec, "u2", text)
    _refused(CursorCodec(b"j" * 32), "u1", text)
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    for i in range(len(raw)):
        for bit in (0x01, 0x80):
            altered = bytearray(raw)
            altered[i] ^= bit
            _refused(codec, "u1", base64.urlsafe_b64encode(bytes(altered)).decode())
    for bad in ("", "!", "é", text[:-1], text[:10], text + "AA", "A" * 9000):
        _refused(codec, "u1", bad)
