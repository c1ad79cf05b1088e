"""Why a send failed, as the dispatcher needs to know it: retry later, or never.

Messages and codes never carry content or addresses (they end up in logs and delivery rows).
"""

from __future__ import annotations


class ChannelError(Exception):
    """Base. `code` is stable and machine-readable; `retryable` drives the dispatcher."""

    code = "channel_error"
    retryable = False

    def __init__(self, message: str, *, code: str | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.retry_after_s = retry_after_s


class TransientError(ChannelError):
    """Try again later (network error, timeout, 5xx, 429, SMTP 4xx). The same delivery id is
    reused, so a message whose answer was lost is de-duplicable downstream."""

    code = "transient"
    retryable = True


class ChannelUnavailable(TransientError):
    """The whole channel fails (refused credentials, unreachable provider): every message on it
    would fail the same way. Retry later, and alarm the operators; a circuit breaker's input."""

    code = "channel_unavailable"


class PermanentError(ChannelError):
    """Retrying will not help (bad address, rejected by the provider). Fail over to the
    recipient's next channel and tell their actor's admins: never silence."""

    code = "permanent"


class InvalidAddress(PermanentError):
    code = "invalid_address"


class SubscriptionGone(PermanentError):
    """Web Push 404/410: the subscription no longer exists; delete it."""

    code = "subscription_gone"


class MessageTooLong(PermanentError):
    """The part that must never be cut (code, link) does not fit the channel's limit."""

    code = "message_too_long"
