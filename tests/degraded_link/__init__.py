"""A reusable degraded line for tests (issue 12): `with degraded_line() as line:` gives the
host the server must listen on (`line.server_host`), the client's base URL for a server port
(`line.connect(port)`), how to start the client behind it (`line.wrap(argv)`), flaps
(`line.down()`, `line.up()`) and `line.kind` — "netem" (network namespace + tc netem) or
"proxy" (the fault-injecting TCP proxy), with `line.reason` saying why netem did not run.
See README.md."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import netem
from .profile import WORST, LinkProfile
from .proxy import FaultProxy


class ProxyLine:
    kind = "proxy"

    def __init__(self, profile: LinkProfile, reason: str, seed: int) -> None:
        self.profile = profile
        self.reason = reason
        self.seed = seed
        self.server_host = "127.0.0.1"
        self.proxy: FaultProxy | None = None

    def connect(self, server_port: int) -> str:
        self.proxy = FaultProxy(("127.0.0.1", server_port), self.profile, seed=self.seed).start()
        return f"http://127.0.0.1:{self.proxy.port}"

    def wrap(self, argv: list[str]) -> list[str]:
        return argv

    def down(self) -> None:
        assert self.proxy is not None
        self.proxy.down()

    def up(self) -> None:
        assert self.proxy is not None
        self.proxy.up()

    @property
    def is_down(self) -> bool:
        return self.proxy is not None and self.proxy.is_down

    def stats(self) -> dict[str, int]:
        return self.proxy.stats() if self.proxy else {}

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()


@contextmanager
def degraded_line(profile: LinkProfile = WORST, prefer: str | None = None,
                  seed: int = 12) -> Iterator[Any]:
    """`prefer`: "netem", "proxy" or None (netem when it works, else the proxy; the
    environment variable WIS_TEST_DEGRADED_LINK overrides)."""
    choice = prefer or os.environ.get("WIS_TEST_DEGRADED_LINK", "auto")
    line: Any
    reason = ""
    if choice in ("auto", "netem"):
        reason = netem.available()
        if not reason:
            try:
                line = netem.NetemLine(profile).open()
            except RuntimeError as error:
                reason = str(error)
        if reason and choice == "netem":
            raise RuntimeError(reason)
    if reason or choice == "proxy":
        line = ProxyLine(profile, reason or "asked for the proxy", seed)
    try:
        yield line
    finally:
        line.close()


__all__ = ["WORST", "LinkProfile", "degraded_line"]
