"""Password hashing (argon2id) and the password rule.

argon2 is deliberately slow (tens of milliseconds of CPU, tens of MiB of memory): it runs in
worker threads, at most `concurrency` at a time, never on the event loop, so a burst of
sign-ins queues here instead of stalling every request, websocket and stream.
"""

from __future__ import annotations

import asyncio
import os
import unicodedata
import weakref

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..domain.codes import Code
from ..domain.errors import TooManyAttempts, ValidationFailed
from .input_rules import check_password_strength

MIN_LENGTH = 12
MAX_LENGTH = 1024
MAX_WAITING = 256
"""Hashes queued beyond this are refused (429, Retry-After 1) instead of waiting for minutes."""


def default_concurrency() -> int:
    """Leave a core for the event loop: hashing may use the others."""
    return max(1, (os.cpu_count() or 2) - 1)


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None, concurrency: int | None = None
                 ) -> None:
        self._hasher = hasher or PasswordHasher()  # argon2id, library defaults (RFC 9106)
        # Verified against when the username is unknown, so timing does not reveal accounts.
        self._dummy = self._hasher.hash("no such user, constant work")
        self.concurrency = concurrency or default_concurrency()
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary())
        self.in_flight = 0  # hashes running now (observability; tests read it)
        self.peak_in_flight = 0
        self.waiting = 0

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()  # a semaphore belongs to one loop
        found = self._slots.get(loop)
        if found is None:
            found = self._slots[loop] = asyncio.Semaphore(self.concurrency)
        return found

    async def _run(self, work: object, *args: str | None) -> object:
        if self.waiting >= MAX_WAITING:
            raise TooManyAttempts("sign-in is busy; try again shortly", retry_after=1)
        self.waiting += 1
        try:
            await self._semaphore().acquire()
        finally:
            self.waiting -= 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await asyncio.to_thread(work, *args)  # type: ignore[arg-type]
        finally:
            self.in_flight -= 1
            self._semaphore().release()

    async def hash_async(self, password: str) -> str:
        check_password_rule(password)
        return str(await self._run(self._hasher.hash, password))

    async def verify_async(self, stored_hash: str | None, password: str) -> bool:
        return bool(await self._run(self.verify, stored_hash, password))

    def hash(self, password: str) -> str:
        """Synchronous: only for the CLI and start-up, never on a serving event loop."""
        check_password_rule(password)
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Synchronous: runs in a worker thread (see verify_async)."""
        try:
            verified = self._hasher.verify(stored_hash or self._dummy, password)
            return verified and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


USERNAME_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-@åäöü")


def normalise_username(username: str) -> str:
    """One spelling per name: NFC, case-folded, trimmed; letters, digits and . _ - @ only.
    Prevents look-alike accounts (`TIB.LST` beside `tib.lst`) and NFD/NFC sign-in misses."""
    name = unicodedata.normalize("NFC", username).strip().lower()
    if not 3 <= len(name) <= 80 or not set(name) <= USERNAME_ALLOWED:
        raise ValidationFailed(
            "usernames are 3-80 characters: letters, digits and . _ - @ (no spaces)",
            code=Code.INVALID_USERNAME, field="username")
    return name


def check_password_rule(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(f"password must have at least {MIN_LENGTH} characters",
                               code=Code.PASSWORD_TOO_SHORT, field="password")
    if len(password) > MAX_LENGTH:
        raise ValidationFailed("password is too long", code=Code.PASSWORD_TOO_LONG,
                               field="password")
    check_password_strength(password)  # common or repetitive passwords (input_rules)
