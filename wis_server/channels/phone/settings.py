"""Phone settings from `WIS_PHONE_*` (the adapter is on when WIS_PHONE_PROVIDER is set)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from ...config import ConfigError, Secret
from ..settings import http_base_url

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SIP = re.compile(r"^sips?:[A-Za-z0-9._+~-]+@[A-Za-z0-9.-]+(:\d{1,5})?$")
MAX_NUMBERS = 8


class Provider(str, Enum):
    """The two dialects; the value is the provider segment of the webhook paths."""

    TWIML = "twiml"    # Twilio, and TwiML-compatible: SignalWire cXML, Telnyx TeXML
    ELKS = "46elks"


@dataclass(frozen=True, slots=True)
class PhoneSettings:
    """`numbers`: the dial-in numbers, one per parallel conference (E.164). `bridges`
    (46elks only, which has no conference verb): per number, the address its callers are
    connected to (E.164 or sip:). For TwiML, `user` is the account SID and `password` the
    auth token, which is also the key the provider signs its webhooks with."""

    provider: Provider
    api_url: str
    user: str
    password: Secret
    numbers: tuple[str, ...]
    public_url: str
    webhook_secret: Secret = field(default_factory=Secret)
    bridges: tuple[str, ...] = ()
    ring_timeout_s: int = 30
    timeout_s: float = 20.0
    espeak: str = "espeak-ng"

    def bridge_for(self, number: str) -> str | None:
        if number in self.numbers and self.bridges:
            return self.bridges[self.numbers.index(number)]
        return None


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


def parse_phone_settings(env: Mapping[str, str], public_url: str) -> PhoneSettings | None:
    """The phone section from the channels' environment; `public_url` is the server section's
    WIS_PUBLIC_URL (read once, in config), the base of the URLs the provider calls and signs."""
    raw = env.get("WIS_PHONE_PROVIDER", "").strip().lower()
    if not raw:
        return None
    try:
        provider = Provider(raw)
    except ValueError:
        raise ConfigError("WIS_PHONE_PROVIDER must be twiml or 46elks") from None
    why = "when WIS_PHONE_PROVIDER is set"
    api_url = env.get("WIS_PHONE_API_URL", "").strip()
    if not api_url:
        raise ConfigError(f"WIS_PHONE_API_URL is required {why}")
    api_url = http_base_url("WIS_PHONE_API_URL", api_url)
    user = env.get("WIS_PHONE_API_USER", "").strip()
    password = env.get("WIS_PHONE_API_PASSWORD", "")
    if not user or not password:
        raise ConfigError(f"WIS_PHONE_API_USER and WIS_PHONE_API_PASSWORD are required {why}")
    numbers = _list(env, "WIS_PHONE_NUMBERS")
    if not numbers or not all(_E164.match(n) for n in numbers):
        raise ConfigError("WIS_PHONE_NUMBERS must be a comma list of E.164 numbers "
                          "(+4687001234), one per parallel conference")
    if len(set(numbers)) != len(numbers) or len(numbers) > MAX_NUMBERS:
        raise ConfigError(f"WIS_PHONE_NUMBERS must hold 1-{MAX_NUMBERS} different numbers")
    public_url = public_url.strip()
    if not public_url:
        raise ConfigError("WIS_PUBLIC_URL is required when WIS_PHONE_PROVIDER is set (the "
                          "provider calls its webhooks, and signs that URL)")
    public_url = http_base_url("WIS_PUBLIC_URL", public_url)
    secret = env.get("WIS_PHONE_WEBHOOK_SECRET", "")
    bridges = _list(env, "WIS_PHONE_BRIDGES")
    if provider is Provider.ELKS:
        if len(secret) < 16 or not all(ch.isalnum() or ch in "-_" for ch in secret):
            raise ConfigError("WIS_PHONE_WEBHOOK_SECRET must be at least 16 characters of "
                              "A-Z, a-z, 0-9, - and _ with 46elks (it authenticates the "
                              "provider's webhooks, which are not signed)")
        if len(bridges) != len(numbers) or not all(
                _E164.match(b) or _SIP.match(b) for b in bridges):
            raise ConfigError("WIS_PHONE_BRIDGES must name, for each of WIS_PHONE_NUMBERS, "
                              "the E.164 number or sip: address of its conference bridge "
                              "(46elks has no conference of its own)")
    elif bridges:
        raise ConfigError("WIS_PHONE_BRIDGES is for 46elks only (TwiML has <Conference>)")
    ring = env.get("WIS_PHONE_RING_TIMEOUT_S", "").strip() or "30"
    if not ring.isdigit() or not 5 <= int(ring) <= 120:
        raise ConfigError("WIS_PHONE_RING_TIMEOUT_S must be 5-120 seconds")
    return PhoneSettings(provider, api_url, user, Secret(password), numbers, public_url,
                         Secret(secret), bridges, int(ring))
