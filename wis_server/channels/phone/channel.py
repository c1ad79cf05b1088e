"""Dialling out for a call-out (the dispatcher's `phone` channel), over httpx.

TwiML:  POST <api>/2010-04-01/Accounts/<user>/Calls.json  (Basic auth: account SID, token)
        To, From, Url (answer webhook), StatusCallback, MachineDetection=Enable, Timeout
        → 201 {"sid": "CA…"}
46elks: POST <api>/a1/calls  (Basic auth) from, to, voice_start, whenhangup, timeout
        → 200 {"id": "c…"}

The receipt says only that the provider is ringing: the call's webhooks then play the
message; a person pressing a key (or TwiML's AnsweredBy=human) marks it delivered, and no
answer, a busy line or a machine marks it failed. Only DTMF 1 acknowledges.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from ...classification.channel_policy import CHANNEL_CEILING, ChannelKind
from ..errors import ChannelUnavailable, InvalidAddress, PermanentError, TransientError
from ..ports import Capabilities, Message, Receipt
from ..sms_webhooks import normalise_number
from .settings import PhoneSettings, Provider
from .urls import webhook_url

CAPABILITIES = Capabilities(600, True, CHANNEL_CEILING[ChannelKind.PHONE])


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


class PhoneChannel:
    def __init__(self, settings: PhoneSettings, *, client: httpx.AsyncClient | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=settings.timeout_s)

    @property
    def kind(self) -> ChannelKind:
        return ChannelKind.PHONE

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    def request(self, message: Message) -> tuple[str, dict[str, str]]:
        """The provider's call-creation URL and form for `message` (pure)."""
        if not isinstance(message.to, str):
            raise InvalidAddress("not a phone number", code="invalid_number")
        try:
            to = normalise_number(message.to)
        except ValueError:
            raise InvalidAddress("not a phone number", code="invalid_number") from None
        s = self.settings
        line = s.numbers[0]
        delivery = message.delivery_id
        if s.provider is Provider.TWIML:
            return (f"{s.api_url}/2010-04-01/Accounts/{s.user}/Calls.json", {
                "To": to, "From": line,
                "Url": webhook_url(s, "voice", delivery=delivery),
                "Method": "POST",
                "StatusCallback": webhook_url(s, "status", delivery=delivery),
                "StatusCallbackMethod": "POST",
                "MachineDetection": "Enable",
                "Timeout": str(s.ring_timeout_s)})
        return (f"{s.api_url}/a1/calls", {
            "from": line, "to": to,
            "voice_start": webhook_url(s, "voice", delivery=delivery),
            "whenhangup": webhook_url(s, "status", delivery=delivery),
            "timeout": str(s.ring_timeout_s)})

    async def send(self, message: Message) -> Receipt:
        url, form = self.request(message)
        s = self.settings
        try:
            response = await self._client.post(url, data=form,
                                                auth=(s.user, s.password.reveal()))
        except httpx.TimeoutException:
            raise TransientError("phone API timed out", code="phone_timeout") from None
        except httpx.TransportError:
            raise ChannelUnavailable("phone API unreachable", code="phone_unreachable") from None
        status = response.status_code
        if status in (401, 403):
            raise ChannelUnavailable(f"phone API refused the credentials ({status})",
                                     code="phone_auth_refused")
        if status == 429 or status >= 500:
            raise TransientError(f"phone API {status}", code="phone_deferred",
                                 retry_after_s=_retry_after(response))
        if status not in (200, 201):
            raise PermanentError(f"phone API rejected the call ({status})",
                                 code="phone_rejected")
        try:
            body = response.json()
            provider_id = body["sid" if s.provider is Provider.TWIML else "id"]
            assert isinstance(provider_id, str) and provider_id
        except (ValueError, KeyError, TypeError, AssertionError):
            raise TransientError("phone API answered something unexpected",
                                 code="phone_bad_answer") from None
        return Receipt(ChannelKind.PHONE, message.delivery_id, provider_id, "sent", 1,
                       self._clock())

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()
