"""Log entries. Bodies are sealed per entry; labels (level, audience) stay plain so listing
can pre-filter in SQL and the access decision can run before anything is decrypted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    case,
    delete,
    exists,
    func,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from ..classification.crypto import DecryptionFailed, FieldContext, WrappedKey
from ..domain.levels import Classification, EntryKind
from ..domain.model import Entry, ItemLabel
from ..domain.records import EntryLabelFilter
from .direct import Direct
from .sealing import Sealer
from .tables import data_keys, entries, item_audience, users

Visible = Callable[[ItemLabel], bool]

SCAN_CHUNK = 500  # rows decrypted per round of a text search


def _context(entry_id: str, space_id: str, level: Classification, *, author_id: str,
             author_actor_id: str, kind: str, created_at: datetime, seq: int) -> FieldContext:
    """The body's associated data: also who wrote it, what kind, when and at which seq, so
    a database writer cannot re-attribute, re-kind, re-date or re-order an entry unnoticed."""
    at = created_at if created_at.tzinfo is UTC else created_at.astimezone(UTC)
    return FieldContext("entries", entry_id, "body", space_id, level, bound=(
        author_id, author_actor_id, kind, at.isoformat(), str(seq)))


async def write_audience(conn: AsyncConnection, item_id: str, audience: frozenset[str] | None
                         ) -> None:
    if audience:
        await conn.execute(item_audience.insert(),
                           [{"item_id": item_id, "actor_id": a} for a in sorted(audience)])


_AUDIENCES = Direct(select(item_audience.c.item_id, item_audience.c.actor_id).where(
    item_audience.c.item_id == any_(bindparam("b_ids", type_=ARRAY(String)))))


async def read_audiences(conn: AsyncConnection, item_ids: Sequence[str]
                         ) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    wanted = list(item_ids)
    for start in range(0, len(wanted), 500):
        if conn.dialect.name == "postgresql":  # one statement for any number (a log page's)
            rows = (await _AUDIENCES.execute(conn, {"b_ids": wanted[start : start + 500]})
                    ).all()
        else:
            rows = await conn.execute(select(item_audience).where(
                item_audience.c.item_id.in_(wanted[start : start + 500])))
        for row in rows:
            found.setdefault(row.item_id, set()).add(row.actor_id)
    return {k: frozenset(v) for k, v in found.items()}


def audience_filter(id_column: Any, all_column: Any, actor_id: Any) -> Any:
    """SQL pre-filter matching the decision's audience rule (the decision still has the say);
    `actor_id` a value or a bound parameter."""
    return or_(all_column.is_(True), exists().where(
        and_(item_audience.c.item_id == id_column, item_audience.c.actor_id == actor_id)))


def levels_up_to(clearance: Classification) -> list[str]:
    return [level.value for level in Classification if level <= clearance]


def _narrow(labels: EntryLabelFilter, query: Any) -> Any:
    """A log page narrowed on plain (unencrypted) columns."""
    if labels.kind is not None:
        query = query.where(entries.c.kind == labels.kind.value)
    if labels.level is not None:
        query = query.where(entries.c.classification == labels.level.value)
    if labels.author_actor_id is not None:
        query = query.where(entries.c.author_actor_id == labels.author_actor_id)
    if labels.since is not None:
        query = query.where(entries.c.created_at >= labels.since)
    if labels.until is not None:
        query = query.where(entries.c.created_at < labels.until)
    return query


_INSERT = entries.insert()  # built once (see storage/sealing.py)


def entry_values(sealer: Sealer, entry: Entry, key: WrappedKey) -> dict[str, Any]:
    """The entry's row, its body sealed with `key` (the seq is in the associated data)."""
    assert entry.created_at is not None
    return {
        "id": entry.id, "space_id": entry.space_id, "seq": entry.seq,
        "kind": entry.kind.value, "classification": entry.classification.value,
        "level_rank": entry.classification.rank, "audience_all": entry.audience is None,
        "data_key_id": key.id,
        "body_ct": sealer.seal(key, _context(
            entry.id, entry.space_id, entry.classification, author_id=entry.author_id,
            author_actor_id=entry.author_actor_id, kind=entry.kind.value,
            created_at=entry.created_at, seq=entry.seq), entry.body),
        "author_id": entry.author_id, "author_actor_id": entry.author_actor_id,
        "created_at": entry.created_at}


