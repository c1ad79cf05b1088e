"""The providers' call webhooks, sans I/O: each dialect's form fields → one CallEvent.

TwiML (form POST, signed):  CallSid, From, To, Direction (inbound | outbound-api), CallStatus,
  AnsweredBy (human | machine_start | machine_end_* | fax | unknown, with MachineDetection),
  Digits (a Gather's action), CallDuration (status callback); conference callbacks add
  StatusCallbackEvent (participant-join | participant-leave | conference-start | ...),
  ConferenceSid, FriendlyName, Timestamp.
46elks (form POST, Basic auth or ?key=):  callid, from, to, direction (incoming | outgoing),
  created; an `ivr`'s next adds `result` (the digits); `whenhangup` adds start, duration,
  state (success | failed | busy), actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from ...domain.codes import Code
from ..sms_webhooks import WebhookError, normalise_number
from .settings import Provider

MAX_FIELD = 2000


class Outcome(str, Enum):
    """How a call ended, as far as acknowledgement is concerned."""

    ANSWERED = "answered"    # someone (or something) picked up
    NO_ANSWER = "no_answer"  # no-answer, busy, failed, canceled
    MACHINE = "machine"      # answering machine / voicemail / fax detected


@dataclass(frozen=True, slots=True)
class CallEvent:
    provider: Provider
    call_id: str
    caller: str        # the other party: inbound From, outbound To (E.164 when a number)
    line: str          # our number: inbound To, outbound From
    inbound: bool
    digits: str | None = None           # a Gather / ivr result ("" = no input)
    ended: Outcome | None = None        # a final status / whenhangup
    machine: bool = False               # the answer came from a machine (TwiML AMD)
    duration_s: int | None = None
    conference: str | None = None       # "join" | "leave" (TwiML conference callbacks)
    human: bool = False                 # TwiML AnsweredBy=human: a person, not a machine


def _field(form: Mapping[str, str], name: str, *, required: bool = True) -> str:
    value = form.get(name)
    if value is None or value == "":
        if required:
            raise WebhookError(f"missing field {name}", Code.PHONE_WEBHOOK_MISSING_FIELD)
        return ""
    if len(value) > MAX_FIELD:
        raise WebhookError(f"field {name} is too long", Code.PHONE_WEBHOOK_FIELD_TOO_LONG)
    return value


def _number(raw: str) -> str:
    """E.164 when it parses as a number; a SIP address or "anonymous" stays as it is."""
    try:
        return normalise_number(raw)
    except ValueError:
        return raw.strip()


def _int(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise WebhookError("not a number of seconds", Code.PHONE_WEBHOOK_INVALID_FIELD)
    return int(raw)


_TWIML_FINAL = {"busy": Outcome.NO_ANSWER, "failed": Outcome.NO_ANSWER,
                "no-answer": Outcome.NO_ANSWER, "canceled": Outcome.NO_ANSWER,
                "completed": Outcome.ANSWERED}
_TWIML_LIVE = {"queued", "initiated", "ringing", "in-progress"}


def _machine(answered_by: str) -> bool:
    return answered_by.startswith("machine") or answered_by == "fax"


def parse_twiml(form: Mapping[str, str]) -> CallEvent:
    call_id = _field(form, "CallSid")
    direction = _field(form, "Direction", required=False) or "inbound"
    inbound = direction == "inbound"
    other, ours = (_field(form, "From"), _field(form, "To")) if inbound else \
        (_field(form, "To"), _field(form, "From"))
    status = _field(form, "CallStatus", required=False)
    if status and status not in _TWIML_FINAL and status not in _TWIML_LIVE:
        raise WebhookError("unknown call status", Code.PHONE_WEBHOOK_INVALID_FIELD)
    answered_by = _field(form, "AnsweredBy", required=False)
    machine = _machine(answered_by)
    event = _field(form, "StatusCallbackEvent", required=False)
    conference = {"participant-join": "join", "participant-leave": "leave"}.get(event)
    ended = _TWIML_FINAL.get(status) if not event else None
    if ended is Outcome.ANSWERED and machine:
        ended = Outcome.MACHINE
    digits = form.get("Digits")
    if digits is not None and (len(digits) > 32 or not all(c in "0123456789*#" for c in digits)):
        raise WebhookError("Digits holds other than 0-9, * and #",
                           Code.PHONE_WEBHOOK_INVALID_FIELD)
    return CallEvent(Provider.TWIML, call_id, _number(other), _number(ours), inbound,
                     digits, ended, machine,
                     _int(_field(form, "CallDuration", required=False)), conference,
                     answered_by == "human")


_ELKS_STATE = {"success": Outcome.ANSWERED, "failed": Outcome.NO_ANSWER,
               "busy": Outcome.NO_ANSWER}


def parse_elks(form: Mapping[str, str], *, hangup: bool = False) -> CallEvent:
    call_id = _field(form, "callid", required=False) or _field(form, "id")
    direction = _field(form, "direction", required=False) or "incoming"
    inbound = direction == "incoming"
    other, ours = (_field(form, "from"), _field(form, "to")) if inbound else \
        (_field(form, "to"), _field(form, "from"))
    ended = None
    if hangup:
        state = _field(form, "state")
        if state not in _ELKS_STATE:
            raise WebhookError("unknown call state", Code.PHONE_WEBHOOK_INVALID_FIELD)
        ended = _ELKS_STATE[state]
    digits = form.get("result")
    if digits is not None and (len(digits) > 32 or not all(c in "0123456789*#" for c in digits)):
        raise WebhookError("result holds other than 0-9, * and #",
                           Code.PHONE_WEBHOOK_INVALID_FIELD)
    duration = _field(form, "duration", required=False)
    return CallEvent(Provider.ELKS, call_id, _number(other), _number(ours), inbound, digits,
                     ended, False, _int(duration.split(".")[0]) if duration else None)
