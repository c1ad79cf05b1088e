"""The sync endpoint's opaque cursor (docs/sync.md): per space the last seq examined, the
reader's rights when it was made, and a MAC that binds it to its user.

    base64url( version 1 B ‖ clearance 1 B ‖ ceiling 1 B ‖ role 1 B ‖ actor tag 4 B
               ‖ uvarint n ‖ n × (space uuid 16 B ‖ uvarint seq) ‖ HMAC-SHA256[:12] )

The MAC covers the user id too, so a cursor is valid only for the user it was issued to; a
forged, truncated or foreign cursor fails as `sync_cursor_invalid`, never as anything else.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from hashlib import sha256

from ..classification.crypto import derive_key
from ..domain.codes import Code
from ..domain.errors import ValidationFailed
from ..domain.levels import Classification, Role

VERSION = 1
MAC_BYTES = 12
MAX_CURSOR_CHARS = 8192
MAX_SEQ = 2**63 - 1
_LEVELS = list(Classification)
_ROLES = list(Role)


@dataclass(frozen=True, slots=True)
class Rights:
    """What the reader's access rested on when the cursor was made."""

    clearance: Classification
    actor_ceiling: Classification
    role: Role
    actor_tag: bytes


@dataclass(frozen=True, slots=True)
class Cursor:
    rights: Rights
    positions: Mapping[str, int] = field(default_factory=dict)


def actor_tag(actor_id: str) -> bytes:
    return sha256(b"wis:actor-tag|" + actor_id.encode()).digest()[:4]


def _invalid() -> ValidationFailed:
    return ValidationFailed("the cursor is not one this server issued to you; start again "
                            "without a cursor", code=Code.SYNC_CURSOR_INVALID, field="cursor")


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_uvarint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise _invalid()
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if value > MAX_SEQ:
                raise _invalid()
            return value, at
        shift += 7


class CursorCodec:
    def __init__(self, root_key: bytes) -> None:
        self._key = derive_key(root_key, "sync-cursor")

    def _mac(self, user_id: str, payload: bytes) -> bytes:
        message = b"wis:sync-cursor:v1|" + user_id.encode() + b"|" + payload
        return hmac.new(self._key, message, sha256).digest()[:MAC_BYTES]

    def encode(self, user_id: str, cursor: Cursor) -> str:
        r = cursor.rights
        payload = bytearray([VERSION, _LEVELS.index(r.clearance),
                             _LEVELS.index(r.actor_ceiling), _ROLES.index(r.role)])
        payload += r.actor_tag
        payload += _uvarint(len(cursor.positions))
        for space_id, seq in sorted(cursor.positions.items()):
            payload += uuid.UUID(space_id).bytes + _uvarint(seq)
        raw = bytes(payload) + self._mac(user_id, bytes(payload))
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def decode(self, user_id: str, text: str) -> Cursor:
        """The cursor, or ValidationFailed(sync_cursor_invalid) for anything not ours."""
        if not text or len(text) > MAX_CURSOR_CHARS or not text.isascii():
            raise _invalid()
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (ValueError, binascii.Error):
            raise _invalid() from None
        if len(raw) < 9 + MAC_BYTES:
            raise _invalid()
        payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(user_id, payload)):
            raise _invalid()
        # Genuine from here on; the checks below guard against a version we do not know.
        version, clearance, ceiling, role = payload[:4]
        if version != VERSION or clearance >= len(_LEVELS) or ceiling >= len(_LEVELS) \
                or role >= len(_ROLES):
            raise _invalid()
        count, at = _read_uvarint(payload, 8)
        positions: dict[str, int] = {}
        for _ in range(count):
            if at + 16 > len(payload):
                raise _invalid()
            space_id = str(uuid.UUID(bytes=payload[at:at + 16]))
            seq, at = _read_uvarint(payload, at + 16)
            positions[space_id] = seq
        if at != len(payload):
            raise _invalid()
        rights = Rights(_LEVELS[clearance], _LEVELS[ceiling], _ROLES[role], payload[4:8])
        return Cursor(rights, positions)
