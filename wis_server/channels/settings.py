"""Channel settings: a frozen value parsed from `WIS_*` variables (a Mapping[str, str]).

Secure defaults: no channel is enabled unless WIS_CHANNELS names it; no default credentials;
passwords are `Secret`s that never print.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..classification.channel_policy import ChannelKind
from ..config import ConfigError, Secret, Settings

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SENDER_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,10}$")
REAL_CHANNELS = (ChannelKind.EMAIL, ChannelKind.SMS, ChannelKind.PUSH)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    tls: str  # "none" | "starttls" | "tls" (implicit, smtps://)
    user: str | None
    password: Secret | None
    mail_from: str
    ca_file: Path | None = None
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class SmsSettings:
    api_url: str  # base URL; messages are POSTed to <api_url>/a1/sms
    user: str
    password: Secret
    sender: str
    webhook_secret: Secret
    max_parts: int = 3
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class PushSettings:
    subject: str  # VAPID `sub`: mailto: or https:
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    enabled: tuple[ChannelKind, ...] = ()
    memory: bool = False  # WIS_CHANNELS=memory: every channel is an in-memory recorder
    public_url: str = ""
    smtp: SmtpSettings | None = None
    sms: SmsSettings | None = None
    push: PushSettings | None = None
    # WIS_PUSH_ALLOW_LOOPBACK: accept (and send to) push endpoints on this machine, also over
    # http — only for a local test push service; never in production (SSRF).
    push_allow_loopback: bool = False

    @property
    def push_enabled(self) -> bool:
        return ChannelKind.PUSH in self.enabled


def _flag(env: Mapping[str, str], name: str) -> bool:
    text = env.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be true or false")


def _required(env: Mapping[str, str], name: str, why: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is required {why}")
    return value


def _smtp(env: Mapping[str, str]) -> SmtpSettings:
    url = _required(env, "WIS_SMTP_URL", "when WIS_CHANNELS includes email")
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError("WIS_SMTP_URL must be smtp://host:port or smtps://host:port")
    if parts.username or parts.password:
        raise ConfigError("WIS_SMTP_URL must not carry credentials; use WIS_SMTP_USER and "
                          "WIS_SMTP_PASSWORD")
    query = parse_qs(parts.query)
    unknown = set(query) - {"starttls"}
    if unknown:
        raise ConfigError("WIS_SMTP_URL takes only ?starttls=true")
    starttls = query.get("starttls", ["false"])[-1].lower()
    if starttls not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError("WIS_SMTP_URL: starttls must be true or false")
    wants_starttls = starttls in ("true", "1", "yes")
    if parts.scheme == "smtps":
        if wants_starttls:
            raise ConfigError("WIS_SMTP_URL: smtps:// is TLS from the start; drop ?starttls")
        tls = "tls"
    else:
        tls = "starttls" if wants_starttls else "none"
    try:
        port = parts.port or (465 if tls == "tls" else 587 if tls == "starttls" else 25)
    except ValueError:
        raise ConfigError("WIS_SMTP_URL has an invalid port") from None
    user = env.get("WIS_SMTP_USER", "").strip() or None
    password = env.get("WIS_SMTP_PASSWORD", "")
    if bool(user) != bool(password):
        raise ConfigError("WIS_SMTP_USER and WIS_SMTP_PASSWORD go together")
    if user and tls == "none":
        raise ConfigError("SMTP credentials need TLS: use smtps:// or ?starttls=true")
    mail_from = _required(env, "WIS_MAIL_FROM", "when WIS_CHANNELS includes email")
    if "@" not in mail_from or any(ch in mail_from for ch in "\r\n<>"):
        raise ConfigError("WIS_MAIL_FROM must be an e-mail address")
    ca = env.get("WIS_SMTP_CA_FILE", "").strip()
    return SmtpSettings(parts.hostname, port, tls, user, Secret(password) if password else None,
                        mail_from, Path(ca) if ca else None)


def http_base_url(name: str, value: str) -> str:
    """A provider's or our own external base URL: http(s), a host, nothing else; no trailing /."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http(s):// URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be a plain base URL (no credentials, query or fragment)")
    return value.rstrip("/")


