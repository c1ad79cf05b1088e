"""The outbox and the delivery ledger. Claiming takes a lease (`claimed_until`): on
PostgreSQL with `FOR UPDATE SKIP LOCKED`, so several processes share the rows without
waiting on each other; on SQLite the single writer (BEGIN IMMEDIATE) makes the claim atomic.
A process killed after sending but before recording leaves the lease to run out; the row is
then claimed again and resent with the same delivery id (the peer can de-duplicate)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..classification.crypto import FieldContext, WrappedKey
from ..domain.levels import Classification
from ..domain.notifications import Channel, DeliveryStatus
from ..domain.outbox import Address, DeliveryRecord, Job, OutboxDraft
from .sealing import Sealer
from .tables import data_keys, deliveries, outbox_messages

Q = DeliveryStatus


def _payload_context(message_id: str, space_id: str | None, level: Classification
                     ) -> FieldContext:
    return FieldContext("outbox_messages", message_id, "payload", space_id or "", level)


def _address_context(delivery_id: str, message_id: str, level: Classification
                     ) -> FieldContext:
    return FieldContext("deliveries", delivery_id, "address", message_id, level)


def _address_json(address: Address) -> str:
    doc: dict[str, str] = {}
    if address.to is not None:
        doc["to"] = address.to
    if address.preference is not None:
        doc["preference"] = address.preference.value
    if address.push_subscription is not None:
        doc["push"] = address.push_subscription
    return json.dumps(doc, separators=(",", ":"))


def _address(text: str) -> Address:
    doc = json.loads(text)
    return Address(doc.get("to"), Channel(doc["preference"]) if "preference" in doc else None,
                   doc.get("push"))


def _record(row: Any) -> DeliveryRecord:
    return DeliveryRecord(
        row.id, row.message_id, row.recipient_user_id, row.recipient_actor_id,
        row.recipient_ref, Channel(row.channel), row.rank, row.status, row.attempts, row.error,
        row.created_at, row.updated_at, row.sent_at, row.delivered_at)


class OutboxRepository:
    def __init__(self, conn: AsyncConnection, sealer: Sealer) -> None:
        self.conn = conn
        self.sealer = sealer

    @property
    def _postgres(self) -> bool:
        return self.conn.dialect.name == "postgresql"

    async def add(self, draft: OutboxDraft, now: datetime) -> tuple[str, list[str]]:
        """Write the message and a delivery per attempt of each recipient; returns the
        message id and the ids of the deliveries queued at once (rank 0)."""
        message_id = str(uuid.uuid4())
        key = await self.sealer.new_key(self.conn, draft.classification)
        payload = json.dumps({"subject": draft.subject, "body": draft.body, "link": draft.link},
                             ensure_ascii=False, separators=(",", ":"))
        await self.conn.execute(outbox_messages.insert().values(
            id=message_id, kind=draft.kind, space_id=draft.space_id, ref_id=draft.ref_id,
            classification=draft.classification.value,
            audience=sorted(draft.audience) if draft.audience is not None else None,
            author_actor_id=draft.author_actor_id, exercise=draft.exercise, data_key_id=key.id,
            payload_ct=self.sealer.seal(key, _payload_context(
                message_id, draft.space_id, draft.classification), payload),
            created_by=draft.created_by, created_at=now, expires_at=draft.expires_at))
        rows: list[dict[str, Any]] = []
        queued: list[str] = []
        for recipient in draft.recipients:
            for attempt in recipient.attempts:
                delivery_id = str(uuid.uuid4())
                first = attempt.rank == 0
                rows.append({
                    "id": delivery_id, "message_id": message_id,
                    "recipient_user_id": recipient.user_id,
                    "recipient_actor_id": recipient.actor_id,
                    "recipient_ref": recipient.ref, "channel": attempt.channel.value,
                    "rank": attempt.rank,
                    "address_ct": self.sealer.seal(key, _address_context(
                        delivery_id, message_id, draft.classification),
                        _address_json(attempt.address)),
                    "status": (Q.QUEUED if first else Q.STANDBY).value, "attempts": 0,
                    "next_attempt_at": max(now, recipient.not_before or now) if first else now,
                    "created_at": now, "updated_at": now,
                })
                if first:
                    queued.append(delivery_id)
        for start in range(0, len(rows), 500):
            await self.conn.execute(deliveries.insert(), rows[start : start + 500])
        return message_id, queued

    async def refuse_new(self, delivery_ids: Sequence[str], reason: str, now: datetime) -> None:
        if delivery_ids:
            await self.conn.execute(update(deliveries).where(
                deliveries.c.id.in_(list(delivery_ids))).values(
                status=Q.REFUSED.value, error=reason, updated_at=now))

    async def claim(self, worker: str, now: datetime, until: datetime, limit: int, *,
                    message_id: str | None = None) -> list[Job]:
        """Take up to `limit` due rows for `worker` until `until`; each claim counts as an
        attempt. Rows claimed by a live worker are skipped, rows whose lease ran out (their
        worker died) are taken over. `message_id`: only that message's rows."""
        due = (select(deliveries.c.id).where(
            deliveries.c.status == Q.QUEUED.value, deliveries.c.next_attempt_at <= now,
            or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until <= now))
            .order_by(deliveries.c.next_attempt_at).limit(limit))
        if message_id is not None:
            due = due.where(deliveries.c.message_id == message_id)
        if self._postgres:
            due = due.with_for_update(skip_locked=True)
        claimed = (await self.conn.execute(
            update(deliveries).where(deliveries.c.id.in_(due.scalar_subquery()))
            .values(claimed_until=until, claimed_by=worker,
                    attempts=deliveries.c.attempts + 1, updated_at=now)
            .returning(deliveries.c.id))).scalars().all()
        if not claimed:
            return []
        return await self._jobs(list(claimed))

    async def job(self, delivery_id: str) -> Job | None:
        """One delivery as the dispatcher saw it (a late delivery report's failure
        listeners need its kind and recipient)."""
        found = await self._jobs([delivery_id])
        return found[0] if found else None

    async def _jobs(self, ids: list[str]) -> list[Job]:
        rows = (await self.conn.execute(
            select(deliveries, outbox_messages.c.kind, outbox_messages.c.space_id,
                   outbox_messages.c.classification, outbox_messages.c.audience,
                   outbox_messages.c.author_actor_id, outbox_messages.c.exercise,
                   outbox_messages.c.expires_at)
            .join(outbox_messages, outbox_messages.c.id == deliveries.c.message_id)
            .where(deliveries.c.id.in_(ids)))).all()
        return [Job(
            id=r.id, message_id=r.message_id, channel=Channel(r.channel), rank=r.rank,
            attempts=r.attempts, kind=r.kind, classification=Classification(r.classification),
            audience=frozenset(r.audience) if r.audience is not None else None,
            author_actor_id=r.author_actor_id, exercise=bool(r.exercise),
            expires_at=r.expires_at, space_id=r.space_id,
            recipient_user_id=r.recipient_user_id, recipient_actor_id=r.recipient_actor_id,
            recipient_ref=r.recipient_ref) for r in rows]

    async def open(self, jobs: Sequence[Job]) -> dict[str, tuple[dict[str, str], Address]]:
        """Payload and address of each job, decrypted (only for jobs about to be sent)."""
        if not jobs:
            return {}
        message_ids = sorted({j.message_id for j in jobs})
        messages = {r.id: r for r in (await self.conn.execute(
            select(outbox_messages.c.id, outbox_messages.c.space_id,
                   outbox_messages.c.classification, outbox_messages.c.payload_ct,
                   data_keys.c.id.label("dk_id"), data_keys.c.level.label("dk_level"),
                   data_keys.c.kek_version.label("dk_version"),
                   data_keys.c.wrapped.label("dk_wrapped"))
            .join(data_keys, data_keys.c.id == outbox_messages.c.data_key_id)
            .where(outbox_messages.c.id.in_(message_ids)))).all()}
        addresses = {r.id: r.address_ct for r in (await self.conn.execute(
            select(deliveries.c.id, deliveries.c.address_ct)
            .where(deliveries.c.id.in_([j.id for j in jobs])))).all()}
        payloads: dict[str, tuple[WrappedKey, dict[str, str]]] = {}
        for m in messages.values():
            key = WrappedKey(m.dk_id, Classification(m.dk_level), m.dk_version, m.dk_wrapped)
            level = Classification(m.classification)
            payloads[m.id] = (key, json.loads(self.sealer.open(
                key, _payload_context(m.id, m.space_id, level), m.payload_ct)))
        result = {}
        for job in jobs:
            key, payload = payloads[job.message_id]
            address = _address(self.sealer.open(key, _address_context(
                job.id, job.message_id, job.classification), addresses[job.id]))
            result[job.id] = (payload, address)
        return result

    async def mark_sent(self, delivery_id: str, *, delivered: bool, provider_ref: str | None,
                        now: datetime) -> None:
        status = Q.DELIVERED if delivered else Q.SENT
        await self.conn.execute(update(deliveries).where(
            deliveries.c.id == delivery_id,
            deliveries.c.status.in_([Q.QUEUED.value, Q.SENT.value])).values(
            status=status.value, provider_ref=provider_ref, claimed_until=None, error=None,
            sent_at=func.coalesce(deliveries.c.sent_at, now),
            delivered_at=now if delivered else None, updated_at=now))

    async def retry_later(self, delivery_id: str, at: datetime, error: str, now: datetime
                          ) -> None:
        await self.conn.execute(update(deliveries).where(
            deliveries.c.id == delivery_id, deliveries.c.status == Q.QUEUED.value).values(
            next_attempt_at=at, claimed_until=None, error=error, updated_at=now))

    async def finish(self, delivery_id: str, status: DeliveryStatus, error: str | None,
                     now: datetime) -> list[str]:
        """End a delivery as failed/expired/refused; a failure fails over to the recipient's
        next rank once nothing of this rank is still under way. Returns queued ids."""
        row = (await self.conn.execute(select(deliveries).where(
            deliveries.c.id == delivery_id))).first()
        if row is None or DeliveryStatus(row.status).final:
            return []
        await self.conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(
            status=status.value, error=error, claimed_until=None, updated_at=now))
        if status is not Q.FAILED:
            return []
        return await self._fail_over(row, now)

    async def _fail_over(self, row: Any, now: datetime) -> list[str]:
        same = and_(deliveries.c.message_id == row.message_id,
                    _same(deliveries.c.recipient_user_id, row.recipient_user_id),
                    _same(deliveries.c.recipient_ref, row.recipient_ref))
        alive = (await self.conn.execute(select(deliveries.c.id).where(
            same, deliveries.c.rank == row.rank,
            deliveries.c.status.in_([Q.QUEUED.value, Q.SENT.value, Q.DELIVERED.value]))
            .limit(1))).first()
        if alive is not None:
            return []
        nxt = (await self.conn.execute(select(func.min(deliveries.c.rank)).where(
            same, deliveries.c.rank > row.rank,
            deliveries.c.status == Q.STANDBY.value))).scalar()
        if nxt is None:
            return []
        ids = (await self.conn.execute(
            update(deliveries).where(same, deliveries.c.rank == nxt,
                                     deliveries.c.status == Q.STANDBY.value)
            .values(status=Q.QUEUED.value, next_attempt_at=now, updated_at=now)
            .returning(deliveries.c.id))).scalars().all()
        return list(ids)

    async def by_provider_ref(self, channel: Channel, provider_ref: str) -> str | None:
        row = (await self.conn.execute(select(deliveries.c.id).where(
            deliveries.c.channel == channel.value,
            deliveries.c.provider_ref == provider_ref))).first()
        return row.id if row else None

    async def mark_delivered(self, delivery_id: str, now: datetime) -> None:
        await self.conn.execute(update(deliveries).where(
            deliveries.c.id == delivery_id,
            deliveries.c.status.in_([Q.QUEUED.value, Q.SENT.value])).values(
            status=Q.DELIVERED.value, delivered_at=now, claimed_until=None, updated_at=now,
            # a report can overtake the send's own answer (Rakel): it was sent, too
            sent_at=func.coalesce(deliveries.c.sent_at, now)))

    async def in_flight(self, message_id: str, now: datetime) -> bool:
        """Whether a delivery of the message is queued and not yet tried, or being sent
        under a live lease (its outcome is not recorded yet)."""
        row = (await self.conn.execute(select(deliveries.c.id).where(
            deliveries.c.message_id == message_id, deliveries.c.status == Q.QUEUED.value,
            or_(deliveries.c.attempts == 0, deliveries.c.claimed_until > now)).limit(1))).first()
        return row is not None

    async def message_of(self, ref_id: str, kind: str) -> str | None:
        row = (await self.conn.execute(select(outbox_messages.c.id).where(
            outbox_messages.c.ref_id == ref_id, outbox_messages.c.kind == kind)
            .order_by(outbox_messages.c.created_at).limit(1))).first()
        return row.id if row else None

    async def deliveries_of(self, message_ids: Sequence[str]) -> list[DeliveryRecord]:
        if not message_ids:
            return []
        rows = await self.conn.execute(select(deliveries).where(
            deliveries.c.message_id.in_(list(message_ids)))
            .order_by(deliveries.c.recipient_user_id, deliveries.c.recipient_ref,
                      deliveries.c.rank, deliveries.c.channel, deliveries.c.id))
        return [_record(r) for r in rows]

    async def of_refs(self, ref_ids: Sequence[str], kind: str) -> list[DeliveryRecord]:
        """The ledger of the messages of `kind` written for these items (e.g. call-outs),
        oldest first: which channel tried each recipient, and what became of it."""
        if not ref_ids:
            return []
        rows = await self.conn.execute(
            select(deliveries).join(outbox_messages,
                                    outbox_messages.c.id == deliveries.c.message_id)
            .where(outbox_messages.c.ref_id.in_(list(ref_ids)), outbox_messages.c.kind == kind)
            .order_by(deliveries.c.created_at, deliveries.c.rank, deliveries.c.id))
        return [_record(r) for r in rows]

    async def delivery(self, delivery_id: str) -> DeliveryRecord | None:
        row = (await self.conn.execute(select(deliveries).where(
            deliveries.c.id == delivery_id))).first()
        return _record(row) if row else None

    async def pending(self) -> int:
        """Rows still to be sent (queued), for tests and the bench."""
        return int((await self.conn.execute(select(func.count()).select_from(deliveries).where(
            deliveries.c.status == Q.QUEUED.value))).scalar_one())

    async def next_due(self) -> datetime | None:
        """The earliest moment a queued row becomes claimable (its time, or its lease)."""
        free = (await self.conn.execute(select(func.min(deliveries.c.next_attempt_at)).where(
            deliveries.c.status == Q.QUEUED.value,
            deliveries.c.claimed_until.is_(None)))).scalar()
        leased = (await self.conn.execute(select(func.min(deliveries.c.claimed_until)).where(
            deliveries.c.status == Q.QUEUED.value))).scalar()
        moments: list[datetime] = [m for m in (free, leased) if m is not None]
        return min(moments) if moments else None


def _same(column: Any, value: str | None) -> Any:
    return column.is_(None) if value is None else column == value
