"""The sync endpoint's wire shapes (docs/sync.md): one short JSON item per event with only what
a terminal shows, and the compact encoding — every record a zstd frame of its own against a
static dictionary trained on demo data (never on live content), so no item is compressed
against another and the dictionary carries nobody's text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import zstandard

from ..classification.policy import space_role
from ..domain.callouts import Callout
from ..domain.conferences import Booking
from ..domain.events import WITHDRAWALS, EventKind, Subject
from ..domain.model import Entry, Principal, SituationReport, Space
from ..realtime.ports import Change, Frame

COMPACT_TYPE = "application/vnd.wis.sync+zstd"
DICTIONARY_FILE = "sync.dict"


def _at(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class SyncRender:
    """Implements realtime.ports.Render for one sync request: the reader's body limit and the
    short names of the actors (what a terminal prints beside an author)."""

    actor_names: Mapping[str, str]
    body_limit: int | None = None

    def text(self, doc: dict[str, Any], key: str, value: str) -> None:
        if self.body_limit is not None and len(value) > self.body_limit:
            doc[key] = value[:self.body_limit]
            doc["truncated"] = True
            doc["length"] = len(value)
        else:
            doc[key] = value

    def __call__(self, change: Change, principal: Principal, space: Space,
                 shown: tuple[bool, ...]) -> str | None:
        kind = change.kind
        if kind is None or not kind.logged:
            return None
        item = change.item
        doc: dict[str, Any] = {"seq": change.seq, "event": kind.value}
        if isinstance(item, Entry) and kind.subject in (Subject.ENTRY, Subject.NOTICE):
            if not (shown and shown[0]):
                return None
            doc.update(id=item.id, kind=item.kind.value, level=item.classification.value)
            self.text(doc, "body", item.body)
            doc.update(author=item.author_name,
                       actor=self.actor_names.get(item.author_actor_id, ""),
                       at=_at(item.created_at))
            return dumps(doc)
        if isinstance(item, SituationReport):
            sections = []
            for section, ok in zip(item.sections, shown, strict=True):
                if ok:
                    part: dict[str, Any] = {"key": section.key.value,
                                            "level": section.classification.value}
                    self.text(part, "body", section.body)
                    sections.append(part)
            if not sections:
                return None
            doc.update(id=item.id, version=item.version,
                       scope="joint" if item.joint else "actor",
                       actor=self.actor_names.get(item.actor_id, ""), author=item.author_name,
                       at=_at(item.created_at), sections=sections)
            return dumps(doc)
        if isinstance(item, Callout):
            if not (shown and shown[0]):
                return None
            mine = item.target(principal.actor_id)
            counts: dict[str, int] = {}
            for target in item.targets:
                counts[target.state.value] = counts.get(target.state.value, 0) + 1
            doc.update(id=item.id, level=item.classification.value, status=item.status.value)
            self.text(doc, "message", item.message)
            conf = item.conference
            doc.update(deadline=_at(item.deadline_at),
                       conference={"start": _at(conf.start_at), "dial_in": conf.dial_in,
                                   "pin": conf.pin},
                       counts=counts, mine=mine.state.value if mine is not None else None)
            return dumps(doc)
        if isinstance(item, Booking):  # a phone conference: what to dial when the net is gone
            if not (shown and shown[0]):
                return None
            doc.update(id=item.id, status=item.status.value, dial_in=item.number, pin=item.pin,
                       joined=sum(1 for p in item.participants if p.left_at is None))
            return dumps(doc)
        if isinstance(item, Space):
            role = space_role(principal, item)
            if role is None:
                return None
            doc.update(space_meta(item, role.value))
            return dumps(doc)
        return None


def space_meta(space: Space, role: str) -> dict[str, Any]:
    return {"title": space.title, "status": space.status.value, "exercise": space.is_exercise,
            "level": space.classification.value, "role": role}


def frame_item(frame: Frame) -> str:
    """A page's frame as a sync item: rendered ones as they are; the hub's id-only withdrawal
    and `space.resync` frames (REST shape) cut to `seq`, `event` and the ids."""
    if frame.event == EventKind.SPACE_RESYNC:  # rights narrowed at this seq (the space's
        return dumps({"seq": frame.seq, "event": frame.event})  # `resync` is set too)
    if frame.event not in WITHDRAWALS:
        return frame.text
    data = json.loads(frame.text)["data"]
    doc: dict[str, Any] = {"seq": frame.seq, "event": EventKind(frame.event).value,
                           "id": data["id"]}
    if "key" in data:
        doc["key"] = data["key"]
    return dumps(doc)


# --- compact encoding -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Dictionary:
    id: int
    data: bytes

    @property
    def etag(self) -> str:
        return f'"{self.id}"'


@cache
def dictionary() -> Dictionary:
    """The shipped dictionary (bench/train_sync_dictionary.py made it from public text)."""
    data = resources.files("wis_server.api").joinpath(DICTIONARY_FILE).read_bytes()
    return Dictionary(zstandard.ZstdCompressionDict(data).dict_id(), data)


@cache
def _compressor() -> zstandard.ZstdCompressor:
    d = dictionary()
    # Level 9: within 1 % of level 19's size on demo items at a third of its CPU (~60 µs).
    return zstandard.ZstdCompressor(
        level=9, dict_data=zstandard.ZstdCompressionDict(d.data),
        write_checksum=False, write_content_size=True, write_dict_id=False)


def uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def compact_record(text: str) -> bytes:
    """One record: uvarint(length) ‖ a zstd frame of `text` alone (fresh state per frame)."""
    frame = _compressor().compress(text.encode())
    return uvarint(len(frame)) + frame


def accepts_compact(accept: str) -> bool:
    """`Accept: application/vnd.wis.sync+zstd; dict=<id>` naming the server's dictionary."""
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media.lower() != COMPACT_TYPE:
            continue
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "dict" and value.strip().strip('"') == \
                    str(dictionary().id):
                return True
    return False


def read_records(body: bytes, dict_data: bytes) -> list[str]:
    """Decode a compact answer (for clients and tests): the envelope, then the items."""
    decompressor = zstandard.ZstdDecompressor(dict_data=zstandard.ZstdCompressionDict(dict_data))
    texts, at = [], 0
    while at < len(body):
        length, shift = 0, 0
        while True:
            byte = body[at]
            at += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        texts.append(decompressor.decompress(body[at:at + length]).decode())
        at += length
    return texts
