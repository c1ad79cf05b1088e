"""Batched reads the real-time hub needs and the repositories do not offer: the heads of many
spaces in one query and many principals (user + actor ceiling) in one query."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.levels import Classification, Role
from ..domain.model import Principal
from .tables import actors, spaces, users

_CHUNK = 500


async def space_heads(conn: AsyncConnection, space_ids: Sequence[str]) -> dict[str, int]:
    wanted = list(space_ids)
    heads: dict[str, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = await conn.execute(select(spaces.c.id, spaces.c.last_seq).where(
            spaces.c.id.in_(wanted[start : start + _CHUNK])))
        heads.update({row.id: int(row.last_seq) for row in rows})
    return heads


async def principals(conn: AsyncConnection, user_ids: Sequence[str]) -> dict[str, Principal]:
    wanted = list(user_ids)
    found: dict[str, Principal] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = await conn.execute(
            select(users.c.id, users.c.actor_id, users.c.username, users.c.role,
                   users.c.clearance, users.c.active, users.c.display_name,
                   users.c.session_epoch, actors.c.clearance_ceiling)
            .join(actors, actors.c.id == users.c.actor_id)
            .where(users.c.id.in_(wanted[start : start + _CHUNK])))
        for r in rows:
            found[r.id] = Principal(r.id, r.actor_id, r.username, Role(r.role),
                                    Classification(r.clearance),
                                    Classification(r.clearance_ceiling), bool(r.active),
                                    r.display_name, int(r.session_epoch))
    return found