def _sms(env: Mapping[str, str], public_url: str, webhook_secret: Secret) -> SmsSettings:
    why = "when WIS_CHANNELS includes sms"
    api_url = http_base_url("WIS_SMS_API_URL", _required(env, "WIS_SMS_API_URL", why))
    if not public_url:
        raise ConfigError("WIS_PUBLIC_URL is required when WIS_CHANNELS includes sms "
                          "(the provider posts delivery reports and replies to it)")
    secret = webhook_secret.reveal().strip()
    if not secret:
        raise ConfigError(f"WIS_SMS_WEBHOOK_SECRET is required {why}")
    if len(secret) < 16 or not all(ch.isalnum() or ch in "-_" for ch in secret):
        raise ConfigError("WIS_SMS_WEBHOOK_SECRET must be at least 16 characters of "
                          "A-Z, a-z, 0-9, - and _ (it is part of a URL)")
    sender = _required(env, "WIS_SMS_FROM", why)
    if not (_E164.match(sender) or _SENDER_ID.match(sender)):
        raise ConfigError("WIS_SMS_FROM must be an E.164 number (+46766861004) or a text sender "
                          "id of 3-11 letters and digits starting with a letter")
    return SmsSettings(api_url, _required(env, "WIS_SMS_API_USER", why),
                       Secret(_required(env, "WIS_SMS_API_PASSWORD", why)), sender,
                       Secret(secret))


def _push(env: Mapping[str, str], public_url: str) -> PushSettings:
    subject = env.get("WIS_VAPID_SUBJECT", "").strip()
    if not subject:
        mail_from = env.get("WIS_MAIL_FROM", "").strip()
        subject = f"mailto:{mail_from}" if mail_from else public_url
    if not subject.startswith(("mailto:", "https://")):
        raise ConfigError("push needs a VAPID contact: set WIS_VAPID_SUBJECT (mailto: or "
                          "https:), WIS_MAIL_FROM, or an https:// WIS_PUBLIC_URL")
    return PushSettings(subject)


def channel_settings(settings: Settings) -> ChannelSettings:
    """The channels of the runtime's settings: WIS_PUBLIC_URL and WIS_SMS_WEBHOOK_SECRET are
    read once, by the config sections (server, channels), and handed in from there."""
    return parse_channel_settings(settings.channels.reveal(),
                                  public_url=settings.server.public_url,
                                  sms_webhook_secret=settings.channels.sms_webhook_secret)


def parse_channel_settings(env: Mapping[str, str], *, public_url: str = "",
                           sms_webhook_secret: Secret | None = None) -> ChannelSettings:
    """`env`: the channels section's variables (SMTP, SMS, push…); the public URL and the SMS
    webhook secret come from their own sections (see channel_settings)."""
    raw = [part.strip().lower() for part in env.get("WIS_CHANNELS", "").split(",")
           if part.strip()]
    public_url = public_url.strip()
    if public_url:
        public_url = http_base_url("WIS_PUBLIC_URL", public_url)
    if raw == ["memory"]:
        return ChannelSettings(REAL_CHANNELS, True, public_url or "http://127.0.0.1:8000",
                               push_allow_loopback=_flag(env, "WIS_PUSH_ALLOW_LOOPBACK"))
    if "memory" in raw:
        raise ConfigError("WIS_CHANNELS=memory cannot be combined with real channels")
    allowed = {kind.value: kind for kind in REAL_CHANNELS}
    enabled: list[ChannelKind] = []
    for name in raw:
        if name not in allowed:
            raise ConfigError("WIS_CHANNELS takes memory, or a comma list of email, sms, push")
        if allowed[name] not in enabled:
            enabled.append(allowed[name])
    return ChannelSettings(
        enabled=tuple(enabled),
        memory=False,
        public_url=public_url,
        smtp=_smtp(env) if ChannelKind.EMAIL in enabled else None,
        sms=_sms(env, public_url, sms_webhook_secret or Secret())
        if ChannelKind.SMS in enabled else None,
        push=_push(env, public_url) if ChannelKind.PUSH in enabled else None,
        push_allow_loopback=_flag(env, "WIS_PUSH_ALLOW_LOOPBACK"),
    )
