"""Settings: a frozen tree of sections built from `WIS_*` environment variables (and optionally
a TOML file named by WIS_CONFIG_FILE, which the environment overrides). Secure defaults, no
default secrets; the embedded default (SQLite + generated keyring under WIS_DATA_DIR) needs
nothing. Secrets are `Secret`s: their repr and str never show the value, so neither does a
repr of the whole tree or a log line that carries it.

    Settings
      data_dir
      server       host, port, public_url, web_dir, allowed_origins, trusted_proxies,
                   max_body_bytes
      log          level, format
      database     url (Secret, shown with the password masked), pool_size
      keyring      file, variables (the WIS_KEYRING_* keys, Secrets)
      auth         issuer, audience, access/refresh token lifetimes, cookie_secure
      stream       per-connection queue and connection caps, catch-up and re-auth periods
      maintenance  prune_every_s
      callouts     step_s (escalation step), tick_s (how often this process escalates)
      channels     sms_webhook_secret (Secret); variables: the WIS_* variables only the
                   channels read (Secrets), for channels.settings.channel_settings(settings),
                   which takes WIS_PUBLIC_URL from server and the webhook secret from here
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    pass


class Secret:
    """A secret string: `reveal()` to use it; repr and str show only `shown` ("***" unless
    told, e.g. a URL with its password masked)."""

    __slots__ = ("_shown", "_value")

    def __init__(self, value: str = "", *, shown: str = "***") -> None:
        self._value = value
        self._shown = shown

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self._shown!r})"

    def __str__(self) -> str:
        return self._shown

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not serialised")


Variables = tuple[tuple[str, Secret], ...]


def _reveal(variables: Variables) -> dict[str, str]:
    return {name: value.reveal() for name, value in variables}


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""  # the external base URL (links in messages); "" = host:port
    web_dir: Path = Path("")
    allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    max_body_bytes: int = 1_048_576


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "info"
    format: str = "json"


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: Secret = field(default_factory=Secret)
    pool_size: int = 10


@dataclass(frozen=True, slots=True)
class KeyringSettings:
    file: Path = Path("")
    variables: Variables = ()  # WIS_KEYRING_PUBLIC, _SEKRETESS, _HEMLIG, _SIGNING, _AUDIT

    def reveal(self) -> dict[str, str]:
        """The key variables as classification.keys.keyring_from_env takes them."""
        return _reveal(self.variables)


@dataclass(frozen=True, slots=True)
class AuthSettings:
    issuer: str = "wis-server"
    audience: str = "wis-api"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 12 * 3600
    cookie_secure: bool = True


@dataclass(frozen=True, slots=True)
class StreamSettings:
    queue_messages: int = 1000
    queue_bytes: int = 1_048_576
    poll_s: float = 5.0
    revalidate_s: float = 60.0
    max_per_user: int = 8
    max_per_address: int = 16


@dataclass(frozen=True, slots=True)
class MaintenanceSettings:
    prune_every_s: float = 3600.0


@dataclass(frozen=True, slots=True)
class CalloutSettings:
    step_s: int = 600
    tick_s: float = 5.0  # 0: this process runs no escalation loop (another one does)


@dataclass(frozen=True, slots=True)
class ChannelsSection:
    """The hook for channel settings: `variables` holds every WIS_* variable no other section
    reads (SMTP, SMS, push…), as Secrets; `channels.settings.channel_settings` parses them
    with server.public_url and this section's sms_webhook_secret (each read once, here)."""

    sms_webhook_secret: Secret = field(default_factory=Secret)
    variables: Variables = ()

    def reveal(self) -> dict[str, str]:
        return _reveal(self.variables)


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("var")
    server: ServerSettings = ServerSettings()
    log: LogSettings = LogSettings()
    database: DatabaseSettings = DatabaseSettings()
    keyring: KeyringSettings = KeyringSettings()
    auth: AuthSettings = AuthSettings()
    stream: StreamSettings = StreamSettings()
    maintenance: MaintenanceSettings = MaintenanceSettings()
    callouts: CalloutSettings = CalloutSettings()
    channels: ChannelsSection = field(default_factory=ChannelsSection)


def redact_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


