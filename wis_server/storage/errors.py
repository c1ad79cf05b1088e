"""Recognising database errors without leaking sqlalchemy to callers."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError


def is_duplicate_key(error: BaseException) -> bool:
    return isinstance(error, IntegrityError)
