"""The phone webhooks between the provider and the services: the IVR's lookups, the one
acknowledge() (channel `dtmf`), conference joins and leaves, and call outcomes in the ledger.

    webhook (authenticated by the route) ─▶ CallEvent ─▶ PhoneCalls.handle(hook, step)
      voice   inbound: the line's booking ─▶ ivr.menu
              outbound (?delivery=): the call-out (via the delivery's contact point)
                       ─▶ ivr.callout_menu; a machine gets nothing and hangs up
      gather  ivr.menu_choice / callout_choice ─▶ PIN check, acknowledge(), lägesbild
      status  TwiML conference join/leave ─▶ Conferences.joined/left
              the call ended: outbound and no person proven ─▶ delivery failed (never
              acknowledged); 46elks: the caller left the bridge
    ─▶ Script ─▶ TwiML XML, or 46elks JSON with espeak-ng clip URLs

Nothing spoken is above `public`: the call-out text and the lägesbild go through
classification.channel_policy (ivr.callout_text, ivr.speakable).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import structlog

from ..channels.phone import ivr
from ..channels.phone.script import Hangup, Script, render_elks_json, render_twiml, spoken
from ..channels.phone.settings import PhoneSettings, Provider
from ..channels.phone.speech import SpeechClips
from ..channels.phone.urls import audio_url, webhook_url
from ..channels.phone.webhooks import CallEvent
from ..domain.audit import AuditRecord
from ..domain.callouts import AckChannel, Callout, CalloutStatus
from ..domain.conferences import Booking
from ..domain.errors import NotFound
from ..domain.levels import Classification, ContactKind
from ..domain.notifications import Channel, DeliveryStatus
from .callouts import CalloutClosed, Callouts, CodeInvalid, normalise_number
from .conferences import Conferences
from .outbox import OutboxService
from .ports import Clock, UnitOfWork

log = structlog.get_logger("wis.phone")
NUMBER_KINDS = (ContactKind.PHONE, ContactKind.SMS)


@dataclass(frozen=True, slots=True)
class Answer:
    body: str
    media_type: str


@dataclass(frozen=True, slots=True)
class _Outbound:
    delivery_id: str
    status: str
    callout: Callout | None
    contact_id: str | None
    owner_name: str
    booking: Booking | None  # ours, when the call-out's dial-in is a booked line


class PhoneCalls:
    def __init__(self, store: UnitOfWork, clock: Clock, settings: PhoneSettings,
                 callouts: Callouts, conferences: Conferences, outbox: OutboxService,
                 clips: SpeechClips | None) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.callouts = callouts
        self.conferences = conferences
        self.outbox = outbox
        self.clips = clips
        self.last_webhook_at: datetime | None = None  # for the operator view
        if settings.provider is Provider.ELKS and clips is None:
            raise ValueError("46elks needs speech clips (espeak-ng)")

    def health(self) -> dict[str, object]:
        """For /readyz: the dialect, the lines, when the provider last called a webhook."""
        return {"provider": self.settings.provider.value, "lines": len(self.settings.numbers),
                "last_webhook_at": self.last_webhook_at.isoformat()
                if self.last_webhook_at else None,
                "speech_clips": self.clips.rendered if self.clips else None}

    # --- rendering ------------------------------------------------------------------

    async def render(self, script: Script) -> Answer:
        if self.settings.provider is Provider.TWIML:
            return Answer(render_twiml(script), "application/xml")
        assert self.clips is not None
        urls = {text: audio_url(self.settings, await self.clips.token_for(text))
                for text in spoken(script)}
        return Answer(render_elks_json(script, urls), "application/json")

    def _url(self, **fixed: str | None) -> ivr.Url:
        def url(step: ivr.Step, tries: int) -> str:
            return webhook_url(self.settings, "gather", step=step.value, tries=tries, **fixed)
        return url

    def _status_url(self, **params: str) -> str:
        return webhook_url(self.settings, "status", **params)

    # --- the one entry --------------------------------------------------------------

    async def handle(self, hook: str, event: CallEvent, query: Mapping[str, str]
                     ) -> Script | None:
        """The script to answer with (None: an empty 2xx, e.g. for a status callback)."""
        self.last_webhook_at = self.clock()
        delivery = query.get("delivery") or None
        tries = int(query["tries"]) if query.get("tries", "").isdigit() else 0
        tries = min(tries, ivr.MAX_TRIES)
        if hook == "status":
            await self._status(event, query, delivery)
            return None
        if delivery is not None:
            return await self._outbound(hook, event, delivery, query.get("step", ""), tries)
        booking = await self.conferences.active_on(event.line)
        url = self._url()
        if hook == "voice":
            exercise = booking is not None and await self._exercise(booking)
            return ivr.menu(url, has_conference=booking is not None, first=True,
                            before=[ivr.EXERCISE] if exercise else [])
        step = query.get("step", "")
        digits = event.digits or ""
        if step == ivr.Step.CODE.value:
            return await self._code(event, digits, tries, booking)
        if step == ivr.Step.REPORT.value:
            if booking is not None and self._pin_ok(booking, digits):
                return await self._readout(booking)
            return ivr.menu(url, has_conference=booking is not None, tries=tries + 1,
                            before=[ivr.WRONG_PIN])
        return await self._menu(event, digits, tries, booking)

    # --- inbound ----------------------------------------------------------------------

    @staticmethod
    def _pin_ok(booking: Booking, digits: str) -> bool:
        given = digits.strip().rstrip("#")
        return bool(given) and hmac.compare_digest(given.encode(), booking.pin.encode())

    async def _menu(self, event: CallEvent, digits: str, tries: int,
                    booking: Booking | None) -> Script:
        url = self._url()
        has = booking is not None
        choice = ivr.menu_choice(digits)
        if choice is ivr.Choice.NONE:
            return ivr.menu(url, has_conference=has, tries=tries + 1)
        if choice is ivr.Choice.REPEAT:
            return ivr.menu(url, has_conference=has, tries=tries)
        if choice is ivr.Choice.PIN and booking is not None:
            if self._pin_ok(booking, digits):
                return await self._join(booking, event)
            log.info("phone wrong pin", line=self._line_no(event.line))
            return ivr.menu(url, has_conference=has, tries=tries + 1, before=[ivr.WRONG_PIN])
        if choice is ivr.Choice.ACK:
            async with self.store.read() as tx:
                matches = await tx.callouts.open_by_address(normalise_number(event.caller))
            pending = list(dict.fromkeys(m.callout_id for m in matches))
            if len(pending) == 1:
                match = next(m for m in matches if m.callout_id == pending[0])
                outcome = await self._acknowledge(match.callout_id, match.contact_id, None)
                return ivr.menu(url, has_conference=has, before=[ivr.ack_said(outcome)])
            return ivr.ask_code(url, 0)
        if choice is ivr.Choice.REPORT and booking is not None:
            if await self._caller_takes_part(event.caller, booking):
                return await self._readout(booking)
            return ivr.ask_pin(url, 0)
        return ivr.menu(url, has_conference=has, tries=tries + 1, before=[ivr.INVALID])

    async def _code(self, event: CallEvent, digits: str, tries: int,
                    booking: Booking | None) -> Script:
        url = self._url()
        code = ivr.as_code(digits)
        if code is None:
            return ivr.ask_code(url, tries + 1, before=[ivr.INVALID])
        async with self.store.read() as tx:
            matches = await tx.callouts.by_code(code, normalise_number(event.caller))
            if not matches:
                matches = await tx.callouts.open_by_code(code)
        callouts = list(dict.fromkeys(m.callout_id for m in matches))
        if len(callouts) != 1:  # none, or the same code in two open call-outs: ambiguous
            await self._audit_unmatched()
            return ivr.ask_code(url, tries + 1,
                                before=[ivr.ack_said(ivr.AckOutcome.UNKNOWN)])
        outcome = await self._acknowledge(callouts[0], None, code)
        return ivr.menu(url, has_conference=booking is not None,
                        before=[ivr.ack_said(outcome)])

    async def _acknowledge(self, callout_id: str, contact_id: str | None,
                           code: str | None) -> ivr.AckOutcome:
        try:
            await self.callouts.acknowledge(callout_id, contact_id=contact_id, code=code,
                                            channel=AckChannel.DTMF)
        except CalloutClosed:
            return ivr.AckOutcome.CLOSED
        except (CodeInvalid, NotFound):
            return ivr.AckOutcome.UNKNOWN
        return ivr.AckOutcome.ACKNOWLEDGED

    async def _audit_unmatched(self) -> None:
        async with self.store.write() as tx:
            await tx.audit.append(AuditRecord(
                "callout.reply_unmatched", outcome="refused", target_type="phone",
                detail={"reason": "no single open call-out with that code"}), self.clock())

    async def _caller_actors(self, caller: str) -> list[str]:
        number = normalise_number(caller)
        if not number.startswith("+"):
            return []
        async with self.store.read() as tx:
            return [a.id for a in await tx.actors.all()
                    if any(p.kind in NUMBER_KINDS and normalise_number(p.value) == number
                           for p in a.contact_points)]

    async def _caller_takes_part(self, caller: str, booking: Booking) -> bool:
        actors = await self._caller_actors(caller)
        if not actors:
            return False
        async with self.store.read() as tx:
            space = await tx.spaces.get(booking.space_id, content=False)
        return space is not None and bool(set(actors) & space.participant_ids)

    async def _exercise(self, booking: Booking) -> bool:
        async with self.store.read() as tx:
            space = await tx.spaces.get(booking.space_id, content=False)
        return space is not None and space.is_exercise

    def _line_no(self, line: str) -> int | None:
        numbers = self.settings.numbers
        return numbers.index(line) + 1 if line in numbers else None

    async def _join(self, booking: Booking, event: CallEvent) -> Script:
        bridge = self.settings.bridge_for(booking.number)
        if self.settings.provider is Provider.ELKS:
            # 46elks has no conference callbacks: the join is recorded as we connect.
            actors = await self._caller_actors(event.caller)
            await self.conferences.joined(booking, event.call_id, event.caller,
                                          actors[0] if len(actors) == 1 else None)
        return ivr.join(booking.room, self._status_url(conference=booking.id), bridge,
                        booking.number)

    async def _readout(self, booking: Booking) -> Script:
        async with self.store.read() as tx:
            space = await tx.spaces.get(booking.space_id, content=False)
            assert space is not None
            # Only public sections every participant may read are even decrypted.
            report = await tx.reports.get(
                space.id, True, space.owner_actor_id, None,
                lambda _r, label: label.classification is Classification.PUBLIC
                and label.audience is None)
        sections = [ivr.SpokenSection(s.key, s.classification, s.audience is None, s.body)
                    for s in (report.sections if report else ())]
        text = ivr.readout_text(report.version if report else None,
                                report.created_at if report else None, sections,
                                exercise=space.is_exercise)
        return ivr.readout(self._url(), text, has_conference=True)

    # --- outbound: a call-out -------------------------------------------------------

    async def _load_outbound(self, delivery_id: str) -> _Outbound | None:
        async with self.store.read() as tx:
            record = await tx.outbox.delivery(delivery_id)
            if record is None or record.channel is not Channel.PHONE:
                return None
            ref = await tx.callouts.contact_ref(record.recipient_ref) \
                if record.recipient_ref else None
            callout = await tx.callouts.get(ref.callout_id) if ref else None
            owner = await tx.actors.get(callout.owner_actor_id) if callout else None
            booking = None
            if callout is not None and callout.conference.dial_in:
                line = normalise_number(callout.conference.dial_in)
                found = await tx.conferences.active_on(line)
                if found is not None and found.space_id == callout.space_id and \
                        found.pin == callout.conference.pin:
                    booking = found
        return _Outbound(delivery_id, record.status, callout, ref.contact_id if ref else None,
                         owner.name if owner else "", booking)

    def _speech(self, out: _Outbound) -> str:
        c = out.callout
        if c is None:  # not a call-out: never its text, only that there is something
            return "Det här är WIS. Det finns ny information. Logga in i WIS för att läsa den."
        conf = c.conference
        return ivr.callout_text(ivr.CalloutSpeech(
            c.classification, c.exercise, out.owner_name, c.message, conf.start_at,
            conf.dial_in, conf.pin, out.booking is not None))

    async def _outbound(self, hook: str, event: CallEvent, delivery_id: str, step: str,
                        tries: int) -> Script:
        out = await self._load_outbound(delivery_id)
        if out is None:
            return ivr.goodbye()
        if event.machine:
            # A voicemail or fax: nothing is said to it, and it never acknowledges.
            await self._finish(out, delivered=False)
            return (Hangup(),)
        url = self._url(delivery=delivery_id)
        can_join = out.booking is not None
        text = self._speech(out)
        if hook == "voice" or step != ivr.Step.CALLOUT.value:
            if event.human:
                await self._finish(out, delivered=True)
            return ivr.callout_menu(url, text, can_join=can_join)
        digits = event.digits or ""
        if digits:
            await self._finish(out, delivered=True)  # a key pressed: a person is there
        choice = ivr.callout_choice(digits)
        if choice is ivr.Choice.ACK and out.callout is not None and out.contact_id:
            outcome = await self._acknowledge(out.callout.id, out.contact_id, None)
            said = ivr.ack_said(outcome)
            if can_join and out.callout.status is CalloutStatus.OPEN:
                return ivr.callout_menu(url, text, can_join=True, before=[said])
            return ivr.goodbye(said)
        if choice is ivr.Choice.JOIN and out.booking is not None:
            return await self._join(out.booking, event)
        if choice is ivr.Choice.REPEAT:
            return ivr.callout_menu(url, text, can_join=can_join, tries=tries)
        before = [] if choice is ivr.Choice.NONE else [ivr.INVALID]
        return ivr.callout_menu(url, text, can_join=can_join, tries=tries + 1, before=before)

    async def _finish(self, out: _Outbound, *, delivered: bool) -> None:
        """The ledger: delivered once a person is proven; failed for no answer, a busy line,
        a machine, or a call that ended without a key pressed. Never both, never twice."""
        async with self.store.read() as tx:
            record = await tx.outbox.delivery(out.delivery_id)
        # `queued`: the provider's callback beat our recording of its answer (the row is
        # still claimed by the dispatcher, whose `sent` then leaves a final row alone).
        if record is None or record.status not in (DeliveryStatus.QUEUED.value,
                                                   DeliveryStatus.SENT.value):
            return
        await self.outbox.delivery_report(Channel.PHONE, "", delivered,
                                          delivery_id=out.delivery_id)

    # --- status callbacks -----------------------------------------------------------

    async def _status(self, event: CallEvent, query: Mapping[str, str],
                      delivery: str | None) -> None:
        conference = query.get("conference") or None
        if event.conference == "join" and conference:
            async with self.store.read() as tx:
                booking = await tx.conferences.get(conference)
            if booking is not None:
                actors = await self._caller_actors(event.caller)
                await self.conferences.joined(booking, event.call_id, event.caller,
                                              actors[0] if len(actors) == 1 else None)
            return
        if event.conference == "leave" and conference:
            await self.conferences.left(event.call_id, booking_id=conference)
            return
        if event.ended is None:
            return
        if delivery is not None:
            out = await self._load_outbound(delivery)
            if out is not None:
                await self._finish(out, delivered=False)
                if out.booking is not None:
                    await self.conferences.left(event.call_id, booking_id=out.booking.id)
            return
        # 46elks: a caller connected to the bridge hung up (TwiML says so by `leave`).
        held = [b.id for b in await self.conferences.active()]
        await self.conferences.left(event.call_id, held)
