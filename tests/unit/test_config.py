"""Settings from WIS_* variables and an optional TOML file: secure defaults, strict parsing,
no secrets in repr."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from wis_server.config import ConfigError, Secret, Settings, load_settings, redact_url


def test_defaults_are_secure_and_need_nothing(tmp_path: Path) -> None:
    s = load_settings({"WIS_DATA_DIR": str(tmp_path)})
    assert s.database.url.reveal() == f"sqlite:///{(tmp_path / 'wis.db').resolve()}"
    assert s.keyring.file == tmp_path / "keyring.json"
    assert s.server.host == "127.0.0.1"                    # not exposed by default
    assert s.auth.cookie_secure is True
    assert 600 <= s.auth.access_token_ttl_s <= 900
    assert s.server.max_body_bytes > 0
    assert s.server.allowed_origins == ()
    assert s.log.format == "json"


def test_environment_overrides() -> None:
    s = load_settings({
        "WIS_DATA_DIR": "/srv/wis", "WIS_DATABASE_URL": "postgresql://u:p@db/wis",
        "WIS_PORT": "9000", "WIS_MAX_BODY_BYTES": "2048", "WIS_COOKIE_SECURE": "false",
        "WIS_ALLOWED_ORIGINS": "https://a.example, https://b.example,",
        "WIS_ACCESS_TOKEN_TTL": "600", "WIS_KEYRING_FILE": "/etc/wis/keyring.json"})
    assert s.server.port == 9000 and s.server.max_body_bytes == 2048
    assert s.auth.cookie_secure is False
    assert s.server.allowed_origins == ("https://a.example", "https://b.example")
    assert s.auth.access_token_ttl_s == 600
    assert s.keyring.file == Path("/etc/wis/keyring.json")
    assert s.data_dir == Path("/srv/wis")


@pytest.mark.parametrize(("name", "value"), [
    ("WIS_PORT", "eighty"), ("WIS_MAX_BODY_BYTES", "1MB"), ("WIS_COOKIE_SECURE", "maybe"),
    ("WIS_ACCESS_TOKEN_TTL", "86400"), ("WIS_ACCESS_TOKEN_TTL", "10"),
    ("WIS_LOG_FORMAT", "xml"), ("WIS_DB_POOL_SIZE", "many"),
])
def test_invalid_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({name: value})
    assert name.removeprefix("WIS_") in str(info.value).upper() or name in str(info.value)


@pytest.mark.parametrize(("value", "expected"), [
    ("1", True), ("true", True), ("YES", True), ("on", True),
    ("0", False), ("false", False), ("No", False), ("off", False),
])
def test_booleans(value: str, expected: bool) -> None:
    assert load_settings({"WIS_COOKIE_SECURE": value}).auth.cookie_secure is expected


def test_empty_variables_mean_default() -> None:
    s = load_settings({"WIS_PORT": "", "WIS_DATABASE_URL": ""})
    assert s.server.port == 8000 and s.database.url.reveal().startswith("sqlite:///")


def test_repr_hides_the_database_password_and_environment() -> None:
    s = load_settings({"WIS_DATABASE_URL": "postgresql://wis:s3cr3t-pw@db:5432/wis",
                       "WIS_KEYRING_AUDIT": "QUJD-secret-audit"})
    text = repr(s) + str(s)
    assert "s3cr3t-pw" not in text and "wis:***@db:5432/wis" in text
    assert "QUJD-secret-audit" not in text
    assert redact_url("sqlite:///var/wis.db") == "sqlite:///var/wis.db"
    assert redact_url("postgresql://a:b:c@h/d") == "postgresql://a:***@h/d"


def test_toml_file_and_env_precedence(tmp_path: Path) -> None:
    config = tmp_path / "wis.toml"
    config.write_text('port = 8123\nhost = "0.0.0.0"\nallowed_origins = ["https://x"]\n',
                      encoding="utf-8")
    s = load_settings({"WIS_CONFIG_FILE": str(config)})
    assert s.server.port == 8123 and s.server.host == "0.0.0.0"
    assert s.server.allowed_origins == ("https://x",)
    s = load_settings({"WIS_CONFIG_FILE": str(config), "WIS_PORT": "9999"})
    assert s.server.port == 9999


@pytest.mark.parametrize("content", ['nonsense = 1\n', 'port = "x"\n', "port = [\n"])
def test_bad_toml_is_refused(tmp_path: Path, content: str) -> None:
    config = tmp_path / "wis.toml"
    config.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_settings({"WIS_CONFIG_FILE": str(config)})


def test_missing_toml_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_settings({"WIS_CONFIG_FILE": str(tmp_path / "absent.toml")})


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(AttributeError):
        s.data_dir = Path("x")  # type: ignore[misc]
    with pytest.raises(AttributeError):
        s.server.port = 1  # type: ignore[misc]


def test_a_secret_never_prints_its_value() -> None:
    secret = Secret("hunter2-Kärnkraft")
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", "%s" % secret,  # noqa: UP031 (as logging formats)
             repr([secret]), repr({"password": secret}), format(secret, "")]
    assert all("hunter2" not in text for text in shown)
    assert repr(secret) == "Secret('***')" and str(secret) == "***"
    assert secret.reveal() == "hunter2-Kärnkraft"
    assert secret == Secret("hunter2-Kärnkraft") and secret != Secret("other")
    assert secret and not Secret("")
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    url = Secret("postgresql://wis:pw-123@db/wis", shown=redact_url("postgresql://wis:pw-123@db/wis"))
    assert "pw-123" not in repr(url) and "wis:***@db/wis" in repr(url)


SECRET_ENV = {
    "WIS_DATABASE_URL": "postgresql://wis:db-s3cret@db:5432/wis",
    "WIS_KEYRING_AUDIT": "QUJD-audit-s3cret",
    "WIS_KEYRING_HEMLIG": "1:hemlig-s3cret",
    "WIS_SMTP_PASSWORD": "smtp-s3cret",
    "WIS_ADMIN_PASSWORD": "admin-s3cret",
    "HOME": "/home/someone", "AWS_SECRET_ACCESS_KEY": "aws-s3cret",
}


def test_settings_carry_no_whole_environment_and_secrets_are_typed() -> None:
    s = load_settings(SECRET_ENV)
    assert not hasattr(s, "env")
    assert isinstance(s.database.url, Secret)
    assert s.database.url.reveal() == SECRET_ENV["WIS_DATABASE_URL"]
    assert s.keyring.reveal() == {"WIS_KEYRING_AUDIT": "QUJD-audit-s3cret",
                                  "WIS_KEYRING_HEMLIG": "1:hemlig-s3cret"}
    assert all(isinstance(v, Secret) for _, v in s.keyring.variables)
    # The channels hook: the WIS_* variables no core section reads, nothing else.
    assert s.channels.reveal() == {"WIS_SMTP_PASSWORD": "smtp-s3cret"}
    text = repr(s) + str(s)
    assert "s3cret" not in text and "/home/someone" not in text
    assert "wis:***@db:5432/wis" in text


def test_secrets_stay_out_of_log_lines(capsys: pytest.CaptureFixture[str]) -> None:
    import structlog

    from wis_server.observability import configure_logging

    s = load_settings(SECRET_ENV)
    try:
        for fmt in ("json", "console"):
            configure_logging("info", fmt)
            log = structlog.get_logger("wis.test")
            log.info("settings loaded", settings=s, password=s.channels.variables[0][1],
                     database=s.database.url)
            log.info("positional %s", s.database.url)
    finally:
        structlog.reset_defaults()
    err = capsys.readouterr().err
    assert "settings loaded" in err and "wis:***@db" in err
    assert "s3cret" not in err


def test_maintenance_interval() -> None:
    assert load_settings({}).maintenance.prune_every_s == 3600.0
    assert load_settings({"WIS_MAINTENANCE_EVERY_S": "60"}).maintenance.prune_every_s == 60.0
    for bad in ("0", "-5", "often"):
        with pytest.raises(ConfigError):
            load_settings({"WIS_MAINTENANCE_EVERY_S": bad})


def test_the_channels_section_is_what_the_channel_settings_parse() -> None:
    from wis_server.channels.settings import channel_settings, parse_channel_settings

    env = {"WIS_CHANNELS": "email,sms", "WIS_PUBLIC_URL": "https://wis.example",
           "WIS_SMTP_URL": "smtps://mail.example:465", "WIS_SMTP_USER": "wis",
           "WIS_SMTP_PASSWORD": "smtp-s3cret", "WIS_MAIL_FROM": "wis@example.se",
           "WIS_SMS_API_URL": "https://api.46elks.com", "WIS_SMS_API_USER": "u",
           "WIS_SMS_API_PASSWORD": "sms-s3cret", "WIS_SMS_FROM": "+46700000000",
           "WIS_SMS_WEBHOOK_SECRET": "abcdefghijklmnop-s3cret", "WIS_PORT": "8123"}
    s = load_settings(env)
    channels = channel_settings(s)
    raw = {k: v for k, v in env.items() if k not in ("WIS_PUBLIC_URL", "WIS_SMS_WEBHOOK_SECRET")}
    assert channels == parse_channel_settings(
        raw, public_url=env["WIS_PUBLIC_URL"],
        sms_webhook_secret=Secret(env["WIS_SMS_WEBHOOK_SECRET"]))
    assert channels.public_url == "https://wis.example" and channels.sms is not None
    assert channels.sms.webhook_secret.reveal() == "abcdefghijklmnop-s3cret"
    # read once, by their own sections: not carried a second time among the channels'
    assert {"WIS_PUBLIC_URL", "WIS_SMS_WEBHOOK_SECRET"}.isdisjoint(s.channels.reveal())
    assert s.server.public_url == "https://wis.example"
    assert s.channels.sms_webhook_secret.reveal() == "abcdefghijklmnop-s3cret"
    assert "WIS_PORT" not in s.channels.reveal()  # core settings stay in their sections
    assert "s3cret" not in repr(s)
