"""How far each user has looked at each space, and the labels of what came after: the
unread counts are decided per item by the caller, never here. Nothing is decrypted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.levels import Classification
from ..domain.model import ItemLabel
from .entries import audience_filter, read_audiences
from .tables import entries, space_reads


class ReadRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def seen(self, user_id: str, space_ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        wanted = list(space_ids)
        for start in range(0, len(wanted), 500):
            for row in await self.conn.execute(
                    select(space_reads.c.space_id, space_reads.c.seen_seq).where(
                        space_reads.c.user_id == user_id,
                        space_reads.c.space_id.in_(wanted[start : start + 500]))):
                found[row.space_id] = int(row.seen_seq)
        return found

    async def mark(self, user_id: str, space_id: str, seq: int, now: datetime) -> None:
        """Seen up to `seq`; never moves back (two tabs, an old one last)."""
        insert = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
        statement = insert(space_reads).values(user_id=user_id, space_id=space_id,
                                               seen_seq=seq, updated_at=now)
        newer = statement.excluded.seen_seq > space_reads.c.seen_seq
        await self.conn.execute(statement.on_conflict_do_update(
            index_elements=[space_reads.c.user_id, space_reads.c.space_id],
            set_={"seen_seq": case((newer, statement.excluded.seen_seq),
                                   else_=space_reads.c.seen_seq),
                  "updated_at": case((newer, statement.excluded.updated_at),
                                     else_=space_reads.c.updated_at)}))

    async def labels_after(self, space_id: str, after: int, *, not_by: str,
                           clearance: Classification, actor_id: str, limit: int
                           ) -> list[ItemLabel]:
        """Labels of the newest `limit` log items (entries and notices) after `after`, not
        written by `not_by`, pre-filtered in SQL by level and audience the way the decision
        rules (the caller still decides each one)."""
        rows = (await self.conn.execute(
            select(entries.c.id, entries.c.classification, entries.c.audience_all,
                   entries.c.author_actor_id)
            .where(entries.c.space_id == space_id, entries.c.seq > after,
                   entries.c.author_id != not_by, entries.c.level_rank <= clearance.rank,
                   audience_filter(entries.c.id, entries.c.audience_all, actor_id))
            .order_by(entries.c.seq.desc()).limit(limit))).all()
        audiences = await read_audiences(self.conn, [r.id for r in rows if not r.audience_all])
        return [ItemLabel(Classification(r.classification),
                          None if r.audience_all else audiences.get(r.id, frozenset()),
                          r.author_actor_id) for r in rows]
