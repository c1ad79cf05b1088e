"""TwiML webhook signatures (`X-Twilio-Signature`), as the provider documents them. Pure.

    signature = base64(HMAC-SHA1(auth token, URL + name1 + value1 + name2 + value2 ...))

with the URL exactly as the provider requested it (scheme, host, path and query) and every
POST parameter sorted by name. A JSON body is not in the string; the URL then carries
`bodySHA256` = hex SHA-256 of the raw body. Verifiers compare in constant time and try the
URL with and without the scheme's default port (proxies add or drop it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qs, urlsplit, urlunsplit

HEADER = "X-Twilio-Signature"
_DEFAULT_PORT = {"https": 443, "http": 80}


def compute(token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """The signature the provider sends for a POST of `params` to `url`."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def url_variants(url: str) -> list[str]:
    """`url`, and the same URL with the default port added or removed."""
    parts = urlsplit(url)
    default = _DEFAULT_PORT.get(parts.scheme)
    host = parts.hostname or ""
    if default is None or not host:
        return [url]
    if parts.port is None:
        other = parts._replace(netloc=f"{host}:{default}")
    elif parts.port == default:
        other = parts._replace(netloc=host)
    else:
        return [url]
    return [url, urlunsplit(other)]


def body_hash_matches(url: str, body: bytes) -> bool:
    """A JSON callback: the URL's `bodySHA256` must be the raw body's hex SHA-256."""
    given = parse_qs(urlsplit(url).query).get("bodySHA256", [""])[0]
    return bool(given) and hmac.compare_digest(given, hashlib.sha256(body).hexdigest())


def valid(token: str, url: str, params: Sequence[tuple[str, str]], signature: str | None,
          *, body: bytes | None = None) -> bool:
    """Whether `signature` is the provider's for this request (`body`: a JSON body's bytes,
    whose hash must then be in the URL). Constant-time comparison; an empty token or
    signature never validates."""
    if not token or not signature:
        return False
    if body is not None and not body_hash_matches(url, body):
        return False
    given = signature.strip().encode("ascii", "replace")
    ok = False
    for candidate in url_variants(url):
        expected = compute(token, candidate, [] if body is not None else params)
        ok |= hmac.compare_digest(expected.encode("ascii"), given)
    return ok
