"""Actors, users and refresh tokens: the directory of who may sign in and on whose behalf."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.codes import Code
from ..domain.errors import Conflict
from ..domain.levels import Classification, ContactKind, Role
from ..domain.model import Actor, ContactPoint, Principal, User
from . import stream_queries
from .direct import Direct
from .sqlite_driver import offloaded
from .tables import actors, refresh_tokens, users


def _contact_points(raw: Sequence[dict[str, Any]]) -> tuple[ContactPoint, ...]:
    return tuple(
        ContactPoint(ContactKind(p["kind"]), p["value"], int(p.get("priority", 1)),
                     p.get("label", ""))
        for p in raw
    )


def _actor(row: Any) -> Actor:
    return Actor(row.id, row.name, row.short_name, Classification(row.clearance_ceiling),
                 _contact_points(row.contact_points), row.created_at)


_CEILINGS = select(actors.c.id, actors.c.clearance_ceiling).where(
    actors.c.id.in_(bindparam("b_ids", expanding=True)))
_WITH_CEILING = Direct(select(users, actors.c.clearance_ceiling.label("actor_ceiling"))
                       .join(actors, actors.c.id == users.c.actor_id)
                       .where(users.c.id == bindparam("b_user_id")))
"""Every request loads its principal with this: built once (a statement built per call
costs more Python than running it; see storage/sealing.py)."""


def _user(row: Any) -> User:
    return User(row.id, row.actor_id, row.username, row.display_name, Role(row.role),
                Classification(row.clearance), bool(row.active), row.created_at,
                int(row.failed_sign_ins), row.last_failed_sign_in_at)


class ActorRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, actor: Actor, now: datetime) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(actors.insert().values(
                    id=actor.id, name=actor.name, short_name=actor.short_name,
                    clearance_ceiling=actor.clearance_ceiling.value,
                    contact_points=[_point_doc(p) for p in actor.contact_points],
                    created_at=now, updated_at=now,
                ))
        except IntegrityError:
            raise Conflict("an actor with that name or short name exists",
                           code=Code.ACTOR_EXISTS) from None

    async def update(self, actor: Actor, now: datetime) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(update(actors).where(actors.c.id == actor.id).values(
                    name=actor.name, short_name=actor.short_name,
                    clearance_ceiling=actor.clearance_ceiling.value,
                    contact_points=[_point_doc(p) for p in actor.contact_points],
                    updated_at=now,
                ))
        except IntegrityError:
            raise Conflict("an actor with that name or short name exists",
                           code=Code.ACTOR_EXISTS) from None

    async def get(self, actor_id: str) -> Actor | None:
        row = (await self.conn.execute(select(actors).where(actors.c.id == actor_id))).first()
        return _actor(row) if row else None

    async def ceilings(self, actor_ids: Sequence[str]) -> dict[str, Classification]:
        """The clearance ceiling of each actor that exists, in batched queries (a classified
        write checks every actor of its audience)."""
        wanted = sorted(set(actor_ids))
        found: dict[str, Classification] = {}
        for start in range(0, len(wanted), 500):
            rows = await self.conn.execute(_CEILINGS, {"b_ids": wanted[start : start + 500]})
            found.update((row.id, Classification(row.clearance_ceiling)) for row in rows)
        return found

    async def by_short_name(self, short_name: str) -> Actor | None:
        row = (await self.conn.execute(
            select(actors).where(actors.c.short_name == short_name))).first()
        return _actor(row) if row else None

    async def all(self) -> list[Actor]:
        rows = await self.conn.execute(select(actors).order_by(actors.c.name))
        return [_actor(row) for row in rows]

    async def existing_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        rows = await self.conn.execute(select(actors.c.id).where(actors.c.id.in_(list(ids))))
        return {row.id for row in rows}


def _point_doc(point: ContactPoint) -> dict[str, Any]:
    return {"kind": point.kind.value, "value": point.value, "priority": point.priority,
            "label": point.label}


class UserRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, user: User, password_hash: str, now: datetime) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(users.insert().values(
                    id=user.id, actor_id=user.actor_id, username=user.username,
                    display_name=user.display_name, password_hash=password_hash,
                    role=user.role.value, clearance=user.clearance.value, active=user.active,
                    created_at=now, updated_at=now,
                ))
        except IntegrityError:
            raise Conflict("that username is taken", code=Code.USERNAME_TAKEN,
                           field="username") from None

    async def update(self, user: User, now: datetime) -> None:
        await self.conn.execute(update(users).where(users.c.id == user.id).values(
            display_name=user.display_name, role=user.role.value,
            clearance=user.clearance.value, active=user.active, updated_at=now,
        ))

    async def set_password_hash(self, user_id: str, password_hash: str, now: datetime) -> None:
        await self.conn.execute(update(users).where(users.c.id == user_id).values(
            password_hash=password_hash, updated_at=now))

    async def get(self, user_id: str) -> User | None:
        row = (await self.conn.execute(select(users).where(users.c.id == user_id))).first()
        return _user(row) if row else None

    async def with_ceiling(self, user_id: str) -> tuple[User, Classification, int] | None:
        """The user, their actor's clearance ceiling and their session epoch in one round
        trip (every request)."""
        row = (await _WITH_CEILING.execute(self.conn, {"b_user_id": user_id})).first()
        return (_user(row), Classification(row.actor_ceiling), int(row.session_epoch)) \
            if row else None

    async def principals(self, user_ids: Sequence[str]) -> dict[str, Principal]:
        """Many users with their actors' ceilings, in batched queries (the hub's periodic
        re-validation of every connected user)."""
        return await stream_queries.principals(self.conn, user_ids)

    async def end_sessions(self, user_id: str, now: datetime) -> None:
        """Every access token issued so far stops working (they carry the old epoch)."""
        await self.conn.execute(update(users).where(users.c.id == user_id).values(
            session_epoch=users.c.session_epoch + 1, updated_at=now))

    async def record_failed_sign_in(self, user_id: str, now: datetime) -> None:
        await self.conn.execute(update(users).where(users.c.id == user_id).values(
            failed_sign_ins=users.c.failed_sign_ins + 1, last_failed_sign_in_at=now))

    async def record_sign_in(self, user_id: str) -> None:
        await self.conn.execute(update(users).where(
            users.c.id == user_id, users.c.failed_sign_ins != 0).values(failed_sign_ins=0))

    async def credentials(self, username: str) -> tuple[User, str] | None:
        row = (await self.conn.execute(select(users).where(users.c.username == username))).first()
        return (_user(row), row.password_hash) if row else None

    async def of_actor(self, actor_id: str) -> list[User]:
        rows = await self.conn.execute(
            select(users).where(users.c.actor_id == actor_id).order_by(users.c.username))
        return [_user(row) for row in rows]

    async def display_names(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        rows = await self.conn.execute(
            select(users.c.id, users.c.display_name).where(users.c.id.in_(list(set(ids)))))
        return {row.id: row.display_name for row in rows}

    async def count(self) -> int:
        rows = await self.conn.execute(select(users.c.id).limit(1))
        return len(rows.all())


class RefreshTokenRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, token_id: str, user_id: str, family_id: str, token_hash: str,
                  now: datetime, expires_at: datetime) -> None:
        await self.conn.execute(refresh_tokens.insert().values(
            id=token_id, user_id=user_id, family_id=family_id, token_hash=token_hash,
            created_at=now, expires_at=expires_at))

    async def by_hash(self, token_hash: str) -> Any:
        return (await self.conn.execute(
            select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash))).first()

    async def mark_used(self, token_id: str, now: datetime) -> bool:
        """Atomically claim a token for one rotation; False if it was used already."""
        result = await self.conn.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.id == token_id, refresh_tokens.c.used_at.is_(None))
            .values(used_at=now))
        return result.rowcount == 1

    async def revoke_family(self, family_id: str, now: datetime, reason: str | None = None
                            ) -> None:
        """Revoke every token of the family; reason "reuse" marks even already-revoked ones,
        so any later use of the family answers `session_revoked`."""
        if reason is not None:
            await self.conn.execute(
                update(refresh_tokens).where(refresh_tokens.c.family_id == family_id)
                .values(revoke_reason=reason,
                        revoked_at=func.coalesce(refresh_tokens.c.revoked_at, now)))
            return
        await self.conn.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now))

    async def family_used_since(self, family_id: str, since: datetime) -> bool:
        """Whether a token of the family was rotated after `since` (its successor was used)."""
        row = (await self.conn.execute(select(refresh_tokens.c.id).where(
            refresh_tokens.c.family_id == family_id, refresh_tokens.c.used_at > since
        ).limit(1))).first()
        return row is not None

    async def revoke_unused_since(self, family_id: str, since: datetime, now: datetime) -> None:
        await self.conn.execute(update(refresh_tokens).where(
            refresh_tokens.c.family_id == family_id, refresh_tokens.c.created_at >= since,
            refresh_tokens.c.used_at.is_(None), refresh_tokens.c.revoked_at.is_(None),
        ).values(revoked_at=now))

    async def prune(self, before: datetime) -> int:
        """Forget tokens that expired, or were revoked, before `before`."""
        with offloaded():  # may delete many rows: not on the event loop's thread
            result = await self.conn.execute(delete(refresh_tokens).where(or_(
                refresh_tokens.c.expires_at < before, refresh_tokens.c.revoked_at < before)))
        return int(result.rowcount or 0)

    async def revoke_user(self, user_id: str, now: datetime) -> None:
        await self.conn.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now))
