"""Sign-in and opaque, rotating refresh tokens (stored as SHA-256 hashes only).

Presenting a refresh token that was already rotated means it leaked: the whole family is
revoked, so both the thief and the owner must sign in again.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import timedelta

from ..domain.errors import AuthenticationFailed, TooManyAttempts
from ..domain.model import Principal
from ..storage.audit import AuditRecord
from ..storage.unit import Store
from .directory import load_principal
from .passwords import Passwords
from .ports import Clock
from .throttle import LoginThrottle


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    refresh_token: str


RETRY_GRACE = timedelta(seconds=10)
"""How long an already-rotated refresh token still counts as a retry rather than reuse."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(self, store: Store, passwords: Passwords, clock: Clock, throttle: LoginThrottle,
                 refresh_ttl: timedelta) -> None:
        self.store = store
        self.passwords = passwords
        self.clock = clock
        self.throttle = throttle
        self.refresh_ttl = refresh_ttl

    async def sign_in(self, username: str, password: str, client: str) -> Session:
        username = unicodedata.normalize("NFC", username).strip().lower()
        wait = self.throttle.retry_after(username, client)
        if wait:
            raise TooManyAttempts("too many failed sign-ins; wait and try again", retry_after=wait)
        async with self.store.read() as tx:
            found = await tx.users.credentials(username)
        ok = self.passwords.verify(found[1] if found else None, password)
        now = self.clock()
        principal = None
        if ok and found is not None:
            async with self.store.read() as tx:
                principal = await load_principal(tx, found[0].id)
        async with self.store.write() as tx:
            if principal is None or not principal.active:
                self.throttle.failed(username, client)
                await tx.audit.append(AuditRecord(
                    "auth.sign_in", outcome="denied",
                    user_id=found[0].id if found else None,
                    actor_id=found[0].actor_id if found else None,
                    detail={"reason": "inactive" if principal else "bad credentials"}), now)
            else:
                self.throttle.succeeded(username, client)
                token = await self._issue(tx, principal.user_id, str(uuid.uuid4()), now)
                await tx.audit.append(AuditRecord(
                    "auth.sign_in", user_id=principal.user_id, actor_id=principal.actor_id),
                    now)
        if principal is None or not principal.active:
            raise AuthenticationFailed("wrong username or password", code="invalid_credentials")
        return Session(principal, token)

    async def refresh(self, refresh_token: str) -> Session:
        now = self.clock()
        reused = False
        async with self.store.write() as tx:
            row = await tx.tokens.by_hash(_hash(refresh_token))
            if row is None or row.revoked_at is not None or row.expires_at <= now:
                raise AuthenticationFailed("refresh token invalid or expired",
                                           code="invalid_refresh_token")
            if not await tx.tokens.mark_used(row.id, now):
                if (row.used_at is not None and now - row.used_at <= RETRY_GRACE
                        and not await tx.tokens.family_used_since(row.family_id, row.used_at)):
                    # The answer to a refresh a moment ago was probably lost on a bad link:
                    # a retry, not a thief. Issue another token in the same family.
                    principal = await load_principal(tx, row.user_id)
                    if principal is not None and principal.active:
                        # The answer that was lost carried a token nobody will use: void it,
                        # so a replayed old token can never yield a second, parallel session.
                        await tx.tokens.revoke_unused_since(row.family_id, row.used_at, now)
                        token = await self._issue(tx, principal.user_id, row.family_id, now)
                        await tx.audit.append(AuditRecord(
                            "auth.refresh_retry", user_id=row.user_id,
                            detail={"family": row.family_id}), now)
                        return Session(principal, token)
                await tx.tokens.revoke_family(row.family_id, now)
                await tx.audit.append(AuditRecord(
                    "auth.refresh_reuse", outcome="denied", user_id=row.user_id,
                    detail={"family": row.family_id}), now)
                reused = True
                principal = None
            else:
                principal = await load_principal(tx, row.user_id)
                if principal is not None and principal.active:
                    token = await self._issue(tx, principal.user_id, row.family_id, now)
        if reused or principal is None or not principal.active:
            raise AuthenticationFailed("refresh token invalid or expired",
                                       code="invalid_refresh_token")
        return Session(principal, token)

    async def sign_out(self, refresh_token: str) -> None:
        now = self.clock()
        async with self.store.write() as tx:
            row = await tx.tokens.by_hash(_hash(refresh_token))
            if row is not None:
                await tx.tokens.revoke_family(row.family_id, now)
                await tx.audit.append(AuditRecord("auth.sign_out", user_id=row.user_id), now)

    async def _issue(self, tx, user_id: str, family_id: str, now) -> str:  # type: ignore[no-untyped-def]
        token = secrets.token_urlsafe(32)
        await tx.tokens.add(str(uuid.uuid4()), user_id, family_id, _hash(token), now,
                            now + self.refresh_ttl)
        return token
