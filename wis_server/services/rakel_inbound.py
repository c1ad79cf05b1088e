"""What arrives over Rakel, into the product: a supervised loop over the gateway's inbound
events, reaching the services through narrow ports.

    gateway.inbound() ─▶ InboundSds "OK <code>" / "NEJ <code>" ─▶ Callouts.rakel_reply
                                                                    ─▶ acknowledge(RAKEL_SDS)
                       ─▶ any other InboundSds to a talkgroup linked to a space (its
                          `rakel_gssi`), or from a known ISSI (an actor's rakel_issi contact
                          point) whose actor takes part in exactly one linked space
                          ─▶ an `incoming`, public entry there, by the actor's gateway user
                             ("Rakel-SDS från ISSI 2011234 (RTJ NACKA, Nacka kommun): …")
                       ─▶ any other InboundSds ─▶ Unrouted (audited without content, counted)
                       ─▶ DeliveryUpdate ─▶ the delivery ledger (delivered / failed)
                       ─▶ InboundStatus ─▶ counted (what a status value means is agreed
                                           per organisation; nothing acts on it yet)

Logs and audit records never carry an SDS's text, and no sender address either.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from ..channels.rakel.gateway import DeliveryUpdate, InboundSds, InboundStatus, RakelEvent
from ..channels.sms_webhooks import Reply, ReplyKind, parse_reply
from ..domain.audit import AuditRecord
from ..domain.levels import Classification, ContactKind, Role
from ..domain.model import Entry, User
from ..domain.notifications import Channel
from .ports import Clock, UnitOfWork

log = structlog.get_logger("wis.rakel")


class Replies(Protocol):
    async def rakel_reply(self, sender: str | None, destination: str, reply: Reply
                          ) -> str: ...


class Ledger(Protocol):
    async def delivery_report(self, channel: Channel, provider_ref: str, delivered: bool, *,
                              delivery_id: str | None = None) -> bool: ...


class Events(Protocol):
    def inbound(self) -> AsyncIterator[RakelEvent]: ...


class Incoming(Protocol):
    async def post_machine(self, space_id: str, *, author_id: str, author_actor_id: str,
                           author_name: str, body: str, via: str) -> Entry | None: ...


GATEWAY_NAME = "Rakel-gateway"
_GATEWAY_IDS = uuid.UUID("5d3c2a9e-7f61-4b0e-9a55-7a0b6f2c8e11")


def gateway_user_id(actor_id: str) -> str:
    """The per-actor gateway user that authors what arrives over Rakel (stable per actor)."""
    return str(uuid.uuid5(_GATEWAY_IDS, f"rakel-gateway:{actor_id}"))


@dataclass(frozen=True, slots=True)
class Sender:
    actor_id: str
    actor_name: str
    mnemonic: str  # the contact point's label (the terminal's mnemonic), may be ""


def entry_text(sds_sender: str | None, sender: Sender | None, text: str) -> str:
    """What the entry says: who sent it (ISSI, mnemonic, actor), then the text."""
    who = f"ISSI {sds_sender}" if sds_sender else "okänd avsändare"
    if sender is not None:
        named = ", ".join(p for p in (sender.mnemonic, sender.actor_name) if p)
        who += f" ({named})" if named else ""
    return f"Rakel-SDS från {who}: {text}"


@dataclass(slots=True)
class InboundCounts:
    """For /readyz and the admins (never content)."""

    acknowledgements: int = 0
    replies_unmatched: int = 0
    unrouted: int = 0
    entries: int = 0  # SDS that became incoming entries in a linked space
    delivery_updates: int = 0
    deliveries_unknown: int = 0  # a report for no delivery row of the rakel channel
    statuses: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"acknowledgements": self.acknowledgements,
                "replies_unmatched": self.replies_unmatched, "unrouted": self.unrouted,
                "entries": self.entries,
                "delivery_updates": self.delivery_updates,
                "deliveries_unknown": self.deliveries_unknown, "statuses": self.statuses}


class RakelInbound:
    def __init__(self, events: Events, replies: Replies, ledger: Ledger, store: UnitOfWork,
                 clock: Clock, incoming: Incoming | None = None) -> None:
        self.events, self.replies, self.ledger = events, replies, ledger
        self.store, self.clock = store, clock
        self.incoming = incoming
        self.counts = InboundCounts()
        self._handled = asyncio.Condition()

    async def run(self) -> None:
        """Until cancelled; one event at a time, in arrival order."""
        async for event in self.events.inbound():
            await self.handle(event)
            async with self._handled:
                self._handled.notify_all()

    async def wait_until(self, predicate: Callable[[InboundCounts], bool]) -> None:
        """Until the counts (updated after each event's writes commit) satisfy `predicate`
        (tests, the admins' "wait for the next SDS")."""
        async with self._handled:
            await self._handled.wait_for(lambda: predicate(self.counts))

    async def handle(self, event: RakelEvent) -> str:
        if isinstance(event, InboundSds):
            return await self._sds(event)
        if isinstance(event, DeliveryUpdate):
            self.counts.delivery_updates += 1
            if event.outcome not in ("delivered", "failed"):
                return "noted"  # pending / sent over the air: the dispatcher marked it sent
            found = await self.ledger.delivery_report(
                Channel.RAKEL, event.delivery_id, event.outcome == "delivered",
                delivery_id=event.delivery_id)
            if not found:
                self.counts.deliveries_unknown += 1
                return "unknown_delivery"
            return event.outcome
        assert isinstance(event, InboundStatus)
        self.counts.statuses += 1
        log.info("rakel status received")
        return "status"

    async def _sds(self, sds: InboundSds) -> str:
        reply = parse_reply(sds.text)
        if reply.kind in (ReplyKind.ACKNOWLEDGE, ReplyKind.DECLINE):
            outcome = await self.replies.rakel_reply(sds.sender, sds.destination, reply)
            if outcome in ("acknowledged", "declined"):
                self.counts.acknowledgements += 1
            else:
                self.counts.replies_unmatched += 1
            log.info("rakel reply", outcome=outcome)
            return outcome
        if self.incoming is not None and await self._to_entry(sds):
            return "entry"
        return await self._unrouted(sds)

    async def _to_entry(self, sds: InboundSds) -> bool:
        sender, space_id, author_actor = await self._route(sds)
        if space_id is None or author_actor is None:
            return False
        author_id = await self._gateway_user(author_actor)
        assert self.incoming is not None
        entry = await self.incoming.post_machine(
            space_id, author_id=author_id, author_actor_id=author_actor,
            author_name=GATEWAY_NAME, body=entry_text(sds.sender, sender, sds.text),
            via="rakel")
        if entry is None:
            return False
        self.counts.entries += 1
        log.info("rakel SDS became an incoming entry", chars=len(sds.text))
        return True

    async def _route(self, sds: InboundSds) -> tuple[Sender | None, str | None, str | None]:
        """(known sender, space, author's actor): the space linked to the talkgroup the SDS
        was sent to; else, for a known sender, the one linked space its actor takes part
        in. The author is the sender's actor when it takes part, else the space's owner."""
        async with self.store.read() as tx:
            sender = None
            if sds.sender and sds.sender.isdigit():
                for actor in await tx.actors.all():
                    for point in actor.contact_points:
                        if point.kind is ContactKind.RAKEL_ISSI and point.value.isdigit() \
                                and int(point.value) == int(sds.sender):
                            sender = Sender(actor.id, actor.name, point.label)
                            break
                    if sender is not None:
                        break
            space_ids: list[str] = []
            if sds.destination.isdigit():
                space_ids = await tx.spaces.by_rakel_gssi(str(int(sds.destination)))
            if not space_ids and sender is not None:
                linked = await tx.spaces.linked_to_rakel()
                for space_id in sorted(linked):
                    space = await tx.spaces.get(space_id, content=False)
                    if space is not None and sender.actor_id in space.participant_ids:
                        space_ids.append(space_id)
                if len(space_ids) != 1:
                    return sender, None, None  # ambiguous or none: not guessed at
            if not space_ids:
                return sender, None, None
            space = await tx.spaces.get(space_ids[0], content=False)
            if space is None:
                return sender, None, None
            author = sender.actor_id if sender is not None \
                and sender.actor_id in space.participant_ids else space.owner_actor_id
            return sender, space.id, author

    async def _gateway_user(self, actor_id: str) -> str:
        """The actor's gateway user, made on first use: a disabled account (it cannot sign
        in: no usable password, not active) that exists so an entry has an author."""
        user_id = gateway_user_id(actor_id)
        async with self.store.write() as tx:
            if await tx.users.get(user_id) is None:
                await tx.users.add(User(user_id, actor_id, f"rakel-gateway.{actor_id}",
                                        GATEWAY_NAME, Role.READER, Classification.PUBLIC,
                                        active=False), "!no-sign-in", self.clock())
                await tx.audit.append(AuditRecord(
                    "user.gateway_created", actor_id=actor_id, target_type="user",
                    target_id=user_id, detail={"via": "rakel"}), self.clock())
        return user_id

    async def _unrouted(self, sds: InboundSds) -> str:
        """An SDS no space is linked to: not lost silently — an audit record (the admins'
        trail) says one arrived, when, how long, and to which of our addresses it was sent
        (our own ISSI or a talkgroup), never its text nor its sender."""
        async with self.store.write() as tx:
            await tx.audit.append(AuditRecord(
                "rakel.sds_unrouted", outcome="refused", target_type="rakel_sds",
                detail={"reason": "no space linked", "chars": len(sds.text),
                        "parts": sds.parts,
                        "received_at": sds.received_at.isoformat()}), self.clock())
        self.counts.unrouted += 1  # after the commit: a reader of the count finds the record
        log.warning("rakel SDS for no linked space", chars=len(sds.text))
        return "unrouted"
