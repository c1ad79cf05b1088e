"""Call-outs, their targets (summoned actors) and contact points, and saved call-out lists.
The message and conference details are sealed at the call-out's level (bound to its row,
space, owner and creation time); labels and the ladder's state stay plain."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..classification.crypto import FieldContext, WrappedKey
from ..domain.callouts import (
    AckChannel,
    Callout,
    CalloutStatus,
    Conference,
    Contact,
    ContactDelivery,
    Target,
    TargetState,
)
from ..domain.levels import Classification, ContactKind
from ..domain.model import ItemLabel
from ..domain.records import CalloutList, CodeMatch
from .sealing import Sealer
from .tables import (
    callout_contacts,
    callout_lists,
    callout_targets,
    callouts,
    deliveries,
    outbox_messages,
    users,
)


def _context(row_id: str, field: str, space_id: str, level: Classification, owner: str,
             created_at: datetime) -> FieldContext:
    return FieldContext("callouts", row_id, field, space_id, level, bound=(
        owner, created_at.astimezone(UTC).isoformat()))


def _conference_doc(conf: Conference) -> str:
    return json.dumps({"start_at": conf.start_at.astimezone(UTC).isoformat()
                       if conf.start_at else None, "dial_in": conf.dial_in, "pin": conf.pin})


def _conference(text: str) -> Conference:
    doc = json.loads(text)
    start = datetime.fromisoformat(doc["start_at"]) if doc.get("start_at") else None
    return Conference(start, doc.get("dial_in", ""), doc.get("pin", ""))


def _target_values(t: Target) -> dict[str, Any]:
    return {"state": t.state.value, "stage": t.stage, "started_at": t.started_at,
            "stage_at": t.stage_at, "answered_at": t.answered_at, "answered_by": t.answered_by,
            "answer_contact_id": t.answer_contact_id,
            "answer_channel": t.answer_channel.value if t.answer_channel else None,
            "overdue_at": t.overdue_at, "missing_reported_at": t.missing_reported_at}


def _contact_values(c: Contact) -> dict[str, Any]:
    return {"notified_at": c.notified_at, "notified_count": c.notified_count,
            "delivered_at": c.delivered_at}


class CalloutRepository:
    def __init__(self, conn: AsyncConnection, sealer: Sealer) -> None:
        self.conn = conn
        self.sealer = sealer

    async def new_key(self, level: Classification) -> WrappedKey:
        return await self.sealer.new_key(self.conn, level)

    async def add(self, callout: Callout, key: WrappedKey, next_due_at: datetime | None
                  ) -> None:
        c = callout
        await self.conn.execute(callouts.insert().values(
            id=c.id, space_id=c.space_id, owner_actor_id=c.owner_actor_id,
            created_by=c.created_by, classification=c.classification.value,
            exercise=c.exercise, status=c.status.value, data_key_id=key.id,
            message_ct=self.sealer.seal(key, _context(
                c.id, "message", c.space_id, c.classification, c.owner_actor_id,
                c.created_at), c.message),
            conference_ct=self.sealer.seal(key, _context(
                c.id, "conference", c.space_id, c.classification, c.owner_actor_id,
                c.created_at), _conference_doc(c.conference)),
            created_at=c.created_at, updated_at=c.created_at, deadline_at=c.deadline_at,
            next_due_at=next_due_at))
        await self.add_targets(c.id, c.targets, c.contacts, start_position=0)

    async def add_targets(self, callout_id: str, targets: Sequence[Target],
                          contacts: Sequence[Contact], start_position: int) -> None:
        if targets:
            await self.conn.execute(callout_targets.insert(), [
                {"callout_id": callout_id, "actor_id": t.actor_id,
                 "position": start_position + i, **_target_values(t)}
                for i, t in enumerate(targets)])
        if contacts:
            await self.conn.execute(callout_contacts.insert(), [
                {"id": k.id, "callout_id": callout_id, "actor_id": k.actor_id,
                 "position": k.position, "kind": k.kind.value, "address": k.address,
                 "label": k.label, "code": k.code, **_contact_values(k)} for k in contacts])

    async def save(self, before: Callout, after: Callout, next_due_at: datetime | None,
                   now: datetime) -> None:
        """Write what changed between two versions of the same call-out."""
        old_targets = {t.actor_id: t for t in before.targets}
        for t in after.targets:
            if old_targets.get(t.actor_id) != t:
                await self.conn.execute(update(callout_targets).where(
                    callout_targets.c.callout_id == after.id,
                    callout_targets.c.actor_id == t.actor_id).values(**_target_values(t)))
        old_contacts = {c.id: c for c in before.contacts}
        for c in after.contacts:
            if c.id in old_contacts and old_contacts[c.id] != c:
                await self.conn.execute(update(callout_contacts).where(
                    callout_contacts.c.id == c.id).values(**_contact_values(c)))
        await self.conn.execute(update(callouts).where(callouts.c.id == after.id).values(
            status=after.status.value, updated_at=now, next_due_at=next_due_at))

    async def label(self, callout_id: str, *, lock: bool = False
                    ) -> tuple[str, ItemLabel] | None:
        """The space and access label of a call-out, decrypting nothing. With `lock`, the
        row is locked until commit (PostgreSQL), so answers and the escalation loop
        serialise per call-out across processes."""
        query = select(callouts.c.space_id, callouts.c.classification,
                       callouts.c.owner_actor_id).where(callouts.c.id == callout_id)
        if lock:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).first()
        if row is None:
            return None
        level = Classification(row.classification)
        audience = None
        if level is not Classification.PUBLIC:
            actors = (await self.conn.execute(select(callout_targets.c.actor_id).where(
                callout_targets.c.callout_id == callout_id))).scalars().all()
            audience = frozenset({row.owner_actor_id, *actors})
        return row.space_id, ItemLabel(level, audience, row.owner_actor_id)

    async def get(self, callout_id: str, *, content: bool = True) -> Callout | None:
        found = await self._load([callout_id], content=content)
        return found[0] if found else None

    async def by_ids(self, ids: Sequence[str], *, content: bool = True) -> list[Callout]:
        return await self._load(list(dict.fromkeys(ids)), content=content)

    async def for_space(self, space_id: str, limit: int = 100) -> list[Callout]:
        ids = (await self.conn.execute(select(callouts.c.id).where(
            callouts.c.space_id == space_id).order_by(callouts.c.created_at.desc())
            .limit(limit))).scalars().all()
        found = {c.id: c for c in await self._load(list(ids))}
        return [found[i] for i in ids if i in found]

    async def due(self, now: datetime, limit: int = 100) -> list[str]:
        rows = await self.conn.execute(select(callouts.c.id).where(
            callouts.c.status == CalloutStatus.OPEN.value, callouts.c.next_due_at.is_not(None),
            callouts.c.next_due_at <= now).order_by(callouts.c.next_due_at).limit(limit))
        return list(rows.scalars().all())

    async def by_code(self, code: str, address: str) -> list[CodeMatch]:
        """Open call-outs' contact points with this code and address (newest first)."""
        rows = await self.conn.execute(select(
            callout_contacts.c.id, callout_contacts.c.callout_id, callouts.c.space_id,
        ).join(callouts, callouts.c.id == callout_contacts.c.callout_id).where(
            callout_contacts.c.code == code, callout_contacts.c.address == address,
            callouts.c.status == CalloutStatus.OPEN.value,
        ).order_by(callouts.c.created_at.desc()))
        return [CodeMatch(r.callout_id, r.space_id, r.id) for r in rows]

    async def open_by_address(self, address: str) -> list[CodeMatch]:
        """Open call-outs' contact points with this address whose actor has not answered
        yet (newest first): a phone call from that number answers one of them."""
        rows = await self.conn.execute(select(
            callout_contacts.c.id, callout_contacts.c.callout_id, callouts.c.space_id,
        ).join(callouts, callouts.c.id == callout_contacts.c.callout_id).join(
            callout_targets, (callout_targets.c.callout_id == callout_contacts.c.callout_id)
            & (callout_targets.c.actor_id == callout_contacts.c.actor_id)).where(
            callout_contacts.c.address == address,
            callouts.c.status == CalloutStatus.OPEN.value,
            callout_targets.c.state.not_in((TargetState.ACKNOWLEDGED.value,
                                            TargetState.DECLINED.value)),
        ).order_by(callouts.c.created_at.desc()))
        return [CodeMatch(r.callout_id, r.space_id, r.id) for r in rows]

    async def open_by_code(self, code: str) -> list[CodeMatch]:
        """Open call-outs' contact points with this code, from any address (newest first)."""
        rows = await self.conn.execute(select(
            callout_contacts.c.id, callout_contacts.c.callout_id, callouts.c.space_id,
        ).join(callouts, callouts.c.id == callout_contacts.c.callout_id).where(
            callout_contacts.c.code == code, callouts.c.status == CalloutStatus.OPEN.value,
        ).order_by(callouts.c.created_at.desc()))
        return [CodeMatch(r.callout_id, r.space_id, r.id) for r in rows]

    async def contact_ref(self, contact_id: str) -> CodeMatch | None:
        row = (await self.conn.execute(select(
            callout_contacts.c.id, callout_contacts.c.callout_id, callouts.c.space_id,
        ).join(callouts, callouts.c.id == callout_contacts.c.callout_id).where(
            callout_contacts.c.id == contact_id))).first()
        return CodeMatch(row.callout_id, row.space_id, row.id) if row else None

    async def _load(self, ids: list[str], *, content: bool = True) -> list[Callout]:
        if not ids:
            return []
        rows = (await self.conn.execute(
            select(callouts, users.c.display_name.label("creator_name"))
            .outerjoin(users, users.c.id == callouts.c.created_by)
            .where(callouts.c.id.in_(ids)))).all()
        if not rows:
            return []
        found = [r.id for r in rows]
        targets: dict[str, list[tuple[int, Target]]] = {i: [] for i in found}
        answerers = set()
        trows = (await self.conn.execute(select(callout_targets).where(
            callout_targets.c.callout_id.in_(found)))).all()
        answerers = {t.answered_by for t in trows if t.answered_by}
        names = {} if not answerers else {r.id: r.display_name for r in await self.conn.execute(
            select(users.c.id, users.c.display_name).where(users.c.id.in_(list(answerers))))}
        for t in trows:
            targets[t.callout_id].append((t.position, Target(
                actor_id=t.actor_id, started_at=t.started_at, stage=t.stage,
                stage_at=t.stage_at, state=TargetState(t.state), answered_at=t.answered_at,
                answered_by=t.answered_by, answered_by_name=names.get(t.answered_by, "")
                if t.answered_by else "", answer_contact_id=t.answer_contact_id,
                answer_channel=AckChannel(t.answer_channel) if t.answer_channel else None,
                overdue_at=t.overdue_at, missing_reported_at=t.missing_reported_at)))
        contacts: dict[str, list[Contact]] = {i: [] for i in found}
        ledger = await self._ledger(found)
        for k in await self.conn.execute(select(callout_contacts).where(
                callout_contacts.c.callout_id.in_(found))):
            contacts[k.callout_id].append(Contact(
                id=k.id, actor_id=k.actor_id, position=k.position, kind=ContactKind(k.kind),
                address=k.address, code=k.code, label=k.label, notified_at=k.notified_at,
                notified_count=k.notified_count, delivered_at=k.delivered_at,
                delivery=ledger.get(k.id)))
        keys = await self.sealer.keys(self.conn, [r.data_key_id for r in rows]) \
            if content else {}
        result = []
        for r in rows:
            level = Classification(r.classification)
            message, conference = "", Conference()
            if content:
                key = keys[r.data_key_id]
                message = self.sealer.open(key, _context(
                    r.id, "message", r.space_id, level, r.owner_actor_id, r.created_at),
                    r.message_ct)
                conference = _conference(self.sealer.open(key, _context(
                    r.id, "conference", r.space_id, level, r.owner_actor_id, r.created_at),
                    r.conference_ct))
            result.append(Callout(
                id=r.id, space_id=r.space_id, owner_actor_id=r.owner_actor_id,
                created_by=r.created_by, created_at=r.created_at, deadline_at=r.deadline_at,
                classification=level, message=message, conference=conference,
                exercise=r.exercise,
                targets=tuple(t for _, t in sorted(targets[r.id], key=lambda p: p[0])),
                contacts=tuple(sorted(contacts[r.id], key=lambda k: (k.actor_id, k.position))),
                status=CalloutStatus(r.status), created_by_name=r.creator_name or "",
                updated_at=r.updated_at))
        return result

    async def _ledger(self, callout_ids: list[str]) -> dict[str, ContactDelivery]:
        """The latest delivery of each contact point of these call-outs (the ledger)."""
        rows = await self.conn.execute(
            select(deliveries.c.recipient_ref, deliveries.c.channel, deliveries.c.status,
                   deliveries.c.sent_at, deliveries.c.delivered_at, deliveries.c.error)
            .join(outbox_messages, outbox_messages.c.id == deliveries.c.message_id)
            .where(outbox_messages.c.ref_id.in_(callout_ids),
                   outbox_messages.c.kind == "callout",
                   deliveries.c.recipient_ref.is_not(None))
            .order_by(deliveries.c.created_at, deliveries.c.id))
        latest: dict[str, ContactDelivery] = {}
        for r in rows:  # oldest first: the last one wins
            latest[r.recipient_ref] = ContactDelivery(r.channel, r.status, r.sent_at,
                                                      r.delivered_at, r.error)
        return latest

    # --- saved lists ---------------------------------------------------------------------

    async def lists(self, owner_actor_id: str) -> list[CalloutList]:
        rows = await self.conn.execute(select(callout_lists).where(
            callout_lists.c.owner_actor_id == owner_actor_id).order_by(callout_lists.c.name))
        return [_list(r) for r in rows]

    async def get_list(self, list_id: str) -> CalloutList | None:
        row = (await self.conn.execute(select(callout_lists).where(
            callout_lists.c.id == list_id))).first()
        return _list(row) if row else None

    async def list_named(self, owner_actor_id: str, name: str) -> CalloutList | None:
        row = (await self.conn.execute(select(callout_lists).where(
            callout_lists.c.owner_actor_id == owner_actor_id,
            callout_lists.c.name == name))).first()
        return _list(row) if row else None

    async def put_list(self, item: CalloutList, *, new: bool) -> None:
        values = {"owner_actor_id": item.owner_actor_id, "name": item.name,
                  "actor_ids": list(item.actor_ids), "updated_at": item.updated_at}
        if new:
            await self.conn.execute(callout_lists.insert().values(
                id=item.id, created_at=item.created_at, **values))
        else:
            await self.conn.execute(update(callout_lists).where(
                callout_lists.c.id == item.id).values(**values))

    async def delete_list(self, list_id: str) -> None:
        await self.conn.execute(delete(callout_lists).where(callout_lists.c.id == list_id))


def _list(row: Any) -> CalloutList:
    return CalloutList(row.id, row.owner_actor_id, row.name, tuple(row.actor_ids),
                       row.created_at, row.updated_at)
