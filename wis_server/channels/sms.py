"""SMS over a 46elks-style HTTP API (httpx): `POST <WIS_SMS_API_URL>/a1/sms`, form-encoded
`from`, `to`, `message`, `whendelivered`, with Basic auth; numbers in E.164.

The delivery-report URL carries our delivery id (`?delivery=...`), so a report can be matched
to its delivery row even when the provider's answer to the send was lost and the message was
resent. `dontlog=message` asks the provider not to keep the text in its logs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import httpx

from ..classification.channel_policy import ChannelKind
from .errors import ChannelUnavailable, InvalidAddress, PermanentError, TransientError
from .memory import DEFAULT_CAPABILITIES
from .ports import Capabilities, Message, Receipt
from .settings import SmsSettings
from .sms_webhooks import normalise_number

DELIVERY_PATH = "/api/v1/channels/sms/delivery/{secret}"
INBOUND_PATH = "/api/v1/channels/sms/inbound/{secret}"


def delivery_webhook_url(public_url: str, secret: str, delivery_id: str) -> str:
    path = DELIVERY_PATH.format(secret=quote(secret, safe=""))
    return f"{public_url.rstrip('/')}{path}?{urlencode({'delivery': delivery_id})}"


def inbound_webhook_url(public_url: str, secret: str) -> str:
    return public_url.rstrip("/") + INBOUND_PATH.format(secret=quote(secret, safe=""))


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


class SmsChannel:
    def __init__(self, settings: SmsSettings, public_url: str, *,
                 client: httpx.AsyncClient | None = None, region: str = "SE",
                 clock: Callable[[], datetime] | None = None) -> None:
        self._settings = settings
        self._public_url = public_url
        self._region = region
        self._clock = clock or (lambda: datetime.now(UTC))
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=settings.timeout_s)
        self._capabilities = Capabilities(153 * settings.max_parts, True,
                                          DEFAULT_CAPABILITIES[ChannelKind.SMS].max_level)

    @property
    def kind(self) -> ChannelKind:
        return ChannelKind.SMS

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def send(self, message: Message) -> Receipt:
        if not isinstance(message.to, str):
            raise InvalidAddress("not a phone number", code="invalid_number")
        try:
            to = normalise_number(message.to, self._region)
        except ValueError:
            raise InvalidAddress("not a phone number", code="invalid_number") from None
        settings = self._settings
        form = {
            "from": settings.sender,
            "to": to,
            "message": message.rendered.text,
            "whendelivered": delivery_webhook_url(
                self._public_url, settings.webhook_secret.reveal(), message.delivery_id),
            "dontlog": "message",
        }
        try:
            response = await self._client.post(
                f"{settings.api_url}/a1/sms", data=form,
                auth=(settings.user, settings.password.reveal()))
        except httpx.TimeoutException:
            # The provider may have accepted it: a resend keeps the same delivery reference.
            raise TransientError("SMS API timed out", code="sms_timeout") from None
        except httpx.TransportError:
            raise ChannelUnavailable("SMS API unreachable", code="sms_unreachable") from None
        status = response.status_code
        if status in (401, 403):
            raise ChannelUnavailable(f"SMS API refused the credentials ({status})",
                                     code="sms_auth_refused")
        if status == 429 or status >= 500:
            raise TransientError(f"SMS API {status}", code="sms_deferred",
                                 retry_after_s=_retry_after(response))
        if status != 200:
            raise PermanentError(f"SMS API rejected the message ({status})", code="sms_rejected")
        try:
            body = response.json()
            provider_id = body["id"]
            parts = int(body.get("parts", message.rendered.parts))
            assert isinstance(provider_id, str) and provider_id
        except (ValueError, KeyError, TypeError, AssertionError):
            raise TransientError("SMS API answered something unexpected",
                                 code="sms_bad_answer") from None
        return Receipt(ChannelKind.SMS, message.delivery_id, provider_id, "sent", parts,
                       self._clock())

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()
