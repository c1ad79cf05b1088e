"""Incident spaces: create, list, read, change (title, status, participants)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from ..classification.policy import Action, Reason, decide, space_role
from ..domain.audit import AuditRecord
from ..domain.codes import Code
from ..domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..domain.events import EventKind
from ..domain.levels import Classification, SpaceRole, SpaceStatus, SpaceType
from ..domain.model import Participant, Principal, Space
from ..domain.notifications import Channel
from ..domain.records import IdempotentResult
from .idempotency import earlier_id, fingerprint, previous_result, remember, retrying_on_race
from .notify_events import queue_space_added
from .outbox import Wake, no_wake
from .ports import Clock, EventPublisher, Transaction, UnitOfWork


@dataclass(frozen=True, slots=True)
class SpaceView:
    """A space as one principal sees it."""

    space: Space
    my_role: SpaceRole
    last_activity_at: datetime | None
    ceilings: Mapping[str, Classification] = field(default_factory=dict)
    """Each participating actor's clearance ceiling: who could ever read an item of a level
    (the client counts "läsrätt hos N av M" over those)."""


async def visible_space(tx: Transaction, principal: Principal, space_id: str, *,
                        content: bool = False) -> Space:
    """The space if the principal may read it; otherwise NotFound, whether or not it exists.
    Its title and description are decrypted only when `content` is asked for."""
    space = await tx.spaces.get(space_id, content=content)
    if space is None or not decide(principal, Action.READ, space):
        raise NotFound("no such space")
    return space


async def visible_space_claiming(tx: Transaction, principal: Principal, space_id: str,
                                 key: str | None, print_: str, resource_type: str,
                                 resource_id: str, now: datetime) -> tuple[Space, str | None]:
    """`visible_space` and then `claim` (services/idempotency.py), in one round trip where
    the database allows: the space, and None if this is the first attempt with the key (or
    there is no key), else the earlier attempt's id. A space the principal may not read is
    NotFound, and the claim rolls back with the transaction."""
    if key is None:
        return await visible_space(tx, principal, space_id), None
    space, found = await tx.space_and_claim(
        space_id, principal.user_id, key, IdempotentResult(print_, resource_type, resource_id),
        now)
    if space is None or not decide(principal, Action.READ, space):
        raise NotFound("no such space")
    return space, earlier_id(tx, found, print_)


class Spaces:
    def __init__(self, store: UnitOfWork, clock: Clock, publisher: EventPublisher, *,
                 enabled: frozenset[Channel] = frozenset(), wake: Wake = no_wake) -> None:
        self.store = store
        self.clock = clock
        self.publisher = publisher
        self.enabled = enabled  # channels that tell users their actor was added (space_added)
        self.wake = wake

    async def create(self, principal: Principal, *, title: str, description: str,
                     type: SpaceType, classification: Classification,
                     participants: list[Participant], idempotency_key: str | None = None
                     ) -> SpaceView:
        if not decide(principal, Action.CREATE_SPACE):
            raise Forbidden("only editors create spaces", code=Code.ROLE_MAY_NOT_CREATE_SPACE)
        if classification > principal.effective_clearance:
            raise ValidationFailed("space ceiling above your clearance",
                                   code=Code.CEILING_ABOVE_CLEARANCE, field="classification")
        if not any(p.actor_id == principal.actor_id for p in participants):
            participants = [Participant(principal.actor_id), *participants]
        print_ = fingerprint("space.create", [title, description, type.value,
                                              classification.value,
                                              sorted(p.actor_id for p in participants)])

        async def attempt() -> str:
            now = self.clock()
            async with self.store.write() as tx:
                earlier = await previous_result(tx, principal.user_id, idempotency_key, print_)
                if earlier is not None:
                    return earlier
                await _check_actors_exist(tx, [p.actor_id for p in participants])
                space = Space(str(uuid.uuid4()), title, description, type, classification,
                              SpaceStatus.OPEN, principal.actor_id, principal.user_id,
                              tuple(participants), 0, now, now)
                await tx.spaces.add(space, now)
                queued = await queue_space_added(tx, space, space.participant_ids,
                                                 self.enabled, now, by=principal)
                seq = await tx.spaces.append_event(space.id, EventKind.SPACE_CREATED, space.id, now)
                await remember(tx, principal.user_id, idempotency_key, print_, "space",
                               space.id, now)
                await tx.audit.append(AuditRecord(
                    "space.create", user_id=principal.user_id, actor_id=principal.actor_id,
                    target_type="space", target_id=space.id, space_id=space.id,
                    detail={"type": type.value, "ceiling": classification.value,
                            "participants": sorted(p.actor_id for p in participants)}), now)
            self.publisher.space_changed(space.id, seq)
            self.publisher.membership_changed(space.id, sorted(space.participant_ids), ())
            if queued:
                self.wake()
            return space.id

        space_id = await retrying_on_race(attempt)
        return await self.get(principal, space_id)

    async def visible(self, principal: Principal) -> list[SpaceView]:
        if not principal.active:
            return []
        async with self.store.read() as tx:
            spaces = await tx.spaces.for_actor(principal.actor_id)
            activity = await tx.spaces.last_activity([s.id for s in spaces])
            ceilings = await _ceilings(tx)
        return [self._view(principal, s, activity.get(s.id), ceilings) for s in spaces
                if decide(principal, Action.READ, s)]

    async def get(self, principal: Principal, space_id: str) -> SpaceView:
        async with self.store.read() as tx:
            space = await visible_space(tx, principal, space_id, content=True)
            activity = await tx.spaces.last_activity([space.id])
            ceilings = await _ceilings(tx)
        return self._view(principal, space, activity.get(space.id), ceilings)

    async def update(self, principal: Principal, space_id: str, *, title: str | None = None,
                     description: str | None = None, status: SpaceStatus | None = None,
                     participants: list[Participant] | None = None) -> SpaceView:
        now = self.clock()
        async with self.store.write() as tx:
            space = await visible_space(tx, principal, space_id, content=True)
            decision = decide(principal, Action.ADMINISTER_SPACE, space)
            if not decision:
                code = (Code.NOT_SPACE_OWNER if decision.reason is Reason.NOT_OWNING_ACTOR
                        else Code.SPACE_ROLE_TOO_LOW)
                raise Forbidden("only the owning actor's editors change a space", code=code)
            if participants is not None:
                owner = [p for p in participants if p.actor_id == space.owner_actor_id]
                if not owner:
                    raise ValidationFailed("the owning actor cannot leave its space",
                                           code=Code.OWNER_MUST_PARTICIPATE, field="participants")
                if owner[0].role_cap is not None:
                    raise ValidationFailed("the owning actor's role cannot be capped",
                                           code=Code.OWNER_CANNOT_BE_CAPPED, field="participants")
                await _check_actors_exist(tx, [p.actor_id for p in participants])
            changed = replace(
                space, title=title if title is not None else space.title,
                description=description if description is not None else space.description,
                status=status or space.status,
                participants=tuple(participants) if participants is not None
                else space.participants)
            await tx.spaces.update(changed, now)
            queued = await queue_space_added(
                tx, changed, changed.participant_ids - space.participant_ids, self.enabled, now,
                by=principal)
            seq = await tx.spaces.append_event(space.id, EventKind.SPACE_UPDATED, space.id, now)
            fields = [k for k, v in (("title", title), ("description", description),
                                     ("status", status), ("participants", participants))
                      if v is not None]
            await tx.audit.append(AuditRecord(
                "space.update", user_id=principal.user_id, actor_id=principal.actor_id,
                target_type="space", target_id=space.id, space_id=space.id,
                detail={"fields": fields, "status": changed.status.value,
                        "participants": sorted(changed.participant_ids)}), now)
        self.publisher.space_changed(space.id, seq)
        if queued:
            self.wake()
        if participants is not None:
            self.publisher.access_changed(space_id=space.id)
            self.publisher.membership_changed(
                space.id, sorted(changed.participant_ids - space.participant_ids),
                sorted(space.participant_ids - changed.participant_ids))
        return await self.get(principal, space_id) if decide(
            principal, Action.READ, changed) else SpaceView(changed, SpaceRole.READER, now)

    async def rakel_gssi(self, principal: Principal, space_id: str) -> str | None:
        """The Rakel talkgroup linked to the space (anybody who may read the space)."""
        async with self.store.read() as tx:
            space = await visible_space(tx, principal, space_id)
            return await tx.spaces.rakel_gssi(space.id)

    async def link_rakel(self, principal: Principal, space_id: str, gssi: str | None
                         ) -> str | None:
        """Link a talkgroup (a GSSI) to the space, or clear the link (None): the owning
        actor's editors. One open space per talkgroup, so an SDS to it has one home."""
        if gssi is not None:
            gssi = gssi.strip()
            if not gssi.isascii() or not gssi.isdigit() or not 0 < int(gssi) <= 0xFFFFFF:
                raise ValidationFailed("not a Rakel GSSI (a number from 1 to 16777215)",
                                       code=Code.INVALID_RAKEL_SSI, field="gssi")
            gssi = str(int(gssi))
        now = self.clock()
        async with self.store.write() as tx:
            space = await visible_space(tx, principal, space_id)
            decision = decide(principal, Action.ADMINISTER_SPACE, space)
            if not decision:
                code = (Code.NOT_SPACE_OWNER if decision.reason is Reason.NOT_OWNING_ACTOR
                        else Code.SPACE_ROLE_TOO_LOW)
                raise Forbidden("only the owning actor's editors change a space", code=code)
            before = await tx.spaces.rakel_gssi(space.id)
            if gssi == before:
                return before
            if gssi is not None and [s for s in await tx.spaces.by_rakel_gssi(gssi)
                                     if s != space.id]:
                raise Conflict("that talkgroup is linked to another open space",
                               code=Code.RAKEL_GSSI_TAKEN)
            await tx.spaces.set_rakel_gssi(space.id, gssi, now)
            await tx.audit.append(AuditRecord(
                "space.rakel_link", user_id=principal.user_id, actor_id=principal.actor_id,
                target_type="space", target_id=space.id, space_id=space.id,
                detail={"gssi": gssi, "before": before}), now)
        return gssi

    @staticmethod
    def _view(principal: Principal, space: Space, activity: datetime | None,
              ceilings: Mapping[str, Classification]) -> SpaceView:
        role = space_role(principal, space)
        assert role is not None
        return SpaceView(space, role, activity, {
            a: ceilings[a] for a in space.participant_ids if a in ceilings})


async def _ceilings(tx: Transaction) -> dict[str, Classification]:
    return {actor.id: actor.clearance_ceiling for actor in await tx.actors.all()}


async def _check_actors_exist(tx: Transaction, actor_ids: list[str]) -> None:
    if len(set(actor_ids)) != len(actor_ids):
        raise ValidationFailed("an actor is named twice", code=Code.DUPLICATE_PARTICIPANT,
                               field="participants")
    missing = set(actor_ids) - await tx.actors.existing_ids(actor_ids)
    if missing:
        raise ValidationFailed("unknown actor among participants", code=Code.UNKNOWN_ACTOR,
                               field="participants")