class EntryRepository:
    def __init__(self, conn: AsyncConnection, sealer: Sealer) -> None:
        self.conn = conn
        self.sealer = sealer

    async def new_key(self, level: Classification) -> WrappedKey:
        """A data key for an entry about to be added (so it can be made before the space's
        sequence lock is taken, keeping that lock short)."""
        return await self.sealer.new_key(self.conn, level)

    async def add(self, entry: Entry, key: WrappedKey | None = None) -> None:
        if key is None:
            key = await self.sealer.new_key(self.conn, entry.classification)
        assert entry.created_at is not None
        await self.conn.execute(_INSERT, entry_values(self.sealer, entry, key))
        await write_audience(self.conn, entry.id, entry.audience)

    async def set_audience(self, entry_id: str, audience: frozenset[str] | None) -> None:
        await self.conn.execute(update(entries).where(entries.c.id == entry_id).values(
            audience_all=audience is None))
        await self.conn.execute(delete(item_audience).where(item_audience.c.item_id == entry_id))
        await write_audience(self.conn, entry_id, audience)

    async def label(self, space_id: str, entry_id: str) -> ItemLabel | None:
        """An entry's label without decrypting anything (for decisions before a change)."""
        row = (await self.conn.execute(select(
            entries.c.classification, entries.c.audience_all, entries.c.author_actor_id
        ).where(entries.c.space_id == space_id, entries.c.id == entry_id))).first()
        if row is None:
            return None
        audience = None if row.audience_all else (
            await read_audiences(self.conn, [entry_id])).get(entry_id, frozenset())
        return ItemLabel(Classification(row.classification), audience, row.author_actor_id)

    async def labels(self, entry_ids: Sequence[str]) -> dict[str, tuple[str, ItemLabel]]:
        """Space id and label of each entry that exists, decrypting nothing (for deciding
        what an audit reader may be told about them)."""
        wanted = list(set(entry_ids))
        rows: list[Any] = []
        for start in range(0, len(wanted), 500):
            rows += (await self.conn.execute(select(
                entries.c.id, entries.c.space_id, entries.c.classification,
                entries.c.audience_all, entries.c.author_actor_id,
            ).where(entries.c.id.in_(wanted[start : start + 500])))).all()
        audiences = await read_audiences(self.conn, [r.id for r in rows if not r.audience_all])
        return {r.id: (r.space_id, ItemLabel(
            Classification(r.classification),
            None if r.audience_all else audiences.get(r.id, frozenset()), r.author_actor_id))
            for r in rows}

    async def labels_in_space(self, space_id: str) -> list[tuple[str, ItemLabel]]:
        """Every entry of the space with its label, decrypting nothing (to find what a
        reader whose rights narrowed can no longer read)."""
        rows = (await self.conn.execute(select(
            entries.c.id, entries.c.classification, entries.c.audience_all,
            entries.c.author_actor_id,
        ).where(entries.c.space_id == space_id).order_by(entries.c.seq))).all()
        audiences = await read_audiences(self.conn, [r.id for r in rows if not r.audience_all])
        return [(r.id, ItemLabel(
            Classification(r.classification),
            None if r.audience_all else audiences.get(r.id, frozenset()), r.author_actor_id))
            for r in rows]

    async def get(self, space_id: str, entry_id: str, visible: Visible,
                  corrupt: list[str] | None = None) -> Entry | None:
        found = await self._load(
            select(entries).where(entries.c.space_id == space_id, entries.c.id == entry_id),
            visible, corrupt)
        return found[0] if found else None

    async def by_ids(self, ids: Sequence[str], visible: Visible) -> list[Entry]:
        if not ids:
            return []
        return await self._load(select(entries).where(entries.c.id.in_(list(ids))), visible)

    async def page(
        self, space_id: str, *, actor_id: str, clearance: Classification, visible: Visible,
        after: int | None, before: int | None, limit: int, descending: bool,
        corrupt: list[str] | None = None, labels: EntryLabelFilter | None = None,
        match: Callable[[Entry], bool] | None = None,
    ) -> list[Entry]:
        """Up to `limit` visible entries; pre-filtered in SQL, then each passes `visible`.
        With `corrupt` given, an entry that fails to decrypt (a tampered or damaged row) is
        left out and its id appended there, so one bad row cannot blind a whole log.
        `labels` narrows on plain columns in SQL; `match` (a text search) is applied to the
        decrypted entries — only those that passed `visible` — scanning in chunks until
        `limit` matches are found or the log is exhausted."""
        if match is None and (labels is None or labels == _NO_LABELS) \
                and self.conn.dialect.name == "postgresql":
            # The common page (every log view and its live catch-up): built once per shape.
            statement = _page_statement(after is not None, before is not None, descending)
            parameters: dict[str, Any] = {
                "b_space_id": space_id, "b_levels": levels_up_to(clearance),
                "b_actor_id": actor_id, "b_limit": limit}
            if after is not None:
                parameters["b_after"] = after
            if before is not None:
                parameters["b_before"] = before
            rows = (await statement.execute(self.conn, parameters)).all()
            return await self._open(rows, visible, corrupt, audiences={
                row[0]: frozenset(row[15] or ()) for row in rows if not row[5]})
        # Any other page: the same filter built as an expression (only here: building it
        # costs more than the prepared page's whole parameter dict).
        query = select(entries).where(
            entries.c.space_id == space_id,
            entries.c.classification.in_(levels_up_to(clearance)),
            audience_filter(entries.c.id, entries.c.audience_all, actor_id),
        )
        if labels is not None:
            query = _narrow(labels, query)
        if after is not None:
            query = query.where(entries.c.seq > after)
        if before is not None:
            query = query.where(entries.c.seq < before)
        order = entries.c.seq.desc() if descending else entries.c.seq
        if match is None:
            return await self._load(query.order_by(order).limit(limit), visible, corrupt)
        found: list[Entry] = []
        while len(found) < limit:
            # The chunk's seq range first (plain columns only), then its rows in one load.
            seqs = (await self.conn.execute(query.with_only_columns(entries.c.seq)
                                            .order_by(order).limit(SCAN_CHUNK))).scalars().all()
            if not seqs:
                break
            low, high = min(seqs), max(seqs)
            chunk = await self._load(query.where(entries.c.seq.between(low, high))
                                     .order_by(order), visible, corrupt)
            found += [e for e in chunk if match(e)]
            if len(seqs) < SCAN_CHUNK:
                break
            query = query.where(entries.c.seq < low if descending else entries.c.seq > high)
        return found[:limit]

    async def _load(self, query: Any, visible: Visible, corrupt: list[str] | None = None
                    ) -> list[Entry]:
        # The wrapped data key and the author's name come in the same round trip; nothing is
        # unwrapped or decrypted before the row has passed `visible`. This runs per row of
        # every log page: rows are unpacked by position and enum values looked up in dicts.
        query = query.with_only_columns(*_LOADED).outerjoin(
            data_keys, data_keys.c.id == entries.c.data_key_id
        ).outerjoin(users, users.c.id == entries.c.author_id)
        return await self._open((await self.conn.execute(query)).all(), visible, corrupt)

    async def _open(self, rows: Sequence[Any], visible: Visible, corrupt: list[str] | None,
                    audiences: dict[str, frozenset[str]] | None = None) -> list[Entry]:
        """Rows of `_LOADED` (and possibly more columns after them): those that pass
        `visible`, opened. `audiences`: the restricted rows' read right where the rows
        brought it, else it is read here."""
        if not rows:
            return []
        if audiences is None:
            restricted = [row[0] for row in rows if not row[5]]
            audiences = await read_audiences(self.conn, restricted) if restricted else {}
        none: frozenset[str] = frozenset()
        labelled = []
        for row in rows:  # (id, ..., classification [4], audience_all [5], ..., author actor [9])
            audience = None if row[5] else audiences.get(row[0], none)
            if visible(ItemLabel(_LEVEL[row[4]], audience, row[9])):
                labelled.append((row, audience))
        result = []
        open_ = self.sealer.open
        for row, audience in labelled:
            (entry_id, space_id, seq, kind, level_value, _all, key_id, body_ct, author_id,
             author_actor_id, created_at, dk_level, dk_version, dk_wrapped, author_name,
             *_more) = row
            if dk_wrapped is None:
                raise KeyError(key_id)
            level = _LEVEL[level_value]
            try:
                body = open_(WrappedKey(key_id, _LEVEL[dk_level], dk_version, dk_wrapped),
                             _context(entry_id, space_id, level, author_id=author_id,
                                      author_actor_id=author_actor_id, kind=kind,
                                      created_at=created_at, seq=seq), body_ct)
            except DecryptionFailed:
                if corrupt is None:
                    raise
                corrupt.append(entry_id)
                continue
            result.append(Entry(entry_id, space_id, seq, _KIND[kind], level, body, audience,
                                author_id, author_actor_id, author_name or "", created_at))
        return result


