"""Signed one-time acknowledgement links: `<public url>/k/<token>`.

The token names one (call-out, contact point) and an expiry, signed with HMAC-SHA256 under a
key derived from the keyring (never stored in the database). It is no session: it can only
show the acknowledgement page (which carries nothing classified) and, by its button's POST,
acknowledge that one contact point once. Short enough for an SMS: 51 characters.
"""

from __future__ import annotations

import base64
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256

from ..classification.crypto import derive_key
from ..domain.codes import Code
from ..domain.errors import NotFound, WisError

_MAC_BYTES = 16


class LinkExpired(WisError):
    code = Code.LINK_EXPIRED
    status = 410


@dataclass(frozen=True, slots=True)
class LinkClaim:
    contact_id: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    def __init__(self, root_key: bytes, public_url: str) -> None:
        self._key = derive_key(root_key, "callout-link")
        self.public_url = public_url.rstrip("/")

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, b"wis:callout-link:v1|" + payload, sha256).digest()[:_MAC_BYTES]

    def token(self, contact_id: str, expires_at: datetime) -> str:
        payload = uuid.UUID(contact_id).bytes + int(expires_at.timestamp()).to_bytes(5, "big")
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def link(self, contact_id: str, expires_at: datetime) -> str:
        return f"{self.public_url}/k/{self.token(contact_id, expires_at)}"

    def verify(self, token: str, now: datetime) -> LinkClaim:
        """The claim of a genuine token; NotFound for anything forged or malformed (one
        answer for all of them), LinkExpired for a genuine one past its time."""
        try:
            payload_text, mac_text = token.split(".")
            if len(payload_text) > 40 or len(mac_text) > 40:
                raise ValueError
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except (ValueError, UnicodeError):
            raise NotFound("no such link", code=Code.LINK_INVALID) from None
        if len(payload) != 21 or not hmac.compare_digest(mac, self._mac(payload)):
            raise NotFound("no such link", code=Code.LINK_INVALID)
        expires_at = datetime.fromtimestamp(int.from_bytes(payload[16:], "big"), UTC)
        if now >= expires_at:
            raise LinkExpired("this acknowledgement link has expired")
        return LinkClaim(str(uuid.UUID(bytes=payload[:16])), expires_at)
