"""Incident spaces, their participants, and the per-space event log (the backbone)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..classification.crypto import FieldContext
from ..domain.events import EventKind
from ..domain.levels import Classification, SpaceRole, SpaceStatus, SpaceType
from ..domain.model import Participant, Space
from ..domain.records import SpaceEvent
from . import stream_queries
from .direct import Direct
from .sealing import Sealer
from .tables import space_events, space_participants, spaces


def _context(space_id: str, field: str) -> FieldContext:
    # Space metadata is seen by every participant, so it is sealed at the `public` level.
    return FieldContext("spaces", space_id, field, space_id, Classification.PUBLIC)


def _space(row: Any, title: str, description: str, participants: list[Participant]) -> Space:
    return Space(
        id=row.id, title=title, description=description,
        type=SpaceType(row.type), classification=Classification(row.classification),
        status=SpaceStatus(row.status), owner_actor_id=row.owner_actor_id,
        created_by=row.created_by,
        participants=tuple(sorted(participants, key=lambda p: p.actor_id)),
        last_seq=row.last_seq, created_at=row.created_at, updated_at=row.updated_at,
    )


def sealed_statement() -> Any:
    """The space's labels (not its sealed title/description) and participants, one row per
    participant (`b_space_id`), for composing; read back with `sealed_space(rows)`."""
    return (select(*(c for c in spaces.c if c.name not in ("title_ct", "description_ct")),
                   space_participants.c.actor_id.label("p_actor_id"),
                   space_participants.c.role_cap.label("p_role_cap"))
            .select_from(spaces.outerjoin(
                space_participants, space_participants.c.space_id == spaces.c.id))
            .where(spaces.c.id == bindparam("b_space_id")))


def sealed_space(rows: Sequence[Any]) -> Space | None:
    """The space `sealed_statement()`'s rows describe (None: no rows, no such space)."""
    if not rows:
        return None
    parts = [Participant(r.p_actor_id, SpaceRole(r.p_role_cap) if r.p_role_cap else None)
             for r in rows if r.p_actor_id is not None]
    return _space(rows[0], "", "", parts)


# Built once, run with parameter dicts: these run on every request that touches a space or
# writes to it, and a statement built per call costs more Python than running it.
_SEALED = Direct(sealed_statement())
_NEXT_SEQ = (update(spaces).where(spaces.c.id == bindparam("b_space_id"))
             .values(last_seq=spaces.c.last_seq + 1).returning(spaces.c.last_seq))
_NEXT_SEQ_ACTIVE = (update(spaces).where(spaces.c.id == bindparam("b_space_id"))
                    .values(last_seq=spaces.c.last_seq + 1, last_activity_at=bindparam("b_now"))
                    .returning(spaces.c.last_seq))
_INSERT_EVENT = space_events.insert()


def next_seq_statement(*, active: bool) -> Any:
    """The statement taking a space's next seq (`b_space_id`, `b_now`), for composing."""
    return _NEXT_SEQ_ACTIVE if active else _NEXT_SEQ


