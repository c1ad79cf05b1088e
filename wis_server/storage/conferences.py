"""Phone conference bookings and their participants. The PIN is sealed (public level, bound
to its row, space and line); the rest is plain so a call finds its line without decrypting
more than that one PIN."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..classification.crypto import FieldContext
from ..domain.conferences import Booking, ConferenceStatus, LineTaken, Participant
from ..domain.levels import Classification
from .sealing import Sealer
from .tables import conference_participants, conferences, users


def _context(row_id: str, space_id: str, number: str) -> FieldContext:
    return FieldContext("conferences", row_id, "pin", space_id, Classification.PUBLIC,
                        bound=(number,))


class ConferenceRepository:
    def __init__(self, conn: AsyncConnection, sealer: Sealer) -> None:
        self.conn = conn
        self.sealer = sealer

    async def add(self, booking: Booking) -> None:
        b = booking
        key = await self.sealer.new_key(self.conn, Classification.PUBLIC)
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(conferences.insert().values(
                    id=b.id, space_id=b.space_id, owner_actor_id=b.owner_actor_id,
                    number=b.number, status=b.status.value, data_key_id=key.id,
                    pin_ct=self.sealer.seal(key, _context(b.id, b.space_id, b.number), b.pin),
                    booked_by=b.booked_by, booked_at=b.booked_at, ended_at=None,
                    active_number=b.number))
        except IntegrityError:
            raise LineTaken(b.number) from None

    async def held_lines(self) -> list[str]:
        rows = await self.conn.execute(select(conferences.c.active_number).where(
            conferences.c.active_number.is_not(None)))
        return [r.active_number for r in rows]

    async def end(self, conference_id: str, now: datetime) -> bool:
        """End an active booking (frees its line; open participations close now)."""
        result = await self.conn.execute(
            update(conferences).where(conferences.c.id == conference_id,
                                      conferences.c.status == ConferenceStatus.ACTIVE.value)
            .values(status=ConferenceStatus.ENDED.value, ended_at=now, active_number=None))
        if not result.rowcount:
            return False
        await self.conn.execute(
            update(conference_participants).where(
                conference_participants.c.conference_id == conference_id,
                conference_participants.c.left_at.is_(None)).values(left_at=now))
        return True

    async def get(self, conference_id: str) -> Booking | None:
        found = await self._load(select(conferences).where(conferences.c.id == conference_id))
        return found[0] if found else None

    async def active_on(self, number: str) -> Booking | None:
        found = await self._load(select(conferences).where(
            conferences.c.active_number == number))
        return found[0] if found else None

    async def for_space(self, space_id: str, limit: int = 50) -> list[Booking]:
        return await self._load(select(conferences).where(conferences.c.space_id == space_id)
                                .order_by(conferences.c.booked_at.desc()).limit(limit))

    async def by_ids(self, ids: Sequence[str]) -> list[Booking]:
        if not ids:
            return []
        return await self._load(select(conferences).where(conferences.c.id.in_(list(ids))))

    async def join(self, participant: Participant, conference_id: str) -> None:
        p = participant
        await self.conn.execute(conference_participants.insert().values(
            id=p.id, conference_id=conference_id, call_id=p.call_id, caller=p.caller,
            actor_id=p.actor_id, joined_at=p.joined_at, left_at=None))

    async def leave(self, participant_id: str, now: datetime) -> bool:
        result = await self.conn.execute(
            update(conference_participants).where(
                conference_participants.c.id == participant_id,
                conference_participants.c.left_at.is_(None)).values(left_at=now))
        return bool(result.rowcount)

    async def _load(self, query: Any) -> list[Booking]:
        rows = (await self.conn.execute(query)).all()
        if not rows:
            return []
        ids = [r.id for r in rows]
        keys = await self.sealer.keys(self.conn, [r.data_key_id for r in rows])
        names = {u.id: u.display_name for u in await self.conn.execute(
            select(users.c.id, users.c.display_name).where(
                users.c.id.in_({r.booked_by for r in rows})))}
        people: dict[str, list[Participant]] = {i: [] for i in ids}
        for p in await self.conn.execute(
                select(conference_participants)
                .where(conference_participants.c.conference_id.in_(ids))
                .order_by(conference_participants.c.joined_at)):
            people[p.conference_id].append(Participant(
                p.id, p.call_id, p.caller, p.actor_id, p.joined_at, p.left_at))
        return [Booking(
            r.id, r.space_id, r.owner_actor_id, r.number,
            self.sealer.open(keys[r.data_key_id], _context(r.id, r.space_id, r.number),
                             r.pin_ct),
            r.booked_by, r.booked_at, ConferenceStatus(r.status), r.ended_at,
            names.get(r.booked_by, ""), tuple(people[r.id])) for r in rows]
