"""The webhook URLs we give the provider (pure): `/api/v1/channels/phone/{provider}/{hook}`
with our state in the query. TwiML signs the whole URL, query included; 46elks does not
sign, so its URLs carry `key=<WIS_PHONE_WEBHOOK_SECRET>` (never logged: logs hold paths)."""

from __future__ import annotations

from urllib.parse import urlencode

from .settings import PhoneSettings, Provider

PREFIX = "/api/v1/channels/phone"
HOOKS = ("voice", "gather", "status")
AUDIO_PATH = PREFIX + "/46elks/audio/{token}.wav"


def webhook_path(provider: Provider, hook: str) -> str:
    assert hook in HOOKS
    return f"{PREFIX}/{provider.value}/{hook}"


def webhook_url(settings: PhoneSettings, hook: str, **params: str | int | None) -> str:
    query = {k: str(v) for k, v in params.items() if v is not None}
    if settings.provider is Provider.ELKS:
        query["key"] = settings.webhook_secret.reveal()
    url = settings.public_url + webhook_path(settings.provider, hook)
    return f"{url}?{urlencode(query)}" if query else url


def audio_url(settings: PhoneSettings, token: str) -> str:
    return settings.public_url + AUDIO_PATH.format(token=token)
