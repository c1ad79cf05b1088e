"""Sign-in and opaque, rotating refresh tokens (stored as SHA-256 hashes only).

Sign-in: the throttle counts the attempt before anything is awaited, refuses (429) before any
hashing, and a username under distributed guessing waits a bounded delay holding nothing;
argon2 runs off the event loop (Passwords).

Refresh: a token's successor is derived from it with a keyed HMAC, so a retry of a refresh
whose answer was lost (within RETRY_GRACE, successor not yet used) gets the *same* successor
— a replay gets nothing the owner does not also hold. Any other reuse of a rotated token means
it leaked: the family is revoked for reuse (every later use of it answers `session_revoked`)
and the user's session epoch is bumped, so their access tokens end at once, too.

Sign-out ends every session of the user (all refresh tokens, the epoch, open streams).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..domain.audit import AuditRecord
from ..domain.codes import Code
from ..domain.errors import AuthenticationFailed, TooManyAttempts
from ..domain.model import Principal
from .directory import load_principal
from .passwords import Passwords
from .ports import Clock, EventPublisher, NullPublisher, Transaction, UnitOfWork
from .throttle import LoginThrottle, Reservation


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    refresh_token: str


RETRY_GRACE = timedelta(seconds=10)
"""How long an already-rotated refresh token still counts as a retry rather than reuse."""
REUSE = "reuse"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _revoked() -> AuthenticationFailed:
    return AuthenticationFailed("this session was revoked because its refresh token was "
                                "used twice; sign in again", code=Code.SESSION_REVOKED)


class Sessions:
    def __init__(self, store: UnitOfWork, passwords: Passwords, clock: Clock,
                 throttle: LoginThrottle, refresh_ttl: timedelta,
                 publisher: EventPublisher | None = None) -> None:
        self.store = store
        self.passwords = passwords
        self.clock = clock
        self.throttle = throttle
        self.refresh_ttl = refresh_ttl
        self.publisher = publisher or NullPublisher()
        # A key of its own (domain-separated from the audit chain's) for successor tokens.
        self._successor_key = hmac.new(store.audit_key, b"wis refresh-token successor v1",
                                       hashlib.sha256).digest()

    async def sign_in(self, username: str, password: str, client: str) -> Session:
        username = unicodedata.normalize("NFC", username).strip().lower()
        reservation = self.throttle.reserve(username, client)  # no await before this
        if reservation.retry_after:
            raise TooManyAttempts("too many failed sign-ins; wait and try again",
                                  retry_after=reservation.retry_after)
        try:
            return await self._sign_in(reservation, username, password)
        except TooManyAttempts:
            self.throttle.release(reservation)  # refused while busy: not a guess
            raise
        except asyncio.CancelledError:
            raise  # the client left: the attempt still counts

    async def _sign_in(self, reservation: Reservation, username: str, password: str
                       ) -> Session:
        delay = self.throttle.delay_for(reservation)
        if delay:
            await asyncio.sleep(delay)  # holds no DB connection and no hashing slot
        async with self.store.read() as tx:
            found = await tx.users.credentials(username)
        ok = await self.passwords.verify_async(found[1] if found else None, password)
        now = self.clock()
        principal = None
        if ok and found is not None:
            async with self.store.read() as tx:
                principal = await load_principal(tx, found[0].id)
        async with self.store.write() as tx:
            # Row writes first, audit appends last (its lock is taken last everywhere): a
            # failed attempt that locked the audit chain before the user's row would deadlock
            # with a concurrent successful one (row, then chain) on PostgreSQL.
            if principal is None or not principal.active:
                self.throttle.failed(reservation)
                user = found[0] if found else None
                if user is not None:
                    await tx.users.record_failed_sign_in(user.id, now)
                await tx.audit.append(AuditRecord(
                    "auth.sign_in", outcome="denied",
                    user_id=user.id if user else None, actor_id=user.actor_id if user else None,
                    detail={"reason": "inactive" if principal else "bad credentials"}), now)
                if user is not None and self.throttle.alert(reservation):
                    await tx.audit.append(AuditRecord(
                        "auth.guessing_suspected", outcome="denied",
                        actor_id=user.actor_id, target_type="user", target_id=user.id,
                        detail={"failures": reservation.user_failures + 1,
                                "window_s": int(self.throttle.rules["user"].window_s)}),
                        now)
            else:
                self.throttle.succeeded(reservation)
                await tx.users.record_sign_in(principal.user_id)
                token = await self._issue(tx, principal.user_id, str(uuid.uuid4()), now)
                await tx.audit.append(AuditRecord(
                    "auth.sign_in", user_id=principal.user_id, actor_id=principal.actor_id),
                    now)
        if principal is None or not principal.active:
            raise AuthenticationFailed("wrong username or password", code=Code.INVALID_CREDENTIALS)
        return Session(principal, token)

    async def refresh(self, refresh_token: str) -> Session:
        now = self.clock()
        reused_by: str | None = None
        principal = None
        async with self.store.write() as tx:
            row = await tx.tokens.by_hash(_hash(refresh_token))
            if row is not None and row.revoke_reason == REUSE:
                raise _revoked()
            if row is None or row.revoked_at is not None or row.expires_at <= now:
                raise AuthenticationFailed("refresh token invalid or expired",
                                           code=Code.INVALID_REFRESH_TOKEN)
            if await tx.tokens.mark_used(row.id, now):
                principal = await load_principal(tx, row.user_id)
                if principal is not None and principal.active:
                    token = await self._issue(tx, principal.user_id, row.family_id, now,
                                              parent=refresh_token)
            else:
                retry = await self._retry(tx, row, refresh_token, now)
                if retry is not None:
                    return retry
                await tx.tokens.revoke_family(row.family_id, now, reason=REUSE)
                await tx.users.end_sessions(row.user_id, now)
                await tx.audit.append(AuditRecord(
                    "auth.refresh_reuse", outcome="denied", user_id=row.user_id,
                    detail={"family": row.family_id}), now)
                reused_by = row.user_id
        if reused_by is not None:
            self.publisher.access_changed(user_id=reused_by)
            raise _revoked()
        if principal is None or not principal.active:
            raise AuthenticationFailed("refresh token invalid or expired",
                                       code=Code.INVALID_REFRESH_TOKEN)
        return Session(principal, token)

    async def _retry(self, tx: Transaction, row: Any, refresh_token: str, now: datetime
                     ) -> Session | None:
        """The answer to a refresh a moment ago was probably lost on a bad link: hand back the
        very successor issued then, if nobody has used it yet."""
        if row.used_at is None or now - row.used_at > RETRY_GRACE:
            return None
        if await tx.tokens.family_used_since(row.family_id, row.used_at):
            return None
        successor = self._successor(refresh_token)
        found = await tx.tokens.by_hash(_hash(successor))
        if found is None or found.revoked_at is not None or found.used_at is not None:
            return None
        principal = await load_principal(tx, row.user_id)
        if principal is None or not principal.active:
            return None
        await tx.audit.append(AuditRecord(
            "auth.refresh_retry", user_id=row.user_id, detail={"family": row.family_id}), now)
        return Session(principal, successor)

    async def sign_out(self, refresh_token: str) -> None:
        """Ends every session of the token's user at once (signing out signs out everywhere)."""
        now = self.clock()
        async with self.store.write() as tx:
            row = await tx.tokens.by_hash(_hash(refresh_token))
            if row is None:
                return
            await tx.tokens.revoke_user(row.user_id, now)
            await tx.users.end_sessions(row.user_id, now)
            await tx.audit.append(AuditRecord("auth.sign_out", user_id=row.user_id), now)
        self.publisher.access_changed(user_id=row.user_id)

    def _successor(self, token: str) -> str:
        digest = hmac.new(self._successor_key, token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    async def _issue(self, tx: Transaction, user_id: str, family_id: str, now: datetime,
                     parent: str | None = None) -> str:
        token = self._successor(parent) if parent is not None else secrets.token_urlsafe(32)
        await tx.tokens.add(str(uuid.uuid4()), user_id, family_id, _hash(token), now,
                            now + self.refresh_ttl)
        return token
