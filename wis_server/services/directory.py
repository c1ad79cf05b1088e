"""Actors and users: system admins manage actors; each actor's admins manage its users.

Nobody grants, raises, resets or re-enables an account whose effective clearance is above
their own (a system administrator creating users inside another actor included): otherwise a
public-cleared administrator could set a password and read as a hemlig editor. Lowering and
disabling stay open to every administrator of the actor: they take rights away.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from ..classification.policy import Action, decide
from ..domain.audit import AuditRecord
from ..domain.codes import Code
from ..domain.errors import Forbidden, NotFound, ValidationFailed
from ..domain.events import EventKind
from ..domain.levels import Classification, Role
from ..domain.model import Actor, ContactPoint, Principal, User
from .input_rules import check_short_name, normalise_contact_points
from .passwords import Passwords, check_password_rule, normalise_username
from .ports import Clock, EventPublisher, Transaction, UnitOfWork


async def _mark_narrowed(tx: Transaction, actor_id: str, kind: EventKind, ref_id: str, now: datetime
                         ) -> list[tuple[str, int]]:
    """Write a rights-narrowed marker to the log of every space of the actor, in the
    transaction of the change, so a reader who resumes from before it is told to reload
    (`space.resync`, docs/realtime.md). Returns (space, seq) to wake after commit."""
    return [(space_id, await tx.spaces.append_event(space_id, kind, ref_id, now,
                                                    activity=False))
            for space_id in await tx.spaces.ids_for_actor(actor_id)]


def _audit(principal: Principal | None, action: str, target_type: str, target_id: str,
           **detail: object) -> AuditRecord:
    return AuditRecord(
        action=action, user_id=principal.user_id if principal else None,
        actor_id=principal.actor_id if principal else None, target_type=target_type,
        target_id=target_id, detail=dict(detail))


async def load_principal(tx: Transaction, user_id: str) -> Principal | None:
    found = await tx.users.with_ceiling(user_id)  # no user, or no actor: None
    if found is None:
        return None
    user, ceiling, epoch = found
    return Principal(user.id, user.actor_id, user.username, user.role, user.clearance,
                     ceiling, user.active, user.display_name, epoch)


class Directory:
    def __init__(self, store: UnitOfWork, passwords: Passwords, clock: Clock,
                 publisher: EventPublisher) -> None:
        self.store = store
        self.passwords = passwords
        self.clock = clock
        self.publisher = publisher

    async def principal(self, user_id: str) -> Principal | None:
        async with self.store.read() as tx:
            return await load_principal(tx, user_id)

    async def profile(self, principal: Principal) -> tuple[User, Actor]:
        async with self.store.read() as tx:
            user = await tx.users.get(principal.user_id)
            actor = await tx.actors.get(principal.actor_id)
        if user is None or actor is None:
            raise NotFound("no such user")
        return user, actor

    # --- actors -------------------------------------------------------------------------
    async def list_actors(self, principal: Principal) -> list[Actor]:
        if not principal.active:
            raise NotFound("not found")
        async with self.store.read() as tx:
            return await tx.actors.all()

    async def create_actor(self, principal: Principal | None, name: str, short_name: str,
                           ceiling: Classification,
                           contact_points: tuple[ContactPoint, ...] = ()) -> Actor:
        """`principal` None only from the CLI, which runs with the operator's authority."""
        if principal is not None and not decide(principal, Action.MANAGE_ACTORS):
            raise Forbidden("only system administrators manage actors")
        check_short_name(short_name)
        contact_points = normalise_contact_points(contact_points)
        now = self.clock()
        actor = Actor(str(uuid.uuid4()), name, short_name, ceiling, contact_points, now)
        async with self.store.write() as tx:
            await tx.actors.add(actor, now)
            await tx.audit.append(_audit(principal, "actor.create", "actor", actor.id,
                                         short_name=short_name, ceiling=ceiling.value), now)
        return actor

    async def update_actor(self, principal: Principal, actor_id: str, *, name: str | None = None,
                           short_name: str | None = None, ceiling: Classification | None = None,
                           contact_points: tuple[ContactPoint, ...] | None = None) -> Actor:
        structural = name is not None or short_name is not None or ceiling is not None
        action = Action.MANAGE_ACTORS if structural else Action.MANAGE_USERS
        if not decide(principal, action, target_actor_id=actor_id):
            raise Forbidden("you may not change this actor")
        if short_name is not None:
            check_short_name(short_name)
        if contact_points is not None:
            contact_points = normalise_contact_points(contact_points)
        now = self.clock()
        async with self.store.write() as tx:
            actor = await tx.actors.get(actor_id)
            if actor is None:
                raise NotFound("no such actor")
            if (ceiling is not None and ceiling > actor.clearance_ceiling
                    and ceiling > principal.effective_clearance):
                # Raising the ceiling raises the effective clearance of the actor's users.
                raise Forbidden("you may not raise a ceiling above your own clearance",
                                code=Code.CLEARANCE_ABOVE_OWN)
            changed = replace(
                actor,
                name=name if name is not None else actor.name,
                short_name=short_name if short_name is not None else actor.short_name,
                clearance_ceiling=ceiling if ceiling is not None else actor.clearance_ceiling,
                contact_points=contact_points if contact_points is not None
                else actor.contact_points)
            await tx.actors.update(changed, now)
            marks = await _mark_narrowed(tx, actor_id, EventKind.ACCESS_CEILING_LOWERED,
                                         actor_id, now) \
                if ceiling is not None and ceiling < actor.clearance_ceiling else []
            fields = [k for k, v in (("name", name), ("short_name", short_name),
                                     ("ceiling", ceiling), ("contact_points", contact_points))
                      if v is not None]
            await tx.audit.append(_audit(principal, "actor.update", "actor", actor_id,
                                         fields=fields), now)
        if ceiling is not None:
            self.publisher.access_changed(actor_id=actor_id)
        self._wake(marks)
        return changed

    def _wake(self, marks: list[tuple[str, int]]) -> None:
        """After commit, and after `access_changed` (which holds open subscriptions first)."""
        for space_id, seq in marks:
            self.publisher.space_changed(space_id, seq)

    # --- users --------------------------------------------------------------------------
    async def list_users(self, principal: Principal, actor_id: str) -> list[User]:
        async with self.store.read() as tx:
            if await tx.actors.get(actor_id) is None:
                raise NotFound("no such actor")
            # Actors are listed for every user, so refusing is no disclosure: say 403.
            if not decide(principal, Action.MANAGE_USERS, target_actor_id=actor_id):
                raise Forbidden("only that actor's administrators list its users",
                                code=Code.NOT_ACTOR_ADMIN)
            return await tx.users.of_actor(actor_id)

    async def create_user(self, principal: Principal | None, actor_id: str, username: str,
                          password: str, display_name: str, role: Role,
                          clearance: Classification) -> User:
        if principal is not None and not decide(
                principal, Action.MANAGE_USERS, target_actor_id=actor_id):
            raise Forbidden("only that actor's administrators create its users",
                            code=Code.NOT_ACTOR_ADMIN)
        _check_role_grant(principal, role)
        username = normalise_username(username)
        check_password_rule(password)
        async with self.store.read() as tx:
            actor = await tx.actors.get(actor_id)
        if actor is None:
            raise NotFound("no such actor")
        _check_clearance(clearance, actor)
        _check_clearance_grant(principal, clearance)
        password_hash = await self.passwords.hash_async(password)  # after the cheap checks
        now = self.clock()
        async with self.store.write() as tx:
            user = User(str(uuid.uuid4()), actor_id, username, display_name, role, clearance,
                        True, now)
            await tx.users.add(user, password_hash, now)
            await tx.audit.append(_audit(principal, "user.create", "user", user.id,
                                         for_actor=actor_id, role=role.value,
                                         clearance=clearance.value), now)
        return user

    async def update_user(self, principal: Principal, user_id: str, *, role: Role | None = None,
                          clearance: Classification | None = None, active: bool | None = None,
                          display_name: str | None = None) -> User:
        now = self.clock()
        async with self.store.write() as tx:
            user = await tx.users.get(user_id)
            if user is None or not decide(principal, Action.MANAGE_USERS,
                                          target_actor_id=user.actor_id):
                raise NotFound("no such user")
            _check_may_change(principal, user)
            if role is not None:
                _check_role_grant(principal, role)
            if user.id == principal.user_id and (
                    active is False
                    or (role is not None and role is not user.role)
                    or (clearance is not None and clearance is not user.clearance)):
                raise Forbidden("you cannot disable yourself or change your own role or "
                                "clearance; ask another administrator", code=Code.SELF_CHANGE)
            actor = await tx.actors.get(user.actor_id)
            assert actor is not None
            if clearance is not None:
                _check_clearance(clearance, actor)
            _check_may_manage(principal, user, actor, role=role, clearance=clearance,
                              active=active, display_name=display_name)
            changed = replace(
                user, role=role or user.role, clearance=clearance or user.clearance,
                active=user.active if active is None else active,
                display_name=display_name if display_name is not None else user.display_name)
            await tx.users.update(changed, now)
            marks = await _mark_narrowed(tx, user.actor_id, EventKind.ACCESS_CLEARANCE_LOWERED,
                                         user.id, now) \
                if _effective(changed, actor) < _effective(user, actor) else []
            if active is False:
                await tx.tokens.revoke_user(user.id, now)
                await tx.users.end_sessions(user.id, now)
            fields = [k for k, v in (("role", role), ("clearance", clearance),
                                     ("active", active), ("display_name", display_name))
                      if v is not None]
            await tx.audit.append(_audit(principal, "user.update", "user", user_id,
                                         fields=fields, active=changed.active,
                                         role=changed.role.value,
                                         clearance=changed.clearance.value), now)
        self.publisher.access_changed(user_id=user_id)
        self._wake(marks)
        return changed

    async def reset_password(self, principal: Principal | None, user_id: str,
                             password: str) -> None:
        check_password_rule(password)
        async with self.store.read() as tx:
            user = await tx.users.get(user_id)
            actor = await tx.actors.get(user.actor_id) if user is not None else None
        if user is None or actor is None or (principal is not None and not decide(
                principal, Action.MANAGE_USERS, target_actor_id=user.actor_id)):
            raise NotFound("no such user")
        _check_may_change(principal, user)
        if principal is not None and _effective(user, actor) > principal.effective_clearance:
            raise Forbidden("you may not reset the password of an account cleared above you",
                            code=Code.CLEARANCE_ABOVE_OWN)
        password_hash = await self.passwords.hash_async(password)  # after the permission checks
        now = self.clock()
        async with self.store.write() as tx:
            await tx.users.set_password_hash(user_id, password_hash, now)
            await tx.tokens.revoke_user(user_id, now)
            await tx.users.end_sessions(user_id, now)
            await tx.audit.append(_audit(principal, "user.password_reset", "user", user_id), now)
        self.publisher.access_changed(user_id=user_id)


