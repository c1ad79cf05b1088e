"""Event kinds are one named contract (domain/events.py): docs/realtime.md and the OpenAPI
description list exactly the enum's members (generated from it), the web client names no kind
the server does not emit, and every logged kind has a renderer."""

from __future__ import annotations

import re
from pathlib import Path

from wis_server.api.app import build_api
from wis_server.api.openapi import build_openapi
from wis_server.api.routes.stream import _DATA
from wis_server.domain.events import (
    ENTRY_CHANGES,
    LOGGED,
    PER_USER,
    RIGHTS_NARROWED,
    WITHDRAWALS,
    EventKind,
    Subject,
    kinds_markdown,
)

ROOT = Path(__file__).resolve().parents[2]


def _documented() -> str:
    text = (ROOT / "docs" / "realtime.md").read_text(encoding="utf-8")
    start = text.index("<!-- event-kinds:start -->\n") + len("<!-- event-kinds:start -->\n")
    return text[start:text.index("<!-- event-kinds:end -->")]


def test_the_docs_list_exactly_the_enum_members_as_generated() -> None:
    listed = _documented()
    kinds = re.findall(r"^- `([^`]+)`", listed, re.M)
    assert kinds == [k.value for k in EventKind]
    assert listed.rstrip("\n") == kinds_markdown()  # regenerate: python -m wis_server.domain.events


def test_the_openapi_description_lists_every_kind() -> None:
    description = build_openapi(build_api())["info"]["description"]
    assert kinds_markdown() in description


def test_the_web_client_uses_only_kinds_the_server_emits() -> None:
    used: set[str] = set()
    for path in (ROOT / "clients" / "web" / "js").rglob("*.js"):
        used |= set(re.findall(
            r"""['"]((?:space|entry|situation_report|membership|notice)\.[a-z_]+)['"]""",
            path.read_text(encoding="utf-8")))
    assert used, "the web client names event kinds"
    assert used <= {k.value for k in EventKind}, used - {k.value for k in EventKind}


def test_kinds_group_as_the_hub_and_the_renderer_need() -> None:
    assert all(kind.logged for kind in LOGGED)
    assert WITHDRAWALS.isdisjoint(LOGGED)  # derived per reader, never in the log
    assert ENTRY_CHANGES == {EventKind.ENTRY_AUDIENCE_CHANGED}
    assert PER_USER == {k for k in EventKind if k.subject is Subject.MEMBERSHIP}
    # every logged kind renders; the rights-narrowed markers as `space.resync` (realtime.views)
    assert {k.subject for k in LOGGED - RIGHTS_NARROWED} == set(_DATA)
    assert RIGHTS_NARROWED == {k for k in EventKind if k.subject is Subject.ACCESS} <= LOGGED
    assert not EventKind.SPACE_RESYNC.logged  # derived per reader, never in the log
    assert EventKind.parse("entry.created") is EventKind.ENTRY_CREATED
    assert EventKind.parse("future.created") is None  # a newer version's kind: passed over
    assert EventKind.ENTRY_CREATED == "entry.created"  # the wire value, unchanged
