"""Byte scans: does any classified plaintext appear in what a peer received, in any of the
encodings a channel might use (UTF-8, UTF-16BE, URL/form encoding, base64, quoted-printable)?"""

from __future__ import annotations

import base64
import quopri
from urllib.parse import quote, quote_plus


def forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    out = [raw, secret.encode("utf-16-be"), quote(secret).encode(), quote_plus(secret).encode(),
           quopri.encodestring(raw).rstrip(b"=\n")]
    # base64 at each of the three alignments (a secret inside a longer base64 body)
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw)[4 if pad else 0:]
        out.append(encoded[: max(4, len(encoded) - 4)])
    return [form for form in out if len(form) >= 4]


def leaks(data: bytes | str, secrets: list[str]) -> list[str]:
    """The secrets found in `data` (decoded text or raw bytes) in any encoding."""
    blob = data.encode() if isinstance(data, str) else data
    return [s for s in secrets if any(form in blob for form in forms(s))]
