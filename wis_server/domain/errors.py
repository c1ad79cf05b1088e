"""The domain's error hierarchy; the api layer maps each to RFC 9457 problem+json once."""

from __future__ import annotations

from .codes import Code


class WisError(Exception):
    """Base error. `code` is stable and machine-readable; `status` is the HTTP analogue."""

    code: Code = Code.ERROR
    status = 400

    def __init__(self, message: str, *, code: Code | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field


class ConstraintViolated(Exception):
    """Storage refused a write on a uniqueness or integrity constraint (in practice: a
    concurrent first attempt with the same Idempotency-Key won). Not a WisError: left
    unhandled it is an internal error, as before; services/idempotency retries on it."""


class ValidationFailed(WisError):
    code = Code.VALIDATION_FAILED
    status = 422


class UnsupportedMediaType(WisError):
    code = Code.UNSUPPORTED_MEDIA_TYPE
    status = 415


class NotFound(WisError):
    """Also what a caller gets for anything they may not see: invisible means invisible."""

    code = Code.NOT_FOUND
    status = 404


class Forbidden(WisError):
    """Only for things the caller can already see (e.g. their own space) but may not change."""

    code = Code.FORBIDDEN
    status = 403


class Conflict(WisError):
    code = Code.CONFLICT
    status = 409


class IntegrityFailure(WisError):
    """Stored content failed authentication (a tampered or damaged row): withheld, never
    guessed at. The caller could see the item, so saying so reveals nothing."""

    code = Code.INTEGRITY_FAILURE
    status = 409


class AuthenticationFailed(WisError):
    code = Code.AUTHENTICATION_FAILED
    status = 401


class TooManyAttempts(WisError):
    code = Code.TOO_MANY_ATTEMPTS
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
