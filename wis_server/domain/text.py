"""What text the server accepts, decided once: the server's checks and the OpenAPI patterns
are both built from these definitions, so the document is exactly as strict as the server.

- NUL is refused in every string (the databases cannot store it).
- "Blank" means every character is white space by Python's `str.isspace()` or by ECMAScript's
  `\\s` (which adds U+FEFF); a field that must not be blank needs one character outside both.
- Names (display names, actor names and short names, space titles, contact labels) also
  refuse invisible and layout-changing characters: control characters (Cc), format characters
  (Cf: bidirectional overrides and isolates, zero-width characters, the BOM, tag characters),
  surrogates (Cs), private use (Co) and line/paragraph separators (Zl, Zp). A right-to-left
  override in a display name would otherwise scramble every author line it appears in."""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable, Iterable
from functools import cache

NAME_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def _is_blank_char(char: str) -> bool:
    return char.isspace() or char == "\ufeff"


def is_blank(value: str) -> bool:
    return all(_is_blank_char(c) for c in value)


def _is_name_forbidden(char: str) -> bool:
    return unicodedata.category(char) in NAME_FORBIDDEN_CATEGORIES


def first_forbidden_in_name(value: str) -> str | None:
    """The first character a name may not contain, or None."""
    return next((c for c in value if c == "\x00" or _is_name_forbidden(c)), None)


def _ranges(test: Callable[[str], bool]) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    start: int | None = None
    for point in range(sys.maxunicode + 2):
        hit = point <= sys.maxunicode and test(chr(point))
        if hit and start is None:
            start = point
        elif not hit and start is not None:
            found.append((start, point - 1))
            start = None
    return found


def _escape(point: int) -> str:
    # BMP as \\uXXXX (read alike by Python's `re` and ECMAScript); beyond it the character
    # itself, since the two dialects spell astral escapes differently.
    return f"\\u{point:04x}" if point <= 0xFFFF else chr(point)


def _class(ranges: Iterable[tuple[int, int]]) -> str:
    return "".join(_escape(a) if a == b else f"{_escape(a)}-{_escape(b)}" for a, b in ranges)


@cache
def _blank_class() -> str:
    return _class(_ranges(_is_blank_char))


@cache
def _name_forbidden_class() -> str:
    return _class(_ranges(lambda c: c == "\x00" or _is_name_forbidden(c)))


def string_pattern(*, name: bool, not_blank: bool) -> str:
    """The JSON Schema `pattern` (anchored) of a string field with these rules."""
    forbidden = _name_forbidden_class() if name else "\\u0000"
    if not not_blank:
        return f"^[^{forbidden}]*$"
    return f"^[^{forbidden}]*[^{forbidden}{_blank_class()}][^{forbidden}]*$"
