"""Appending an entry to a space's log: the space's next seq, a data key, the space event, the
entry (sealed with its seq in the associated data), its read right and the audit record —
one transaction, and on PostgreSQL two statements.

Everything here runs while the space's seq row lock (and, on PostgreSQL, the audit shard's
lock) is held, so every round trip in it is a round trip all later writers of the space wait
for. On SQLite the single writer runs its statements on the event loop's thread without a
hop (storage/sqlite_driver.py), so the plain one-statement-per-row walk is kept. On
PostgreSQL:

1. one statement takes the space's seq (row lock), then the audit shard's advisory lock,
   then the audit record's global seq — the same locks in the same order as the plain walk
   (`SpaceRepository.append_event`, then `AuditRepository.append`);
2. one statement inserts the data key, the space event, the entry, its read right and the
   audit record (data-modifying CTEs; the foreign keys are checked at the end of the
   statement). The audit insert is built on the chain head this process appended last and
   inserts only if that is still the shard's last record (`ChainHeads`); if not, the rest is
   in and the record is appended the plain way (read the head, insert).

So the writer holds the space lock for two round trips and the commit instead of five or six
and the commit. The chain, its hashes and `wis audit verify` are the same as the plain walk's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import ARRAY, bindparam, func, literal_column, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.audit import AuditRecord
from ..domain.events import EventKind
from ..domain.levels import Classification
from ..domain.model import Entry
from .audit import AuditRepository
from .direct import Direct
from .entries import EntryRepository, entry_values
from .spaces import SpaceRepository, next_seq_statement
from .tables import ID, audit_log, data_keys, entries, item_audience, space_events

MakeEntry = Callable[[int], Entry]
"""The entry, given its seq."""
MakeRecord = Callable[[int], AuditRecord]
"""The audit record of the write, given the entry's seq."""


def _typed(prefix: str, table: object) -> dict[str, object]:
    columns = table.c  # type: ignore[attr-defined]
    return {c.name: bindparam(f"{prefix}{c.name}", type_=c.type) for c in columns}


def _next_seq_and_audit_lock() -> object:
    seq = next_seq_statement(active=True).cte("s")
    held = (select(func.pg_advisory_xact_lock(bindparam("lock"), bindparam("shard")))
            .select_from(seq).cte("held").prefix_with("MATERIALIZED"))
    return (select(seq.c.last_seq, literal_column("nextval('audit_log_seq_seq')"))
            .select_from(seq).join(held, true()))


def _rows(with_audience: bool) -> object:
    key = data_keys.insert().values(_typed("k_", data_keys)).cte("k")
    event = space_events.insert().values(_typed("e_", space_events)).cte("e")
    entry = entries.insert().values(_typed("n_", entries)).cte("n")
    record = AuditRepository.append_after_head_statement().returning(audit_log.c.seq).cte("h")
    ctes = [key, event, entry]
    if with_audience:
        ctes.append(item_audience.insert().from_select(
            ["item_id", "actor_id"],
            select(bindparam("a_item", type_=ID),
                   func.unnest(bindparam("a_actors", type_=ARRAY(ID))))).cte("a"))
    return select(func.count()).select_from(record).add_cte(*ctes)


# Built once (see storage/sealing.py): executed with parameter dicts.
# On PostgreSQL (the only dialect these run on) sent to asyncpg directly (storage/direct.py).
_NEXT_SEQ_AND_AUDIT_LOCK = Direct(_next_seq_and_audit_lock())
_ROWS = {False: Direct(_rows(False)), True: Direct(_rows(True))}


def _prefixed(prefix: str, values: dict[str, object]) -> dict[str, object]:
    return {f"{prefix}{name}": value for name, value in values.items()}


async def append_entry(conn: AsyncConnection, spaces: SpaceRepository,
                       log: EntryRepository, audit: AuditRepository, *, space_id: str,
                       entry_id: str, level: Classification, make_entry: MakeEntry,
                       make_record: MakeRecord, now: datetime) -> Entry:
    """Append the entry `make_entry(seq)` to the space's log with its audit record; returns
    the entry. The caller has decided the write may happen (and checked the space exists)."""
    if conn.dialect.name != "postgresql":
        key = await log.new_key(level)
        seq = await spaces.append_event(space_id, EventKind.ENTRY_CREATED, entry_id, now)
        entry = make_entry(seq)
        await log.add(entry, key)
        await audit.append(make_record(seq), now)
        return entry

    shard = audit.shard_for(make_record(0))
    row = (await _NEXT_SEQ_AND_AUDIT_LOCK.execute(conn, {
        "b_space_id": space_id, "b_now": now, "lock": audit.lock_class, "shard": shard})
           ).one()
    seq, audit_seq = int(row[0]), int(row[1])
    audit.note_locked(shard)
    entry = make_entry(seq)
    record = make_record(seq)
    key = log.sealer.make_key(level)
    head = await audit.head_guess(shard)
    chained = audit.values(record, shard, head[0] + 1, audit_seq, head[1], now)
    parameters = _prefixed("k_", log.sealer.key_values(key))
    parameters.update(_prefixed("e_", {
        "space_id": space_id, "seq": seq, "kind": str(EventKind.ENTRY_CREATED),
        "ref_id": entry_id, "created_at": now}))
    parameters.update(_prefixed("n_", entry_values(log.sealer, entry, key)))
    parameters.update(audit.after_head_parameters(chained, shard, head[0], head[1]))
    if entry.audience:
        parameters.update(a_item=entry.id, a_actors=sorted(entry.audience))
    appended = (await _ROWS[bool(entry.audience)].execute(conn, parameters)
                ).scalar_one()
    if appended == 1:
        audit.note_appended(shard, chained)
    else:  # another process appended to the shard, or our last append rolled back
        await audit.append_plain(record, shard, audit_seq, now)
    return entry
