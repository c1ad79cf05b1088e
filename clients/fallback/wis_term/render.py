"""Pure rendering for an 80-column line terminal: an item's marking first ([SEKRETESS],
ÖVNING), then who and what, the text wrapped and indented; the state line; tables."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .linkstate import LinkState
from .texts import EXERCISE, MARKING, Texts

WIDTH = 80
INDENT = "      "


def marking(level: str, exercise: bool) -> str:
    mark = MARKING.get(level, f"[{level.upper()}]")
    return f"{mark} {EXERCISE}" if exercise else mark


def clock_time(iso: str | None) -> str:
    """HH:MM local time of an ISO 8601 timestamp (the server's are UTC with an offset)."""
    if not iso:
        return "--:--"
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone().strftime("%H:%M")
    except ValueError:
        return "--:--"


def short_title(title: str, width: int = 14) -> str:
    if title.upper().startswith(EXERCISE + " "):
        title = title[len(EXERCISE) + 1:]
    return title[:width]


def wrap(text: str, indent: str = INDENT) -> list[str]:
    lines: list[str] = []
    for paragraph in (text or "").splitlines() or [""]:
        lines.extend(textwrap.wrap(paragraph, WIDTH, initial_indent=indent,
                                   subsequent_indent=indent) or [indent.rstrip()])
    return lines


def entry_lines(t: Texts, entry: Mapping[str, Any], space_label: str) -> list[str]:
    """Two or more lines: `14:02 [SEKRETESS] ÖVNING 1:Snöstorm #42 beslut – Anna (SOS)`,
    then the text, wrapped at 80 columns."""
    kind = t.table.get(f"kind.{entry.get('kind')}", str(entry.get("kind", "")))
    author = entry.get("author") or {}
    head = (f"{clock_time(entry.get('created_at'))} "
            f"{marking(str(entry.get('classification')), bool(entry.get('exercise')))} "
            f"{space_label} #{entry.get('seq')} {kind} – {author.get('display_name', '')}")
    return [_fit(head), *wrap(str(entry.get("body", "")))]


def _fit(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"


def queue_text(t: Texts, posts: int, acks: int) -> str:
    parts = []
    if posts or not acks:
        parts.append(t("queue.posts", n=posts))
    if acks:
        parts.append(t("queue.acks", n=acks))
    return ", ".join(parts)


def state_line(t: Texts, link: LinkState, posts: int, acks: int) -> str:
    """"Offline sedan 03:12 – 2 inlägg i kö" / "Ansluten – svar 2,1 s – 0 inlägg i kö"."""
    queue = queue_text(t, posts, acks)
    if link.online:
        rtt = t.seconds(link.rtt.srtt) if link.rtt.srtt is not None else "–"
        return t("state.online", rtt=rtt, queue=queue)
    if link.offline_since is None:
        return t("state.never", queue=queue)
    since = time.strftime("%H:%M", time.localtime(link.offline_since))
    return t("state.offline", since=since, queue=queue)


def space_rows(t: Texts, spaces: Iterable[Mapping[str, Any]]) -> list[str]:
    rows = [t("spaces.head")]
    for nr, s in enumerate(spaces, 1):
        kind = t.table.get(f"type.{s.get('type')}", str(s.get("type")))
        mark = marking(str(s.get("classification")), False)
        title = s.get("title", "")
        if s.get("exercise") and not str(title).upper().startswith(EXERCISE):
            title = f"{EXERCISE} {title}"
        if s.get("status") == "closed":
            title += " (stängd)" if t.lang == "sv" else " (closed)"
        rows.append(_fit(f"{nr:<3} {kind:<10} {mark:<12} {title}"))
    if len(rows) == 1:
        return [t("spaces.none")]
    return rows


def report_lines(t: Texts, report: Mapping[str, Any]) -> list[str]:
    author = (report.get("author") or {}).get("display_name", "")
    head = t("report.head", version=report.get("version"), author=author,
             time=clock_time(report.get("created_at")))
    if report.get("exercise"):
        head = f"{EXERCISE} {head}"
    lines = [_fit(head)]
    sections = report.get("sections") or []
    if not sections:
        lines.append(t("report.no_sections"))
    for s in sections:
        lines.append(_fit(f"{marking(str(s.get('classification')), False)} "
                          f"{t.section(str(s.get('key')))}"))
        lines.extend(wrap(str(s.get("body", ""))))
    return lines
