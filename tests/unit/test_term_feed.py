"""wis-term's feed journal (exactly once, in order, across restarts), the sync item mapping,
rendering at 80 columns with markings, the state line and command parsing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from wis_term import render
from wis_term.commands import UsageError, parse, parse_post
from wis_term.feed import Journal
from wis_term.linkstate import LinkState
from wis_term.sync import from_sync_item
from wis_term.texts import Texts


def frame(space: str, seq: int, item: str, event: str = "entry.created") -> dict:
    return {"space_id": space, "seq": seq, "event": event, "data": {"id": item}}


def test_journal_shows_each_entry_once_in_order_across_a_restart(tmp_path: Path):
    j = Journal(tmp_path)
    assert [f["data"]["id"] for f in j.take([frame("A", 1, "a1"), frame("A", 3, "a3"),
                                             frame("B", 2, "b2")])] == ["a1", "a3", "b2"]
    # A resend from an older cursor (the crash came between journal and cursor): dropped.
    assert j.take([frame("A", 3, "a3"), frame("A", 4, "a4")])[0]["data"]["id"] == "a4"
    restarted = Journal(tmp_path)
    assert restarted.take([frame("A", 1, "a1"), frame("A", 4, "a4"), frame("B", 2, "b2"),
                           frame("A", 5, "a5")]) == [frame("A", 5, "a5")]
    assert [e[2] for e in restarted.entries] == ["a1", "a3", "b2", "a4", "a5"]
    # An audience change that lets the reader in shows the entry; a later one does not.
    let_in = frame("B", 9, "b1", "entry.audience_changed")
    assert restarted.take([let_in]) == [let_in]
    assert restarted.take([frame("B", 10, "b1", "entry.audience_changed")]) == []
    # Withdrawals of narrowed rights carry no seq and always pass.
    gone = {"space_id": "A", "seq": None, "event": "entry.withdrawn", "data": {"id": "a3"}}
    assert restarted.take([gone]) == [gone]


def test_a_torn_last_journal_line_is_ignored(tmp_path: Path):
    j = Journal(tmp_path)
    j.take([frame("A", 1, "a1")])
    with open(j.path, "a") as f:
        f.write('{"s":"A","q":2,"i":')  # SIGKILL in the middle of an append
    again = Journal(tmp_path)
    assert [e[2] for e in again.entries] == ["a1"]
    assert [f["data"]["id"] for f in again.take([frame("A", 2, "a2")])] == ["a2"]


def test_a_sync_item_maps_to_the_frame_the_terminal_prints():
    item = {"seq": 12, "event": "entry.created", "id": "e-1", "kind": "decision",
            "level": "sekretess", "body": "Värmestuga öppnas", "author": "Anna",
            "actor": "LST", "at": 1764650000}
    f = from_sync_item("S", True, item)
    assert f["space_id"] == "S" and f["seq"] == 12 and f["event"] == "entry.created"
    d = f["data"]
    assert d["classification"] == "sekretess" and d["exercise"] is True
    assert d["author"] == {"display_name": "Anna (LST)"}
    assert d["created_at"].startswith("2025-12-02T")
    lines = render.entry_lines(Texts("sv"), d, "1:Snöstorm")
    assert lines[0].split()[1:3] == ["[SEKRETESS]", "ÖVNING"]
    assert "beslut" in lines[0] and lines[1].strip() == "Värmestuga öppnas"


def test_lines_fit_80_columns_and_every_level_is_marked():
    t = Texts("en")
    for level, mark in (("public", "[ÖPPEN]"), ("sekretess", "[SEKRETESS]"),
                        ("hemlig", "[HEMLIG]")):
        entry = {"seq": 3, "kind": "note", "classification": level, "exercise": False,
                 "author": {"display_name": "A very long display name " * 3},
                 "body": "word " * 60, "created_at": "2026-12-02T08:00:00+00:00"}
        lines = render.entry_lines(t, entry, "2:Storm")
        assert mark in lines[0] and "ÖVNING" not in lines[0]
        assert all(len(line) <= 80 for line in lines) and len(lines) >= 4


def test_state_line_says_since_when_and_what_is_queued(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        link = LinkState()
        link.succeeded(now=11520.0, rtt_s=2.0)  # 03:12 UTC
        link.failed(now=11530.0)
        link.failed(now=11540.0)
        assert render.state_line(Texts("sv"), link, 2, 0) == "Offline sedan 03:12 – 2 inlägg i kö"
        assert render.state_line(Texts("en"), link, 1, 1) == \
            "Offline since 03:12 – 1 post(s) queued, 1 acknowledgement(s) queued"
        link.succeeded(now=11600.0, rtt_s=2.0)
        assert render.state_line(Texts("sv"), link, 0, 0).startswith("Ansluten – svar 2,0 s")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_commands_in_swedish_and_english():
    assert parse("") is None
    assert parse("följ 1 2").name == "follow" and parse("följ 1 2").args == ("1", "2")
    assert parse("follow 3").name == "follow"
    assert parse("blabla").name == "unknown"
    draft = parse_post("2 beslut sekretess @SOS,LST Värmestuga öppnas kl 14")
    assert (draft.space, draft.kind, draft.level, draft.audience, draft.body) == \
        ("2", "decision", "sekretess", ("SOS", "LST"), "Värmestuga öppnas kl 14")
    assert parse_post("1 note public Hello").audience is None
    for bad in ("1 beslut", "1 typo public text", "1 note secret text", "1 note public @A"):
        with pytest.raises(UsageError):
            parse_post(bad)


def test_the_compact_answer_is_read_record_by_record():
    import json as _json

    from wis_term.sync import decode_compact, uvarint

    assert uvarint(bytes([0x96, 0x01, 0x05]), 0) == (150, 2)
    envelope = {"cursor": "c1", "more": False, "removed": [],
                "spaces": [{"id": "A", "head": 9, "n": 2}, {"id": "B", "head": 4, "n": 1}]}
    records = [envelope, {"seq": 8, "event": "entry.created", "id": "a8"},
               {"seq": 9, "event": "entry.created", "id": "a9"},
               {"seq": 4, "event": "entry.withdrawn", "id": "b1"}]
    body = b""
    for r in records:
        frame = b"Z" + _json.dumps(r).encode() * 3  # long enough for a two-byte length
        body += bytes([len(frame) & 0x7F | 0x80, len(frame) >> 7]) + frame
    seen = []

    def decompress(frame: bytes) -> bytes:
        seen.append(frame[:1])
        return frame[1:len(frame[1:]) // 3 + 1]

    out = decode_compact(body, decompress)
    assert seen == [b"Z"] * 4  # every record decompressed on its own
    assert out["cursor"] == "c1"
    assert [[i["id"] for i in s["items"]] for s in out["spaces"]] == [["a8", "a9"], ["b1"]]
    assert "n" not in out["spaces"][0]
