"""Decimal numbers from the wire (query strings, `Last-Event-ID`): plain ASCII digits only.

Python's `int()` also accepts `1_0`, `+2`, ` 2 `, `2\\n` and non-ASCII digits such as `٣`; none
of those is a number a client meant to send, and the OpenAPI document promises an integer."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"-?[0-9]{1,30}")  # fullmatch: no `+`, space, `_` or newline


def parse_digits(raw: str) -> int | None:
    """The value of `raw` if it is 1-30 ASCII digits (optionally after `-`, so that a negative
    number is reported as out of range), else None (the caller says why)."""
    if not _DIGITS.fullmatch(raw):
        return None
    return int(raw)
