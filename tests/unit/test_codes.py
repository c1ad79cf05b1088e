"""The error-code registry is complete and tidy: every member has a meaning, values are unique
snake_case wire strings, every member is used by the server (no dead codes), and the error
classes carry registry members."""

from __future__ import annotations

import json
import re
from pathlib import Path

from wis_server.domain import errors
from wis_server.domain.codes import MEANING, STREAM_FRAME_CODES, STREAM_ONLY, Code

ROOT = Path(__file__).resolve().parents[2]


def test_every_code_has_a_meaning() -> None:
    assert set(MEANING) == set(Code)
    assert all(text.strip() and len(text) < 200 for text in MEANING.values())


def test_values_are_unique_snake_case_and_serialise_as_plain_strings() -> None:
    values = [c.value for c in Code]
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", v) for v in values)
    assert all(c.name.lower() == c.value for c in Code)
    assert json.dumps({"code": Code.SPACE_CLOSED}) == '{"code": "space_closed"}'
    assert f"{Code.NOT_FOUND}" == "not_found" == str(Code.NOT_FOUND)


def test_every_code_is_used_by_the_server() -> None:
    source = "\n".join(p.read_text(encoding="utf-8")
                       for p in (ROOT / "wis_server").rglob("*.py")
                       if p.name != "codes.py" and "migrations" not in p.parts)
    unused = sorted(c.name for c in Code if not re.search(rf"\bCode\.{c.name}\b", source))
    assert not unused, f"registry members no raise site uses: {unused}"


def test_error_classes_carry_registry_members() -> None:
    classes = [getattr(errors, n) for n in dir(errors)]
    classes = [c for c in classes if isinstance(c, type) and issubclass(c, errors.WisError)]
    assert len(classes) >= 9
    for cls in classes:
        assert isinstance(cls.code, Code), cls
    assert errors.NotFound("x").code is Code.NOT_FOUND
    assert errors.Forbidden("x", code=Code.SPACE_CLOSED).code is Code.SPACE_CLOSED


def test_stream_code_sets() -> None:
    assert STREAM_ONLY < STREAM_FRAME_CODES <= set(Code)
    assert Code.NOT_FOUND in STREAM_FRAME_CODES - STREAM_ONLY
