"""The SMS provider's inbound webhooks, sans I/O: replies and delivery reports. Pure.

46elks-style providers POST `application/x-www-form-urlencoded`:
  replies         `POST /api/v1/channels/sms/inbound/{secret}`  id, from, to, message, created
  delivery report `POST /api/v1/channels/sms/delivery/{secret}` id, status (sent | delivered |
                  failed), delivered (when delivered); we add `?delivery=<our delivery id>` to
                  the `whendelivered` URL, so a report matches even if the send's answer was lost.
The provider does not sign its webhooks: the secret in the path authenticates them (compare it
with `secret_matches`, constant time). The route must answer 200-204 with an EMPTY body — a
46elks-style provider sends a non-empty answer to an inbound SMS back to the sender as a reply.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

import phonenumbers

from ..domain.codes import Code


class WebhookError(ValueError):
    """Bad webhook input; `code` is stable (the API answers problem+json 400 with it)."""

    def __init__(self, message: str, code: Code) -> None:
        super().__init__(message)
        self.code = code


class ReportStatus(str, Enum):
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class InboundSms:
    provider_id: str
    sender: str  # E.164 when it is a phone number (it always is for replies)
    to: str
    text: str
    created: datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    provider_id: str
    status: ReportStatus
    delivered_at: datetime | None
    delivery_id: str | None  # ours, from the whendelivered URL's query


class ReplyKind(str, Enum):
    ACKNOWLEDGE = "acknowledge"  # "OK <code>"
    DECLINE = "decline"  # "NEJ <code>" / "NO <code>"
    STOP = "stop"  # the recipient wants no more SMS: an alarm to their actor's admins
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Reply:
    kind: ReplyKind
    code: str | None = None


_CODE = r"([A-Z0-9]{4,8})"
_ACK = re.compile(rf"^(?:OK|JA|YES)[\s:.,-]*{_CODE}?$")
_DECLINE = re.compile(rf"^(?:NEJ|NO)[\s:.,-]*{_CODE}?$")
_STOP = re.compile(r"^(?:STOP|STOPP|STOPPA|AVSLUTA|UNSUBSCRIBE|END|QUIT)\b")
_MAX_FIELD = 2000


def secret_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of the webhook path secret."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _field(form: Mapping[str, str], name: str, *, required: bool = True) -> str:
    value = form.get(name)
    if value is None or value == "":
        if required:
            raise WebhookError(f"missing field {name}", Code.SMS_WEBHOOK_MISSING_FIELD)
        return ""
    if len(value) > _MAX_FIELD:
        raise WebhookError(f"field {name} is too long", Code.SMS_WEBHOOK_FIELD_TOO_LONG)
    return value


def _time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WebhookError("invalid timestamp", Code.SMS_WEBHOOK_INVALID_TIME) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # the provider sends UTC


def normalise_number(raw: str, region: str = "SE") -> str:
    """E.164 form of a phone number (`070-123 45 67` → `+46701234567`); ValueError if not one."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_inbound(form: Mapping[str, str]) -> InboundSms:
    """A reply as the provider posts it (`from`, `to`, `message`; `id`, `created` optional)."""
    sender = _field(form, "from")
    try:
        sender = normalise_number(sender)
    except ValueError:
        raise WebhookError("from is not a phone number", Code.SMS_WEBHOOK_INVALID_NUMBER) from None
    return InboundSms(
        provider_id=_field(form, "id", required=False),
        sender=sender,
        to=_field(form, "to"),
        text=_field(form, "message", required=False),
        created=_time(_field(form, "created", required=False)),
    )


def parse_delivery_report(form: Mapping[str, str],
                          query: Mapping[str, str] | None = None) -> DeliveryReport:
    """A delivery report (`id`, `status`, `delivered`) plus our `?delivery=` reference."""
    provider_id = _field(form, "id")
    status_text = _field(form, "status")
    try:
        status = ReportStatus(status_text)
    except ValueError:
        raise WebhookError("unknown delivery status", Code.SMS_WEBHOOK_INVALID_STATUS) from None
    delivered_at = _time(_field(form, "delivered", required=False))
    delivery_id = (query or {}).get("delivery") or None
    if delivery_id is not None and len(delivery_id) > 200:
        raise WebhookError("delivery reference is too long", Code.SMS_WEBHOOK_FIELD_TOO_LONG)
    return DeliveryReport(provider_id, status, delivered_at, delivery_id)


def parse_reply(text: str) -> Reply:
    """What a recipient's SMS says: `OK 7Q4K` acknowledges, `NEJ 7Q4K` declines, `STOP` opts
    out. Case, spacing and a `:` after the keyword do not matter."""
    words = " ".join(text.upper().split())
    if match := _ACK.match(words):
        return Reply(ReplyKind.ACKNOWLEDGE, match.group(1))
    if match := _DECLINE.match(words):
        return Reply(ReplyKind.DECLINE, match.group(1))
    if _STOP.match(words):
        return Reply(ReplyKind.STOP)
    return Reply(ReplyKind.OTHER)
