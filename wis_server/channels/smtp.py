"""E-mail over SMTP (aiosmtplib): plain for a local relay, STARTTLS required, or implicit TLS.

The Message-ID is derived from the delivery id, so a resend after a lost answer carries the
same Message-ID and mail systems (and people) can tell it is the same message. One connection
per message: simple and robust; a pooled connection is an optimisation for later.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from ..classification.channel_policy import ChannelKind
from .errors import (
    ChannelError,
    ChannelUnavailable,
    InvalidAddress,
    PermanentError,
    TransientError,
)
from .memory import DEFAULT_CAPABILITIES
from .ports import Capabilities, Message, Receipt, Rendered
from .settings import SmtpSettings

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ADDRESS = re.compile(r"^[^@\s<>\"(),;:\\\[\]]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$")


def message_id(delivery_id: str, mail_from: str) -> str:
    """`<delivery-id@sender-domain>`: stable for a delivery, so resends are recognisable."""
    local = delivery_id if _SAFE_ID.match(delivery_id) else hashlib.sha256(
        delivery_id.encode()).hexdigest()[:32]
    domain = mail_from.rsplit("@", 1)[-1]
    return f"<wis.{local}@{domain}>"


def build_email(rendered: Rendered, to: str, mail_from: str, delivery_id: str,
                now: datetime) -> EmailMessage:
    """The e-mail for one delivery. Pure; plain text only (no HTML, no remote content)."""
    mail = EmailMessage()
    mail["From"] = mail_from
    mail["To"] = to
    mail["Subject"] = " ".join(rendered.subject.split())  # one line, whatever it was given
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = message_id(delivery_id, mail_from)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    mail["X-Auto-Response-Suppress"] = "All"
    mail.set_content(rendered.text)
    return mail


def _classify(error: Exception) -> ChannelError:
    """Map an aiosmtplib/OS error to retry-or-not. Never includes the server's text."""
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        return ChannelUnavailable("SMTP server refused the credentials", code="smtp_auth_refused")
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in error.recipients]
        if codes and all(400 <= c < 500 for c in codes):
            return TransientError("recipient temporarily refused", code="smtp_recipient_deferred")
        return InvalidAddress("recipient refused by the SMTP server", code="smtp_recipient_refused")
    if isinstance(error, aiosmtplib.SMTPResponseException):
        if 400 <= error.code < 500:
            return TransientError(f"SMTP {error.code}", code="smtp_deferred")
        return PermanentError(f"SMTP {error.code}", code="smtp_rejected")
    if isinstance(error, ssl.SSLError):
        return ChannelUnavailable("TLS with the SMTP server failed", code="smtp_tls_failed")
    if isinstance(error, aiosmtplib.SMTPException | OSError | TimeoutError):
        return ChannelUnavailable("SMTP server unreachable", code="smtp_unreachable")
    raise error


class SmtpChannel:
    def __init__(self, settings: SmtpSettings, *,
                 clock: Callable[[], datetime] | None = None,
                 capabilities: Capabilities | None = None) -> None:
        self._settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        self._capabilities = capabilities or DEFAULT_CAPABILITIES[ChannelKind.EMAIL]
        self._tls: ssl.SSLContext | None = None
        if settings.tls != "none":
            self._tls = ssl.create_default_context(
                cafile=str(settings.ca_file) if settings.ca_file else None)

    @property
    def kind(self) -> ChannelKind:
        return ChannelKind.EMAIL

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def send(self, message: Message) -> Receipt:
        to = message.to
        if not isinstance(to, str) or not _ADDRESS.match(to):
            raise InvalidAddress("not an e-mail address", code="invalid_email")
        settings = self._settings
        mail = build_email(message.rendered, to, settings.mail_from, message.delivery_id,
                           self._clock())
        client = aiosmtplib.SMTP(
            hostname=settings.host, port=settings.port, timeout=settings.timeout_s,
            use_tls=settings.tls == "tls", start_tls=settings.tls == "starttls",
            tls_context=self._tls,
        )
        try:
            async with client:
                if settings.user and settings.password is not None:
                    await client.login(settings.user, settings.password.reveal())
                await client.send_message(mail)
        except ChannelError:
            raise
        except Exception as error:  # mapped, or re-raised if unknown
            raise _classify(error) from None
        return Receipt(ChannelKind.EMAIL, message.delivery_id, str(mail["Message-ID"]), "sent",
                       1, self._clock())

    async def aclose(self) -> None:
        return None
