"""What arrives over Rakel, into the product: a supervised loop over the gateway's inbound
events, reaching the services through narrow ports.

    gateway.inbound() ─▶ InboundSds "OK <code>" / "NEJ <code>" ─▶ Callouts.rakel_reply
                                                                    ─▶ acknowledge(RAKEL_SDS)
                       ─▶ any other InboundSds ─▶ Unrouted (audited without content, counted)
                       ─▶ DeliveryUpdate ─▶ the delivery ledger (delivered / failed)
                       ─▶ InboundStatus ─▶ counted (what a status value means is agreed
                                           per organisation; nothing acts on it yet)

Logs and audit records never carry an SDS's text, and no sender address either.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from ..channels.rakel.gateway import DeliveryUpdate, InboundSds, InboundStatus, RakelEvent
from ..channels.sms_webhooks import Reply, ReplyKind, parse_reply
from ..domain.audit import AuditRecord
from ..domain.notifications import Channel
from ..storage.unit import Store
from .ports import Clock

log = structlog.get_logger("wis.rakel")


class Replies(Protocol):
    async def rakel_reply(self, sender: str | None, destination: str, reply: Reply
                          ) -> str: ...


class Ledger(Protocol):
    async def delivery_report(self, channel: Channel, provider_ref: str, delivered: bool, *,
                              delivery_id: str | None = None) -> bool: ...


class Events(Protocol):
    def inbound(self) -> AsyncIterator[RakelEvent]: ...


@dataclass(slots=True)
class InboundCounts:
    """For /readyz and the admins (never content)."""

    acknowledgements: int = 0
    replies_unmatched: int = 0
    unrouted: int = 0
    delivery_updates: int = 0
    deliveries_unknown: int = 0  # a report for no delivery row of the rakel channel
    statuses: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"acknowledgements": self.acknowledgements,
                "replies_unmatched": self.replies_unmatched, "unrouted": self.unrouted,
                "delivery_updates": self.delivery_updates,
                "deliveries_unknown": self.deliveries_unknown, "statuses": self.statuses}


class RakelInbound:
    def __init__(self, events: Events, replies: Replies, ledger: Ledger, store: Store,
                 clock: Clock) -> None:
        self.events, self.replies, self.ledger = events, replies, ledger
        self.store, self.clock = store, clock
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
        return await self._unrouted(sds)

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