# variable → (section, attribute, kind). The TOML file uses the names in _TOML_KEYS.
_ENV: dict[str, tuple[str, str, object]] = {
    "WIS_DATA_DIR": ("", "data_dir", Path),
    "WIS_DATABASE_URL": ("database", "url", "secret-url"),
    "WIS_DB_POOL_SIZE": ("database", "pool_size", int),
    "WIS_KEYRING_FILE": ("keyring", "file", Path),
    "WIS_HOST": ("server", "host", str),
    "WIS_PORT": ("server", "port", int),
    "WIS_PUBLIC_URL": ("server", "public_url", str),
    "WIS_ALLOWED_ORIGINS": ("server", "allowed_origins", "list"),
    "WIS_MAX_BODY_BYTES": ("server", "max_body_bytes", int),
    "WIS_WEB_DIR": ("server", "web_dir", Path),
    "WIS_TRUSTED_PROXIES": ("server", "trusted_proxies", "list"),
    "WIS_LOG_LEVEL": ("log", "level", str),
    "WIS_LOG_FORMAT": ("log", "format", str),
    "WIS_TOKEN_ISSUER": ("auth", "issuer", str),
    "WIS_TOKEN_AUDIENCE": ("auth", "audience", str),
    "WIS_ACCESS_TOKEN_TTL": ("auth", "access_token_ttl_s", int),
    "WIS_REFRESH_TOKEN_TTL": ("auth", "refresh_token_ttl_s", int),
    "WIS_COOKIE_SECURE": ("auth", "cookie_secure", "bool"),
    "WIS_STREAM_QUEUE_MESSAGES": ("stream", "queue_messages", int),
    "WIS_STREAM_QUEUE_BYTES": ("stream", "queue_bytes", int),
    "WIS_STREAM_POLL_S": ("stream", "poll_s", float),
    "WIS_STREAM_REVALIDATE_S": ("stream", "revalidate_s", float),
    "WIS_STREAM_MAX_PER_USER": ("stream", "max_per_user", int),
    "WIS_STREAM_MAX_PER_ADDRESS": ("stream", "max_per_address", int),
    "WIS_MAINTENANCE_EVERY_S": ("maintenance", "prune_every_s", float),
    "WIS_CALLOUT_STEP_S": ("callouts", "step_s", int),
    "WIS_CALLOUT_TICK_S": ("callouts", "tick_s", float),
    "WIS_SMS_WEBHOOK_SECRET": ("channels", "sms_webhook_secret", "secret"),
}

# The TOML file's keys: the flat names it has always taken (e.g. `port = 8000`).
_TOML_KEYS = {
    "WIS_DATA_DIR": "data_dir", "WIS_DATABASE_URL": "database_url",
    "WIS_DB_POOL_SIZE": "db_pool_size", "WIS_KEYRING_FILE": "keyring_file",
    "WIS_HOST": "host", "WIS_PORT": "port", "WIS_ALLOWED_ORIGINS": "allowed_origins",
    "WIS_MAX_BODY_BYTES": "max_body_bytes", "WIS_WEB_DIR": "web_dir",
    "WIS_TRUSTED_PROXIES": "trusted_proxies", "WIS_LOG_LEVEL": "log_level",
    "WIS_LOG_FORMAT": "log_format", "WIS_TOKEN_ISSUER": "issuer",
    "WIS_TOKEN_AUDIENCE": "audience", "WIS_ACCESS_TOKEN_TTL": "access_token_ttl_s",
    "WIS_REFRESH_TOKEN_TTL": "refresh_token_ttl_s", "WIS_COOKIE_SECURE": "cookie_secure",
    "WIS_STREAM_QUEUE_MESSAGES": "stream_queue_messages",
    "WIS_STREAM_QUEUE_BYTES": "stream_queue_bytes", "WIS_STREAM_POLL_S": "stream_poll_s",
    "WIS_STREAM_REVALIDATE_S": "stream_revalidate_s",
    "WIS_STREAM_MAX_PER_USER": "stream_max_per_user",
    "WIS_STREAM_MAX_PER_ADDRESS": "stream_max_per_address",
    "WIS_MAINTENANCE_EVERY_S": "maintenance_every_s", "WIS_PUBLIC_URL": "public_url",
    "WIS_CALLOUT_STEP_S": "callout_step_s", "WIS_CALLOUT_TICK_S": "callout_tick_s",
    "WIS_SMS_WEBHOOK_SECRET": "sms_webhook_secret",
}

