"""The degraded line's profile (issue 12): 9.6 kbit/s, 1 s delay each way, 20 % loss, and
flaps of 30 s down / 30 s up."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LinkProfile:
    rate_bps: int = 9600
    delay_s: float = 1.0  # each way
    loss: float = 0.2  # each way, per packet
    down_s: float = 30.0
    up_s: float = 30.0

    def describe(self) -> str:
        return (f"{self.rate_bps / 1000:g} kbit/s, {self.delay_s:g} s each way, "
                f"{self.loss:.0%} loss, flaps {self.down_s:g} s down / {self.up_s:g} s up")


WORST = LinkProfile()
