"""Rakel gateway settings from `WIS_RAKEL_*` (the gateway is on when WIS_RAKEL_DEVICE is set)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from ...config import ConfigError

BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off", "")


@dataclass(frozen=True, slots=True)
class RakelSettings:
    """`device` is a serial device path or `tcp://host:port` (a serial-over-TCP server)."""

    device: str
    issi: str
    baud: int = 38400
    sekretess: bool = False  # an admin approved this gateway for `sekretess` content
    queue_size: int = 200
    command_timeout_s: float = 10.0
    send_timeout_s: float = 120.0
    refresh_s: float = 300.0  # re-run the init sequence when idle this long (liveness, repair)

    @property
    def tcp(self) -> tuple[str, int] | None:
        if not self.device.startswith("tcp://"):
            return None
        parts = urlsplit(self.device)
        assert parts.hostname is not None and parts.port is not None
        return parts.hostname, parts.port


def parse_rakel_settings(env: Mapping[str, str]) -> RakelSettings | None:
    device = env.get("WIS_RAKEL_DEVICE", "").strip()
    if not device:
        return None
    if device.startswith("tcp://"):
        parts = urlsplit(device)
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None or parts.path not in ("", "/") or parts.query \
                or parts.username:
            raise ConfigError("WIS_RAKEL_DEVICE must be a device path or tcp://host:port")
    elif "://" in device or not device.startswith("/"):
        raise ConfigError("WIS_RAKEL_DEVICE must be an absolute device path (/dev/ttyUSB0) "
                          "or tcp://host:port")
    raw_baud = env.get("WIS_RAKEL_BAUD", "38400").strip() or "38400"
    if not raw_baud.isdigit() or int(raw_baud) not in BAUD_RATES:
        raise ConfigError("WIS_RAKEL_BAUD must be one of " + ", ".join(map(str, BAUD_RATES)))
    issi = env.get("WIS_RAKEL_ISSI", "").strip()
    if not issi.isdigit() or not 1 <= len(issi) <= 8 or int(issi) == 0 \
            or int(issi) > 0xFFFFFF:
        raise ConfigError("WIS_RAKEL_ISSI (the gateway terminal's own ISSI, 1-16777215) is "
                          "required when WIS_RAKEL_DEVICE is set")
    sekretess = env.get("WIS_RAKEL_SEKRETESS", "false").strip().lower()
    if sekretess not in _TRUE + _FALSE:
        raise ConfigError("WIS_RAKEL_SEKRETESS must be true or false")
    return RakelSettings(device=device, issi=str(int(issi)), baud=int(raw_baud),
                         sekretess=sekretess in _TRUE)
