"""Settings: a frozen tree built from `WIS_*` environment variables (and optionally a TOML
file named by WIS_CONFIG_FILE, which the environment overrides). Secure defaults, no default
secrets; the embedded default (SQLite + generated keyring under WIS_DATA_DIR) needs nothing."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path


class ConfigError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("var")
    database_url: str = ""
    keyring_file: Path = Path("")
    host: str = "127.0.0.1"
    port: int = 8000
    issuer: str = "wis-server"
    audience: str = "wis-api"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 12 * 3600
    allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = 1_048_576
    log_level: str = "info"
    log_format: str = "json"
    cookie_secure: bool = True
    web_dir: Path = Path("")
    db_pool_size: int = 10
    stream_queue_messages: int = 1000
    stream_queue_bytes: int = 1_048_576
    stream_poll_s: float = 5.0
    stream_revalidate_s: float = 60.0
    trusted_proxies: tuple[str, ...] = ()
    stream_max_per_user: int = 8
    stream_max_per_address: int = 16
    public_url: str = ""
    sms_webhook_secret: str = field(default="", repr=False)
    callout_step_s: int = 600
    callout_tick_s: float = 5.0
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self)
                 if f.name not in ("env", "sms_webhook_secret")}
        shown["database_url"] = redact_url(self.database_url)
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


def redact_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


_ENV = {
    "WIS_DATA_DIR": ("data_dir", Path),
    "WIS_DATABASE_URL": ("database_url", str),
    "WIS_KEYRING_FILE": ("keyring_file", Path),
    "WIS_HOST": ("host", str),
    "WIS_PORT": ("port", int),
    "WIS_TOKEN_ISSUER": ("issuer", str),
    "WIS_TOKEN_AUDIENCE": ("audience", str),
    "WIS_ACCESS_TOKEN_TTL": ("access_token_ttl_s", int),
    "WIS_REFRESH_TOKEN_TTL": ("refresh_token_ttl_s", int),
    "WIS_ALLOWED_ORIGINS": ("allowed_origins", "list"),
    "WIS_MAX_BODY_BYTES": ("max_body_bytes", int),
    "WIS_LOG_LEVEL": ("log_level", str),
    "WIS_LOG_FORMAT": ("log_format", str),
    "WIS_COOKIE_SECURE": ("cookie_secure", "bool"),
    "WIS_WEB_DIR": ("web_dir", Path),
    "WIS_DB_POOL_SIZE": ("db_pool_size", int),
    "WIS_STREAM_QUEUE_MESSAGES": ("stream_queue_messages", int),
    "WIS_STREAM_QUEUE_BYTES": ("stream_queue_bytes", int),
    "WIS_STREAM_POLL_S": ("stream_poll_s", float),
    "WIS_STREAM_REVALIDATE_S": ("stream_revalidate_s", float),
    "WIS_TRUSTED_PROXIES": ("trusted_proxies", "list"),
    "WIS_STREAM_MAX_PER_USER": ("stream_max_per_user", int),
    "WIS_STREAM_MAX_PER_ADDRESS": ("stream_max_per_address", int),
    "WIS_PUBLIC_URL": ("public_url", str),
    "WIS_SMS_WEBHOOK_SECRET": ("sms_webhook_secret", str),
    "WIS_CALLOUT_STEP_S": ("callout_step_s", int),
    "WIS_CALLOUT_TICK_S": ("callout_tick_s", float),
}


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
        if kind is int:
            return int(str(raw))
        return kind(raw)  # type: ignore[operator]
    except (TypeError, ValueError):
        raise ConfigError(f"{name} has an invalid value") from None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    values: dict[str, object] = {}
    config_file = env.get("WIS_CONFIG_FILE")
    if config_file:
        try:
            doc = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"cannot read WIS_CONFIG_FILE: {error.__class__.__name__}") from None
        by_attr = {attr: (name, kind) for name, (attr, kind) in _ENV.items()}
        for key, raw in doc.items():
            if key not in by_attr:
                raise ConfigError(f"unknown setting {key!r} in WIS_CONFIG_FILE")
            name, kind = by_attr[key]
            values[key] = _convert(key, kind, raw)
    for name, (attr, kind) in _ENV.items():
        if name in env and env[name] != "":
            values[attr] = _convert(name, kind, env[name])
    data_dir = Path(values.get("data_dir", Path("var")))  # type: ignore[arg-type]
    values["data_dir"] = data_dir
    if not values.get("database_url"):
        values["database_url"] = f"sqlite:///{(data_dir / 'wis.db').resolve()}"
    if not str(values.get("keyring_file", "")):
        values["keyring_file"] = data_dir / "keyring.json"
    if not str(values.get("web_dir", "")):
        values["web_dir"] = Path(__file__).resolve().parent.parent / "clients" / "web"
    ttl = int(values.get("access_token_ttl_s", 900))  # type: ignore[call-overload]
    if not 60 <= ttl <= 3600:
        raise ConfigError("WIS_ACCESS_TOKEN_TTL must be between 60 and 3600 seconds")
    for proxy in values.get("trusted_proxies", ()):  # type: ignore[attr-defined]
        try:
            ipaddress.ip_network(str(proxy), strict=False)
        except ValueError:
            raise ConfigError("WIS_TRUSTED_PROXIES takes IP addresses and CIDR networks "
                              "(never *)") from None
    if not 30 <= int(values.get("callout_step_s", 600)) <= 24 * 3600:  # type: ignore[call-overload]
        raise ConfigError("WIS_CALLOUT_STEP_S must be between 30 and 86400 seconds")
    settings = Settings(**values, env=env)  # type: ignore[arg-type]
    if settings.log_format not in ("json", "console"):
        raise ConfigError("WIS_LOG_FORMAT must be json or console")
    return settings