_NO_LABELS = EntryLabelFilter()
_LEVEL = {level.value: level for level in Classification}
_KIND = {kind.value: kind for kind in EntryKind}
_LOADED = (
    entries.c.id, entries.c.space_id, entries.c.seq, entries.c.kind, entries.c.classification,
    entries.c.audience_all, entries.c.data_key_id, entries.c.body_ct, entries.c.author_id,
    entries.c.author_actor_id, entries.c.created_at, data_keys.c.level,
    data_keys.c.kek_version, data_keys.c.wrapped, users.c.display_name)
"""The columns `_load` unpacks, in this order: the entry's, its data key's, its author's."""


@cache
def _page_statement(after: bool, before: bool, descending: bool) -> Direct:
    """`page`'s query without label filters or text search, on PostgreSQL (the levels as one
    array parameter, so the statement is the same for every reader): built once per shape,
    sent directly (storage/direct.py)."""
    # A restricted entry's read right (läsrätt) comes in the same row: one round trip less
    # than `read_audiences` after the page (NULL where every participant may read).
    audience = case((entries.c.audience_all, null()), else_=select(
        func.array_agg(item_audience.c.actor_id)).where(
        item_audience.c.item_id == entries.c.id).scalar_subquery())
    query = select(*_LOADED, audience.label("audience_ids")).select_from(entries.outerjoin(
        data_keys, data_keys.c.id == entries.c.data_key_id
    ).outerjoin(users, users.c.id == entries.c.author_id)).where(
        entries.c.space_id == bindparam("b_space_id"),
        entries.c.classification == any_(bindparam("b_levels", type_=ARRAY(String))),
        audience_filter(entries.c.id, entries.c.audience_all, bindparam("b_actor_id")))
    if after:
        query = query.where(entries.c.seq > bindparam("b_after"))
    if before:
        query = query.where(entries.c.seq < bindparam("b_before"))
    order = entries.c.seq.desc() if descending else entries.c.seq
    return Direct(query.order_by(order).limit(bindparam("b_limit", type_=Integer)))
