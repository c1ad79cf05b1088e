"""Notices (informationsunderrättelser, issue 10.2): an entry of kind `notice` in the space's
log, written in ONE transaction with its event (`notice.created`), audit record and outbox
message. Recipients: every active user who may read it (`decide` per recipient — nobody is
told that an item they may not read exists), has opted in to notices for the space, and has
an address on an enabled channel; the sender is not told of their own notice."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from ..classification.channel_policy import talkgroup_may_carry
from ..classification.policy import Action, decide, space_role
from ..domain.audit import AuditRecord
from ..domain.codes import Code
from ..domain.errors import Forbidden, NotFound
from ..domain.events import EventKind
from ..domain.levels import Classification, EntryKind, SpaceRole
from ..domain.model import Audience, Entry, ItemLabel, Principal, Space
from ..domain.notifications import Channel, NotifyEvent
from ..domain.outbox import Address, Attempt, DeliveryRecord, OutboxDraft, Recipient
from ..domain.records import EntryLabelFilter
from .entries import Entries
from .idempotency import fingerprint, previous_result, remember, retrying_on_race
from .outbox import Wake, enqueue, no_wake, recipients_for, space_link
from .ports import Clock, EventPublisher, Transaction, UnitOfWork
from .spaces import visible_space
from .write_checks import audience_for_write, check_audience_cleared

NOTICE_SUBJECT = "Informationsunderrättelse"
NOTICE_TTL = timedelta(hours=24)


class Notices:
    def __init__(self, store: UnitOfWork, clock: Clock, publisher: EventPublisher,
                 entries: Entries, *, enabled: frozenset[Channel] = frozenset(Channel),
                 wake: Wake = no_wake, ttl: timedelta = NOTICE_TTL,
                 rakel_sekretess: bool = False) -> None:
        self.store = store
        self.clock = clock
        self.publisher = publisher
        self.entries = entries
        self.enabled = enabled
        self.wake = wake
        self.ttl = ttl
        self.rakel_sekretess = rakel_sekretess  # WIS_RAKEL_SEKRETESS: approved for sekretess

    async def post(self, principal: Principal, space_id: str, *,
                   classification: Classification, body: str,
                   audience: Sequence[str] | None = None,
                   idempotency_key: str | None = None) -> Entry:
        print_ = fingerprint("notice.create", [space_id, classification.value, body,
                                               sorted(audience) if audience is not None
                                               else None])

        async def attempt() -> Entry | str:
            now = self.clock()
            async with self.store.write() as tx:
                space = await visible_space(tx, principal, space_id)
                earlier = await previous_result(tx, principal.user_id, idempotency_key, print_)
                if earlier is not None:
                    return earlier
                chosen = audience_for_write(principal, space, Action.WRITE, classification,
                                            audience)
                await check_audience_cleared(tx, [(classification, chosen)], principal=principal)
                notice_id = str(uuid.uuid4())
                label = ItemLabel(classification, chosen, principal.actor_id)
                recipients = await recipients_for(tx, space, label, NotifyEvent.NOTICE,
                                                  self.enabled, now,
                                                  exclude=principal.user_id)
                talkgroup = await self._talkgroup(tx, space, classification, chosen)
                if talkgroup is not None:
                    recipients.append(talkgroup)
                key = await tx.entries.new_key(classification)
                await remember(tx, principal.user_id, idempotency_key, print_, "notice",
                               notice_id, now)
                await enqueue(tx, OutboxDraft(
                    kind="notice", classification=classification, subject=NOTICE_SUBJECT,
                    body=body, expires_at=now + self.ttl, space_id=space.id,
                    ref_id=notice_id, audience=chosen, author_actor_id=principal.actor_id,
                    exercise=space.is_exercise, link=space_link(space.id),
                    created_by=principal.user_id, recipients=tuple(recipients)), now, space)
                seq = await tx.spaces.append_event(space.id, EventKind.NOTICE_CREATED, notice_id,
                                                 now)
                notice = Entry(notice_id, space.id, seq, EntryKind.NOTICE, classification,
                               body, chosen, principal.user_id, principal.actor_id,
                               principal.display_name, created_at=now,
                               exercise=space.is_exercise)
                await tx.entries.add(notice, key)
                await tx.audit.append(AuditRecord(
                    "notice.create", user_id=principal.user_id, actor_id=principal.actor_id,
                    target_type="entry", target_id=notice_id, space_id=space.id,
                    detail={"seq": seq, "level": classification.value,
                            "audience": sorted(chosen) if chosen is not None else "all",
                            "recipients": len(recipients)}), now)
            self.publisher.space_changed(space.id, seq)
            self.wake()
            return notice

        outcome = await retrying_on_race(attempt)
        if isinstance(outcome, Entry):
            return outcome
        return await self.entries.get(principal, space_id, outcome)

    async def _talkgroup(self, tx: Transaction, space: Space, level: Classification,
                         audience: Audience) -> Recipient | None:
        """The space's linked Rakel talkgroup as one more recipient, when the gateway is on
        and the pure policy lets the level go to a talkgroup; only for a notice meant for
        every participant (a talkgroup is no audience that läsrätt can narrow)."""
        if Channel.RAKEL not in self.enabled or audience is not None:
            return None
        if not talkgroup_may_carry(level, sekretess_approved=self.rakel_sekretess):
            return None
        gssi = await tx.spaces.rakel_gssi(space.id)
        if gssi is None:
            return None
        return Recipient((Attempt(Channel.RAKEL, Address(to=f"gssi:{gssi}"), 0),),
                         actor_id=space.owner_actor_id, ref=f"gssi:{gssi}")

    async def page(self, principal: Principal, space_id: str, *, after: int | None = None,
                   before: int | None = None, limit: int = 100, descending: bool = False
                   ) -> tuple[list[Entry], int]:
        return await self.entries.page(principal, space_id, after=after, before=before,
                                       limit=limit, descending=descending,
                                       labels=EntryLabelFilter(kind=EntryKind.NOTICE))

    async def deliveries(self, principal: Principal, notice_id: str) -> list[DeliveryRecord]:
        """The delivery ledger of a notice, for its sender and the space's editors (others
        who may read the notice get 403; anybody else 404)."""
        async with self.store.read() as tx:
            found = (await tx.entries.labels([notice_id])).get(notice_id)
            if found is None:
                raise NotFound("no such notice")
            space_id, label = found
            space = await visible_space(tx, principal, space_id)
            if not decide(principal, Action.READ, space, label):
                raise NotFound("no such notice")
            notice = await tx.entries.get(space.id, notice_id, lambda _label: True)
            if notice is None or notice.kind is not EntryKind.NOTICE:
                raise NotFound("no such notice")
            if notice.author_id != principal.user_id \
                    and space_role(principal, space) is not SpaceRole.EDITOR:
                raise Forbidden("only the sender and the space's editors see the deliveries",
                                code=Code.NOT_NOTICE_SENDER)
            message_id = await tx.outbox.message_of(notice_id, "notice")
            return await tx.outbox.deliveries_of([message_id] if message_id else [])