KEYRING_PREFIX = "WIS_KEYRING_"
# Read elsewhere, never kept in Settings: the CLI's one-off passwords and the config file.
_NOT_KEPT = frozenset({"WIS_CONFIG_FILE", "WIS_ADMIN_PASSWORD", "WIS_USER_PASSWORD"})


def _convert(name: str, kind: object, raw: object) -> object:
    try:
        if kind == "list":
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return tuple(str(i).strip() for i in items if str(i).strip())
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(text)
            return text in ("1", "true", "yes", "on")
        if kind in ("secret-url", "secret"):
            if not isinstance(raw, str):
                raise TypeError(name)
            return raw if kind == "secret-url" else Secret(raw)
        if kind is int:
            return int(str(raw))
        return kind(raw)  # type: ignore[operator]
    except (TypeError, ValueError):
        raise ConfigError(f"{name} has an invalid value") from None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    values: dict[str, object] = {}  # by variable name
    config_file = env.get("WIS_CONFIG_FILE")
    if config_file:
        try:
            doc = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"cannot read WIS_CONFIG_FILE: {error.__class__.__name__}") from None
        by_key = {key: name for name, key in _TOML_KEYS.items()}
        for key, raw in doc.items():
            if key not in by_key:
                raise ConfigError(f"unknown setting {key!r} in WIS_CONFIG_FILE")
            values[by_key[key]] = _convert(key, _ENV[by_key[key]][2], raw)
    for name, (_, _, kind) in _ENV.items():
        if name in env and env[name] != "":
            values[name] = _convert(name, kind, env[name])
    data_dir = Path(values.get("WIS_DATA_DIR", Path("var")))  # type: ignore[arg-type]
    values["WIS_DATA_DIR"] = data_dir
    if not values.get("WIS_DATABASE_URL"):
        values["WIS_DATABASE_URL"] = f"sqlite:///{(data_dir / 'wis.db').resolve()}"
    url = str(values["WIS_DATABASE_URL"])
    values["WIS_DATABASE_URL"] = Secret(url, shown=redact_url(url))
    if not str(values.get("WIS_KEYRING_FILE", "")):
        values["WIS_KEYRING_FILE"] = data_dir / "keyring.json"
    if not str(values.get("WIS_WEB_DIR", "")):
        values["WIS_WEB_DIR"] = Path(__file__).resolve().parent.parent / "clients" / "web"
    ttl = int(values.get("WIS_ACCESS_TOKEN_TTL", 900))  # type: ignore[call-overload]
    if not 60 <= ttl <= 3600:
        raise ConfigError("WIS_ACCESS_TOKEN_TTL must be between 60 and 3600 seconds")
    for proxy in values.get("WIS_TRUSTED_PROXIES", ()):  # type: ignore[attr-defined]
        try:
            ipaddress.ip_network(str(proxy), strict=False)
        except ValueError:
            raise ConfigError("WIS_TRUSTED_PROXIES takes IP addresses and CIDR networks "
                              "(never *)") from None
    if values.get("WIS_LOG_FORMAT", "json") not in ("json", "console"):
        raise ConfigError("WIS_LOG_FORMAT must be json or console")
    if float(values.get("WIS_MAINTENANCE_EVERY_S", 1.0)) <= 0:  # type: ignore[arg-type]
        raise ConfigError("WIS_MAINTENANCE_EVERY_S must be a positive number of seconds")
    if not 30 <= int(values.get("WIS_CALLOUT_STEP_S", 600)) <= 24 * 3600:  # type: ignore[call-overload]
        raise ConfigError("WIS_CALLOUT_STEP_S must be between 30 and 86400 seconds")
    keys = tuple((n, Secret(v)) for n, v in sorted(env.items())
                 if n.startswith(KEYRING_PREFIX) and n not in _ENV)
    others = tuple((n, Secret(v)) for n, v in sorted(env.items())
                   if n.startswith("WIS_") and n not in _NOT_KEPT
                   and n not in _ENV
                   and not n.startswith((KEYRING_PREFIX, "WIS_TEST_")))
    settings = Settings(keyring=KeyringSettings(variables=keys),
                        channels=ChannelsSection(variables=others))
    sections: dict[str, dict[str, object]] = {}
    for name, value in values.items():
        section, attr, _ = _ENV[name]
        sections.setdefault(section, {})[attr] = value
    top = sections.pop("", {})
    parts = {section: replace(getattr(settings, section), **fields)
             for section, fields in sections.items()}
    return replace(settings, **top, **parts)  # type: ignore[arg-type]
