"""WIS_RAKEL_* settings: the gateway is off unless a device is named; secure defaults."""

from __future__ import annotations

import pytest

from wis_server.channels.errors import InvalidAddress
from wis_server.channels.rakel.gateway import MAX_LENGTH, parse_address
from wis_server.channels.rakel.settings import RakelSettings, parse_rakel_settings
from wis_server.config import ConfigError


def test_off_without_a_device() -> None:
    assert parse_rakel_settings({}) is None
    assert parse_rakel_settings({"WIS_RAKEL_ISSI": "2010001"}) is None


def test_serial_defaults() -> None:
    settings = parse_rakel_settings({"WIS_RAKEL_DEVICE": "/dev/ttyUSB0",
                                     "WIS_RAKEL_ISSI": "02010001"})
    assert settings == RakelSettings(device="/dev/ttyUSB0", issi="2010001", baud=38400,
                                     sekretess=False)
    assert settings.tcp is None


def test_tcp_serial_server_and_options() -> None:
    settings = parse_rakel_settings({"WIS_RAKEL_DEVICE": "tcp://10.0.0.5:4001",
                                     "WIS_RAKEL_ISSI": "2010001", "WIS_RAKEL_BAUD": "115200",
                                     "WIS_RAKEL_SEKRETESS": "true"})
    assert settings is not None
    assert settings.tcp == ("10.0.0.5", 4001)
    assert settings.baud == 115200 and settings.sekretess


@pytest.mark.parametrize("env", [
    {"WIS_RAKEL_DEVICE": "/dev/ttyUSB0"},  # no own ISSI
    {"WIS_RAKEL_DEVICE": "/dev/ttyUSB0", "WIS_RAKEL_ISSI": "abc"},
    {"WIS_RAKEL_DEVICE": "/dev/ttyUSB0", "WIS_RAKEL_ISSI": "16777216"},
    {"WIS_RAKEL_DEVICE": "/dev/ttyUSB0", "WIS_RAKEL_ISSI": "1", "WIS_RAKEL_BAUD": "12345"},
    {"WIS_RAKEL_DEVICE": "/dev/ttyUSB0", "WIS_RAKEL_ISSI": "1", "WIS_RAKEL_SEKRETESS": "maybe"},
    {"WIS_RAKEL_DEVICE": "ttyUSB0", "WIS_RAKEL_ISSI": "1"},
    {"WIS_RAKEL_DEVICE": "tcp://host", "WIS_RAKEL_ISSI": "1"},
    {"WIS_RAKEL_DEVICE": "tcp://host:99999", "WIS_RAKEL_ISSI": "1"},
    {"WIS_RAKEL_DEVICE": "tcp://user@host:4001", "WIS_RAKEL_ISSI": "1"},
    {"WIS_RAKEL_DEVICE": "udp://host:4001", "WIS_RAKEL_ISSI": "1"},
])
def test_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        parse_rakel_settings(env)


def test_addresses() -> None:
    assert parse_address("issi:2011234") == ("2011234", False)
    assert parse_address("GSSI:9001") == ("9001", True)
    assert parse_address("02011234") == ("2011234", False)
    for bad in ("", "issi:", "msisdn:123", "gssi:-1", "16777216", "issi:12a"):
        with pytest.raises(InvalidAddress):
            parse_address(bad)


def test_capability_is_three_parts_at_the_conservative_limit() -> None:
    assert MAX_LENGTH == 3 * (1184 // 8 - 4 - 6)


def test_rakel_contact_points_hold_an_ssi() -> None:
    from wis_server.domain.errors import ValidationFailed
    from wis_server.domain.levels import ContactKind
    from wis_server.domain.model import ContactPoint
    from wis_server.services.input_rules import normalise_contact_point

    issi = normalise_contact_point(ContactPoint(ContactKind.RAKEL_ISSI, " 02011234 ", 1, "TiB"))
    assert issi.value == "2011234"
    gssi = normalise_contact_point(ContactPoint(ContactKind.RAKEL_GSSI, "9001", 2, "Talgrupp"))
    assert (gssi.kind.value, gssi.value) == ("rakel_gssi", "9001")
    for bad in ("", "0", "16777216", "+46 70", "90 01"):
        with pytest.raises(ValidationFailed) as refused:
            normalise_contact_point(ContactPoint(ContactKind.RAKEL_ISSI, bad, 1, ""))
        assert refused.value.code == "invalid_rakel_ssi"