class SpaceRepository:
    def __init__(self, conn: AsyncConnection, sealer: Sealer) -> None:
        self.conn = conn
        self.sealer = sealer

    async def add(self, space: Space, now: datetime) -> None:
        key = await self.sealer.new_key(self.conn, Classification.PUBLIC)
        await self.conn.execute(spaces.insert().values(
            id=space.id, data_key_id=key.id,
            title_ct=self.sealer.seal(key, _context(space.id, "title"), space.title),
            description_ct=self.sealer.seal(
                key, _context(space.id, "description"), space.description),
            type=space.type.value, classification=space.classification.value,
            status=space.status.value, owner_actor_id=space.owner_actor_id,
            created_by=space.created_by, last_seq=0, created_at=now, updated_at=now,
            last_activity_at=now,
        ))
        await self._write_participants(space.id, space.participants)

    async def update(self, space: Space, now: datetime) -> None:
        row = (await self.conn.execute(
            select(spaces.c.data_key_id).where(spaces.c.id == space.id))).one()
        key = (await self.sealer.keys(self.conn, [row.data_key_id]))[row.data_key_id]
        await self.conn.execute(update(spaces).where(spaces.c.id == space.id).values(
            title_ct=self.sealer.seal(key, _context(space.id, "title"), space.title),
            description_ct=self.sealer.seal(
                key, _context(space.id, "description"), space.description),
            status=space.status.value, updated_at=now,
        ))
        await self.conn.execute(
            delete(space_participants).where(space_participants.c.space_id == space.id))
        await self._write_participants(space.id, space.participants)

    async def _write_participants(self, space_id: str, participants: Sequence[Participant]) -> None:
        if participants:
            await self.conn.execute(space_participants.insert(), [
                {"space_id": space_id, "actor_id": p.actor_id,
                 "role_cap": p.role_cap.value if p.role_cap else None}
                for p in participants
            ])

    async def get(self, space_id: str, *, content: bool = True) -> Space | None:
        """The space; with `content=False` its title and description are left sealed (empty)
        — enough for access decisions, at no decryption cost."""
        if not content:
            return await self._get_sealed(space_id)
        found = await self._load(select(spaces).where(spaces.c.id == space_id), content=content)
        return found[0] if found else None

    async def _get_sealed(self, space_id: str) -> Space | None:
        """The space and its participants in one round trip (this runs on every request that
        touches a space): the labels only, not the sealed title/description."""
        return sealed_space((await _SEALED.execute(self.conn, {"b_space_id": space_id})).all())

    async def for_actor(self, actor_id: str) -> list[Space]:
        member = select(space_participants.c.space_id).where(
            space_participants.c.actor_id == actor_id)
        return await self._load(
            select(spaces).where(spaces.c.id.in_(member)).order_by(
                spaces.c.last_activity_at.desc()))

    async def ids_for_actor(self, actor_id: str) -> list[str]:
        """The spaces an actor takes part in, by id only (nothing decrypted)."""
        rows = await self.conn.execute(
            select(space_participants.c.space_id).where(
                space_participants.c.actor_id == actor_id)
            .order_by(space_participants.c.space_id))
        return [row.space_id for row in rows]

    async def last_activity(self, space_ids: Sequence[str]) -> dict[str, datetime]:
        if not space_ids:
            return {}
        rows = await self.conn.execute(select(spaces.c.id, spaces.c.last_activity_at).where(
            spaces.c.id.in_(list(space_ids))))
        return {row.id: row.last_activity_at for row in rows}

    async def _load(self, query: Any, *, content: bool = True) -> list[Space]:
        rows = (await self.conn.execute(query)).all()
        if not rows:
            return []
        ids = [row.id for row in rows]
        parts: dict[str, list[Participant]] = {i: [] for i in ids}
        for p in await self.conn.execute(
            select(space_participants).where(space_participants.c.space_id.in_(ids))
        ):
            parts[p.space_id].append(
                Participant(p.actor_id, SpaceRole(p.role_cap) if p.role_cap else None))
        keys = await self.sealer.keys(self.conn, [row.data_key_id for row in rows]) \
            if content else {}
        result = []
        for row in rows:
            title = description = ""
            if content:
                key = keys[row.data_key_id]
                title = self.sealer.open(key, _context(row.id, "title"), row.title_ct)
                description = self.sealer.open(
                    key, _context(row.id, "description"), row.description_ct)
            result.append(_space(row, title, description, parts[row.id]))
        return result

    async def rakel_gssi(self, space_id: str) -> str | None:
        row = (await self.conn.execute(select(spaces.c.rakel_gssi).where(
            spaces.c.id == space_id))).first()
        return row.rakel_gssi if row else None

    async def set_rakel_gssi(self, space_id: str, gssi: str | None, now: datetime) -> None:
        await self.conn.execute(update(spaces).where(spaces.c.id == space_id).values(
            rakel_gssi=gssi, updated_at=now))

    async def by_rakel_gssi(self, gssi: str) -> list[str]:
        """The open spaces linked to this talkgroup (oldest link first)."""
        rows = await self.conn.execute(select(spaces.c.id).where(
            spaces.c.rakel_gssi == gssi, spaces.c.status == "open")
            .order_by(spaces.c.created_at))
        return list(rows.scalars().all())

    async def linked_to_rakel(self) -> dict[str, str]:
        """space id -> GSSI of every open space with a linked talkgroup."""
        rows = await self.conn.execute(select(spaces.c.id, spaces.c.rakel_gssi).where(
            spaces.c.rakel_gssi.is_not(None), spaces.c.status == "open"))
        return {r.id: r.rakel_gssi for r in rows}

    async def append_event(self, space_id: str, kind: EventKind, ref_id: str, now: datetime,
                           *, activity: bool = True) -> int:
        """Take the space's next seq (row lock on PostgreSQL) and record the event with it.
        `activity=False` for a marker that is no activity in the space (last_activity_at
        stays)."""
        result = await self.conn.execute(
            _NEXT_SEQ_ACTIVE if activity else _NEXT_SEQ, {"b_space_id": space_id, "b_now": now})
        seq = int(result.scalar_one())
        await self.conn.execute(_INSERT_EVENT, {
            "space_id": space_id, "seq": seq, "kind": str(kind), "ref_id": ref_id,
            "created_at": now})
        return seq

    async def events_after(self, space_id: str, after: int, limit: int) -> list[SpaceEvent]:
        rows = await self.conn.execute(
            select(space_events)
            .where(space_events.c.space_id == space_id, space_events.c.seq > after)
            .order_by(space_events.c.seq).limit(limit))
        return [SpaceEvent(r.space_id, r.seq, r.kind, r.ref_id, r.created_at) for r in rows]

    async def head(self, space_id: str) -> int:
        row = (await self.conn.execute(
            select(spaces.c.last_seq).where(spaces.c.id == space_id))).first()
        return int(row.last_seq) if row else 0

    async def heads(self, space_ids: Sequence[str]) -> dict[str, int]:
        """The last seq of many spaces, in batched queries (missing spaces are left out)."""
        return await stream_queries.space_heads(self.conn, space_ids)
