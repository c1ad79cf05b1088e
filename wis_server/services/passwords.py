"""Password hashing (argon2id) and the password rule."""

from __future__ import annotations

import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..domain.errors import ValidationFailed

MIN_LENGTH = 12
MAX_LENGTH = 1024


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()  # argon2id, library defaults (RFC 9106)
        # Verified against when the username is unknown, so timing does not reveal accounts.
        self._dummy = self._hasher.hash("no such user, constant work")

    def hash(self, password: str) -> str:
        check_password_rule(password)
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
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
            code="invalid_username", field="username")
    return name


def check_password_rule(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(f"password must have at least {MIN_LENGTH} characters",
                               code="password_too_short", field="password")
    if len(password) > MAX_LENGTH:
        raise ValidationFailed("password is too long", code="password_too_long", field="password")