def _check_may_change(principal: Principal | None, user: User) -> None:
    """An actor admin manages its actor's users, but never a system administrator in it."""
    if (user.role is Role.SYSTEM_ADMIN and principal is not None
            and principal.role is not Role.SYSTEM_ADMIN):
        raise Forbidden("only system administrators change a system administrator",
                        code=Code.SYSTEM_ADMIN_PROTECTED)


def _effective(user: User, actor: Actor) -> Classification:
    return Classification.lowest(user.clearance, actor.clearance_ceiling)


def _check_clearance_grant(principal: Principal | None, clearance: Classification) -> None:
    if principal is not None and clearance > principal.effective_clearance:
        raise Forbidden("you may not grant a clearance above your own",
                        code=Code.CLEARANCE_ABOVE_OWN)


def _check_may_manage(principal: Principal, user: User, actor: Actor, *, role: Role | None,
                      clearance: Classification | None, active: bool | None,
                      display_name: str | None) -> None:
    """Above the administrator's own effective clearance only lowering and disabling."""
    if clearance is not None and clearance is not user.clearance:
        _check_clearance_grant(principal, clearance)
    if _effective(user, actor) <= principal.effective_clearance:
        return
    lowering = clearance is not None and clearance < user.clearance
    if ((role is not None and role is not user.role)
            or (active is True and not user.active)
            or (display_name is not None and display_name != user.display_name)
            or (clearance is not None and clearance is not user.clearance and not lowering)):
        raise Forbidden("you may only lower or disable an account cleared above you",
                        code=Code.CLEARANCE_ABOVE_OWN)


def _check_role_grant(principal: Principal | None, role: Role) -> None:
    if (role is Role.SYSTEM_ADMIN and principal is not None
            and principal.role is not Role.SYSTEM_ADMIN):
        raise Forbidden("only system administrators grant that role", code=Code.ROLE_NOT_GRANTABLE)


def _check_clearance(clearance: Classification, actor: Actor) -> None:
    if clearance > actor.clearance_ceiling:
        raise ValidationFailed("clearance above the actor's ceiling",
                               code=Code.CLEARANCE_ABOVE_CEILING, field="clearance")
