"""The domain's error hierarchy; the api layer maps each to RFC 9457 problem+json once."""

from __future__ import annotations


class WisError(Exception):
    """Base error. `code` is stable and machine-readable; `status` is the HTTP analogue."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field


class ValidationFailed(WisError):
    code = "validation_failed"
    status = 422


class UnsupportedMediaType(WisError):
    code = "unsupported_media_type"
    status = 415


class NotFound(WisError):
    """Also what a caller gets for anything they may not see: invisible means invisible."""

    code = "not_found"
    status = 404


class Forbidden(WisError):
    """Only for things the caller can already see (e.g. their own space) but may not change."""

    code = "forbidden"
    status = 403


class Conflict(WisError):
    code = "conflict"
    status = 409


class IntegrityFailure(WisError):
    """Stored content failed authentication (a tampered or damaged row): withheld, never
    guessed at. The caller could see the item, so saying so reveals nothing."""

    code = "integrity_failure"
    status = 409


class AuthenticationFailed(WisError):
    code = "authentication_failed"
    status = 401


class TooManyAttempts(WisError):
    code = "too_many_attempts"
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
