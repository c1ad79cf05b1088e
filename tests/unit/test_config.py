"""Settings from WIS_* variables and an optional TOML file: secure defaults, strict parsing,
no secrets in repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from wis_server.config import ConfigError, Settings, load_settings, redact_url


def test_defaults_are_secure_and_need_nothing(tmp_path: Path) -> None:
    s = load_settings({"WIS_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite:///{(tmp_path / 'wis.db').resolve()}"
    assert s.keyring_file == tmp_path / "keyring.json"
    assert s.host == "127.0.0.1"                      # not exposed by default
    assert s.cookie_secure is True
    assert 600 <= s.access_token_ttl_s <= 900
    assert s.max_body_bytes > 0
    assert s.allowed_origins == ()
    assert s.log_format == "json"


def test_environment_overrides() -> None:
    s = load_settings({
        "WIS_DATA_DIR": "/srv/wis", "WIS_DATABASE_URL": "postgresql://u:p@db/wis",
        "WIS_PORT": "9000", "WIS_MAX_BODY_BYTES": "2048", "WIS_COOKIE_SECURE": "false",
        "WIS_ALLOWED_ORIGINS": "https://a.example, https://b.example,",
        "WIS_ACCESS_TOKEN_TTL": "600", "WIS_KEYRING_FILE": "/etc/wis/keyring.json"})
    assert s.port == 9000 and s.max_body_bytes == 2048 and s.cookie_secure is False
    assert s.allowed_origins == ("https://a.example", "https://b.example")
    assert s.access_token_ttl_s == 600
    assert s.keyring_file == Path("/etc/wis/keyring.json")
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
    assert load_settings({"WIS_COOKIE_SECURE": value}).cookie_secure is expected


def test_empty_variables_mean_default() -> None:
    s = load_settings({"WIS_PORT": "", "WIS_DATABASE_URL": ""})
    assert s.port == 8000 and s.database_url.startswith("sqlite:///")


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
    assert s.port == 8123 and s.host == "0.0.0.0" and s.allowed_origins == ("https://x",)
    s = load_settings({"WIS_CONFIG_FILE": str(config), "WIS_PORT": "9999"})
    assert s.port == 9999


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
        s.port = 1  # type: ignore[misc]
