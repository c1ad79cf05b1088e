"""Password hashing (argon2id) and the password rule."""

from __future__ import annotations

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


def check_password_rule(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(f"password must have at least {MIN_LENGTH} characters",
                               code="password_too_short", field="password")
    if len(password) > MAX_LENGTH:
        raise ValidationFailed("password is too long", code="password_too_long", field="password")
