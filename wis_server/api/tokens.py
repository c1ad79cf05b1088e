"""JWT access tokens: ES256 (ECDSA P-256), signed with the keyring's current signing key.

The only module that imports jose. Verification pins the algorithm allow-list to ES256 (so
`alg: none` and HS256-with-the-public-key confusion are refused), requires exp, iat, iss,
aud, sub and typ, refuses an `iat` further in the future than the clock skew, and looks the
key up by `kid` among the keyring's signing keys. Each token carries its user's session
epoch (`sep`): bumping the epoch (sign-out, password reset, disabling, refresh reuse) ends
every token issued before, checked against the user row every request loads anyway.
ES256 over RS256: same security at a fraction of the key and signature size (matters on slow
links, where the token rides on every request) and fast signing.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jose import jwk, jwt
from jose.exceptions import ExpiredSignatureError, JOSEError

from ..classification.keys import Keyring, SigningKey
from ..domain.codes import Code
from ..domain.errors import AuthenticationFailed
from ..domain.model import Principal

ALGORITHMS = ["ES256"]
CLOCK_SKEW_S = 10  # tolerated clock difference between servers, documented in the README
ACCESS_TYP = "access"
VERIFIED_CACHE_SIZE = 4096
"""Tokens whose signature and claims were checked, kept so the next request with the same
token skips the ES256 verify and JOSE parsing (a third of the CPU of a small write). A hit
is re-checked for expiry and for its signing key still being in the keyring; revocation is
the session epoch, checked against the user row on every request whether cached or not."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    actor_id: str
    expires_at: int
    token_id: str
    session_epoch: int = 0


class TokenService:
    def __init__(self, keyring: Keyring, *, issuer: str, audience: str, ttl_s: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.keyring = keyring
        self.clock = clock  # the cache's and the `iat` check's (jose reads the wall clock)
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s
        self._verifiers: dict[tuple[str, bytes], Any] = {}
        self._verified: dict[str, tuple[AccessClaims, str, int]] = {}  # token -> claims, kid, nbf

    def issue(self, user_id: str, actor_id: str, now: datetime, session_epoch: int = 0) -> str:
        key = self.keyring.current_signing
        iat = int(now.timestamp())
        claims = {
            "iss": self.issuer, "aud": self.audience, "sub": user_id, "act": actor_id,
            "iat": iat, "nbf": iat, "exp": iat + self.ttl_s, "typ": ACCESS_TYP,
            "jti": secrets.token_urlsafe(12), "sep": session_epoch,
        }
        return str(jwt.encode(claims, key.private_pem.decode(), algorithm="ES256",
                              headers={"kid": key.kid}))

    def _verifier(self, key: SigningKey) -> Any:
        """The ES256 public key, parsed once per signing key rather than on every request
        (deriving it from the private PEM and parsing it was half the cost of verify())."""
        cache_key = (key.kid, key.private_pem)
        found = self._verifiers.get(cache_key)
        if found is None:
            found = jwk.construct(key.public_pem.decode(), "ES256")
            self._verifiers[cache_key] = found
        return found

    def verify(self, token: str) -> AccessClaims:
        cached = self._verified.get(token)
        if cached is not None:
            claims, kid, not_before = cached
            now = self.clock()
            if now > claims.expires_at + CLOCK_SKEW_S:
                self._verified.pop(token, None)
                raise AuthenticationFailed("access token expired", code=Code.TOKEN_EXPIRED)
            if self.keyring.signing_key(kid) is None:  # retired by a key rotation
                self._verified.pop(token, None)
                raise AuthenticationFailed("unknown token signing key", code=Code.TOKEN_INVALID)
            if now >= not_before - CLOCK_SKEW_S:
                return claims
        claims, kid, not_before = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]  # the oldest entry
        self._verified[token] = (claims, kid, not_before)
        return claims

    def _verify(self, token: str) -> tuple[AccessClaims, str, int]:
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError:
            raise AuthenticationFailed("malformed access token", code=Code.TOKEN_INVALID) from None
        if header.get("alg") not in ALGORITHMS:
            raise AuthenticationFailed("token algorithm not allowed", code=Code.TOKEN_INVALID)
        key = self.keyring.signing_key(str(header.get("kid", "")))
        if key is None:
            raise AuthenticationFailed("unknown token signing key", code=Code.TOKEN_INVALID)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._verifier(key), algorithms=ALGORITHMS, audience=self.audience,
                issuer=self.issuer,
                options={"require_exp": True, "require_iat": True, "require_iss": True,
                         "require_aud": True, "require_sub": True, "leeway": CLOCK_SKEW_S},
            )
        except ExpiredSignatureError:
            raise AuthenticationFailed("access token expired", code=Code.TOKEN_EXPIRED) from None
        except JOSEError:
            raise AuthenticationFailed("access token invalid", code=Code.TOKEN_INVALID) from None
        if claims.get("typ") != ACCESS_TYP or not isinstance(claims.get("act"), str):
            raise AuthenticationFailed("not an access token", code=Code.TOKEN_INVALID)
        iat = claims.get("iat")
        if not isinstance(iat, int) or isinstance(iat, bool) or iat > self.clock() + CLOCK_SKEW_S:
            raise AuthenticationFailed("access token issued in the future",
                                       code=Code.TOKEN_INVALID)
        epoch = claims.get("sep", 0)
        if not isinstance(epoch, int) or isinstance(epoch, bool):
            raise AuthenticationFailed("access token invalid", code=Code.TOKEN_INVALID)
        nbf = claims.get("nbf", iat)
        return AccessClaims(str(claims["sub"]), str(claims["act"]), int(claims["exp"]),
                            str(claims.get("jti", "")), epoch), key.kid, \
            int(nbf) if isinstance(nbf, int | float) else iat


def check_session(claims: AccessClaims, principal: Principal) -> None:
    """The token belongs to the user's current sessions (not ended since it was issued)."""
    if claims.session_epoch != principal.session_epoch:
        raise AuthenticationFailed("this session has ended; sign in again",
                                   code=Code.SESSION_REVOKED)
