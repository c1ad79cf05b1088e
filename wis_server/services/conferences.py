"""Phone conferences booked from a space (samverkanskonferens on a dial-in line): book, list,
read, end; and the records of who joined, when, and for how long, as events in the space.

    book (editor) ── one transaction ──▶ a free line + a fresh PIN (sealed) + event + audit
    the phone webhooks (services/phone.py) ──▶ joined / left ──▶ event
    end (editor) ──▶ line free again, open participations closed ──▶ event

A booking is `public` and for every participant of the space (they dial in with its PIN);
reads go through `classification.decide` like every other item.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence

from ..channels.phone.settings import PhoneSettings
from ..classification.policy import Action, decide
from ..domain.audit import AuditRecord
from ..domain.callouts import Conference
from ..domain.codes import Code
from ..domain.conferences import Booking, LineTaken, Participant, free_line
from ..domain.errors import Conflict, Forbidden, NotFound, WisError
from ..domain.events import EventKind
from ..domain.levels import Classification
from ..domain.model import ItemLabel, Principal, Space
from .ports import Clock, EventPublisher, Transaction, UnitOfWork
from .spaces import visible_space

PIN_DIGITS = 6


class PhoneDisabled(WisError):
    code = Code.PHONE_DISABLED
    status = 404


def label(booking: Booking) -> ItemLabel:
    return ItemLabel(Classification.PUBLIC, None, booking.owner_actor_id)


class Conferences:
    def __init__(self, store: UnitOfWork, clock: Clock, publisher: EventPublisher,
                 settings: PhoneSettings | None) -> None:
        self.store = store
        self.clock = clock
        self.publisher = publisher
        self.settings = settings

    def _check_book(self, principal: Principal, space: Space) -> None:
        if not decide(principal, Action.CALL_OUT, space,
                      ItemLabel(Classification.PUBLIC, None, principal.actor_id)):
            raise Forbidden("only editors in the space book and end its conferences",
                            code=Code.SPACE_ROLE_TOO_LOW)

    async def book(self, principal: Principal, space_id: str) -> Booking:
        if self.settings is None:
            raise PhoneDisabled("phone conferences are not enabled")
        numbers = self.settings.numbers
        for _ in range(len(numbers)):
            now = self.clock()
            try:
                async with self.store.write() as tx:
                    space = await visible_space(tx, principal, space_id)
                    self._check_book(principal, space)
                    line = free_line(numbers, await tx.conferences.held_lines())
                    if line is None:
                        raise Conflict("every conference line is in use",
                                       code=Code.NO_FREE_CONFERENCE_LINE)
                    booking = Booking(str(uuid.uuid4()), space.id, principal.actor_id, line,
                                      f"{secrets.randbelow(10 ** PIN_DIGITS):0{PIN_DIGITS}d}",
                                      principal.user_id, now,
                                      booked_by_name=principal.display_name)
                    await tx.conferences.add(booking)
                    seq = await tx.spaces.append_event(space.id, EventKind.CONFERENCE_BOOKED,
                                                       booking.id, now)
                    await tx.audit.append(AuditRecord(
                        "conference.book", user_id=principal.user_id,
                        actor_id=principal.actor_id, target_type="conference",
                        target_id=booking.id, space_id=space.id,
                        detail={"seq": seq, "line": numbers.index(line) + 1}), now)
            except LineTaken:
                continue  # another booking took that line at the same moment: the next one
            self.publisher.space_changed(space.id, seq)
            return booking
        raise Conflict("every conference line is in use", code=Code.NO_FREE_CONFERENCE_LINE)

    async def _visible(self, tx: Transaction, principal: Principal, conference_id: str
                       ) -> tuple[Space, Booking]:
        booking = await tx.conferences.get(conference_id)
        if booking is None:
            raise NotFound("no such conference")
        space = await tx.spaces.get(booking.space_id, content=False)
        if space is None or not decide(principal, Action.READ, space, label(booking)):
            raise NotFound("no such conference")
        return space, booking

    async def get(self, principal: Principal, conference_id: str) -> Booking:
        async with self.store.read() as tx:
            return (await self._visible(tx, principal, conference_id))[1]

    async def for_space(self, principal: Principal, space_id: str) -> list[Booking]:
        async with self.store.read() as tx:
            space = await visible_space(tx, principal, space_id)
            return [b for b in await tx.conferences.for_space(space.id)
                    if decide(principal, Action.READ, space, label(b))]

    async def end(self, principal: Principal, conference_id: str) -> Booking:
        now = self.clock()
        async with self.store.write() as tx:
            space, booking = await self._visible(tx, principal, conference_id)
            self._check_book(principal, space)
            if not await tx.conferences.end(booking.id, now):
                return booking  # already ended: idempotent
            seq = await tx.spaces.append_event(space.id, EventKind.CONFERENCE_ENDED,
                                               booking.id, now)
            await tx.audit.append(AuditRecord(
                "conference.end", user_id=principal.user_id, actor_id=principal.actor_id,
                target_type="conference", target_id=booking.id, space_id=space.id,
                detail={"seq": seq, "participants": len(booking.participants)}), now)
            ended = await tx.conferences.get(booking.id)
        self.publisher.space_changed(space.id, seq)
        assert ended is not None
        return ended

    async def details(self, principal: Principal, space_id: str, conference_id: str
                      ) -> Conference:
        """A call-out's conference details from a booking of the same space."""
        booking = await self.get(principal, conference_id)
        if booking.space_id != space_id:
            raise NotFound("no such conference")
        if not booking.active:
            raise Conflict("the conference has ended", code=Code.CONFERENCE_ENDED)
        return Conference(booking.booked_at, booking.number, booking.pin)

    # --- what the phone webhooks record -----------------------------------------------

    async def joined(self, booking: Booking, call_id: str, caller: str,
                     actor_id: str | None) -> None:
        now = self.clock()
        async with self.store.write() as tx:
            current = await tx.conferences.get(booking.id)
            if current is None or not current.active:
                return
            open_ = current.participant(call_id)
            if open_ is not None and open_.left_at is None:
                return  # a repeated callback
            await tx.conferences.join(Participant(str(uuid.uuid4()), call_id, caller,
                                                  actor_id, now), booking.id)
            seq = await tx.spaces.append_event(booking.space_id, EventKind.CONFERENCE_JOINED,
                                               booking.id, now)
        self.publisher.space_changed(booking.space_id, seq)

    async def left(self, call_id: str, bookings: Sequence[str] | None = None, *,
                   booking_id: str | None = None) -> bool:
        """The call left its conference (TwiML participant-leave; 46elks hang-up)."""
        now = self.clock()
        async with self.store.write() as tx:
            ids = [booking_id] if booking_id else list(bookings or ())
            for booking in await tx.conferences.by_ids(ids):
                open_ = booking.participant(call_id)
                if open_ is None or open_.left_at is not None:
                    continue
                await tx.conferences.leave(open_.id, now)
                seq = await tx.spaces.append_event(booking.space_id,
                                                   EventKind.CONFERENCE_LEFT, booking.id, now)
                space_id = booking.space_id
                break
            else:
                return False
        self.publisher.space_changed(space_id, seq)
        return True

    async def active_on(self, number: str) -> Booking | None:
        async with self.store.read() as tx:
            return await tx.conferences.active_on(number)

    async def active(self) -> list[Booking]:
        async with self.store.read() as tx:
            held = await tx.conferences.held_lines()
            return [b for n in held if (b := await tx.conferences.active_on(n))]
