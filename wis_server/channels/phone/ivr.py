"""The IVR, sans I/O: what a caller's digits mean at each step, and the script (in Swedish)
for each outcome. The phone service does the lookups and the acknowledgement between the
two; nothing here touches storage, the network or a clock.

    inbound:  menu ──PIN──▶ join the line's conference
                   ──1──▶ caller id matches one pending call-out ▶ acknowledge()
                          else ▶ step `code`: the acknowledgement code ▶ acknowledge()
                   ──2──▶ (caller's actor takes part, or step `report`: the PIN) ▶ read the
                          latest joint lägesbild, public sections only ▶ menu
                   ──9──▶ menu again
    outbound (a call-out): message + conference details (public only) ▶ step `callout`:
                   1 acknowledge · 2 straight into the conference · 9 again
    no input: the menu once more, then goodbye (a voicemail never presses a key)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from zoneinfo import ZoneInfo

from ...classification.channel_policy import LEVEL_LABEL, ChannelKind, may_carry
from ...domain.levels import Classification, ReportSectionKey
from .script import Gather, Hangup, JoinConference, Say, Script

MAX_TRIES = 3  # wrong PINs/codes or silences before goodbye
PIN_DIGITS = (4, 8)
CODE_DIGITS = 6
READOUT_MAX_CHARS = 1500  # about two minutes of speech
TIMEZONE = ZoneInfo("Europe/Stockholm")


class Step(str, Enum):
    """Where a call is; carried in the Gather's action URL (`?step=`)."""

    MENU = "menu"
    CODE = "code"
    REPORT = "report"
    CALLOUT = "callout"


class Choice(str, Enum):
    NONE = "none"
    ACK = "ack"
    REPORT = "report"
    REPEAT = "repeat"
    PIN = "pin"
    JOIN = "join"
    INVALID = "invalid"


def menu_choice(digits: str) -> Choice:
    """Inbound main menu: one key picks an item; 4-8 digits are a PIN."""
    digits = digits.strip().rstrip("#")
    if not digits:
        return Choice.NONE
    if not digits.isdigit():
        return Choice.INVALID
    if digits == "1":
        return Choice.ACK
    if digits == "2":
        return Choice.REPORT
    if digits == "9":
        return Choice.REPEAT
    if PIN_DIGITS[0] <= len(digits) <= PIN_DIGITS[1]:
        return Choice.PIN
    return Choice.INVALID


def callout_choice(digits: str) -> Choice:
    """Outbound call-out menu: 1 acknowledges, 2 joins, 9 repeats."""
    digits = digits.strip().rstrip("#")
    return {"": Choice.NONE, "1": Choice.ACK, "2": Choice.JOIN, "9": Choice.REPEAT}.get(
        digits, Choice.INVALID)


def as_code(digits: str) -> str | None:
    digits = digits.strip().rstrip("#")
    return digits if len(digits) == CODE_DIGITS and digits.isdigit() else None


def spell(text: str) -> str:
    """Digits one by one for speech ("4711" → "4 7 1 1"; "+46 8" → "plus 4 6 8")."""
    out = ["plus"] if text.strip().startswith("+") else []
    out += [ch for ch in text if ch.isdigit()]
    return " ".join(out)


# --- what the caller hears ---------------------------------------------------------------

Url = Callable[[Step, int], str]
"""The Gather action URL for a step and a try count (the service builds it: signed paths)."""

WELCOME = "Välkommen till WIS samverkanskonferens."
EXERCISE = "Det här är en övning."
NO_CONFERENCE = "Det finns ingen bokad konferens på det här numret just nu."
GOODBYE = "Tack för samtalet. Hej då."
WRONG_PIN = "Fel PIN-kod."
INVALID = "Det valet finns inte."


def _menu_prompt(has_conference: bool) -> tuple[Say, ...]:
    if not has_conference:
        return (Say("Tryck 1 för att kvittera en aktivering. Tryck 9 för att höra valen "
                    "igen."),)
    return (Say("Ange konferensens PIN-kod och avsluta med fyrkant för att ansluta. "
                "Tryck 1 för att kvittera en aktivering. Tryck 2 för att höra den senaste "
                "lägesbilden. Tryck 9 för att höra valen igen."),)


def menu(url: Url, *, has_conference: bool, tries: int = 0, first: bool = False,
         before: Sequence[str] = ()) -> Script:
    """The main menu (after `before`, e.g. "Fel PIN-kod."); goodbye after MAX_TRIES."""
    if tries >= MAX_TRIES:
        return goodbye(*before)
    says = [Say(t) for t in before]
    if first:
        says.insert(0, Say(WELCOME))
        if not has_conference:
            says.append(Say(NO_CONFERENCE))
    return (*says, Gather(_menu_prompt(has_conference), url(Step.MENU, tries),
                          max_digits=PIN_DIGITS[1], timeout_s=6))


def goodbye(*before: str) -> Script:
    return (*(Say(t) for t in before), Say(GOODBYE), Hangup())


def join(room: str, status_url: str, bridge: str | None, caller_id: str | None) -> Script:
    return (Say("Du ansluts nu till konferensen."),
            JoinConference(room, status_url, bridge, caller_id))


def ask_code(url: Url, tries: int, *, before: Sequence[str] = ()) -> Script:
    if tries >= MAX_TRIES:
        return goodbye(*before)
    return (*(Say(t) for t in before), Gather(
        (Say("Ange aktiveringens kvittenskod, sex siffror, och avsluta med fyrkant."),),
        url(Step.CODE, tries), max_digits=CODE_DIGITS, timeout_s=8))


def ask_pin(url: Url, tries: int) -> Script:
    return (Gather((Say("Ange konferensens PIN-kod och avsluta med fyrkant."),),
                   url(Step.REPORT, tries), max_digits=PIN_DIGITS[1], timeout_s=8),)


class AckOutcome(str, Enum):
    ACKNOWLEDGED = "acknowledged"  # now, or already before
    CLOSED = "closed"
    UNKNOWN = "unknown"  # no such code (from this caller)


def ack_said(outcome: AckOutcome) -> str:
    return {AckOutcome.ACKNOWLEDGED: "Tack. Aktiveringen är kvitterad för din aktör.",
            AckOutcome.CLOSED: "Aktiveringen är redan avslutad.",
            AckOutcome.UNKNOWN: "Koden stämmer inte med någon öppen aktivering."}[outcome]


# --- the lägesbild, public only ----------------------------------------------------------

SECTION_TITLE = {
    ReportSectionKey.EVENT: "Händelse",
    ReportSectionKey.CURRENT_SITUATION: "Aktuellt läge",
    ReportSectionKey.CONSEQUENCES: "Konsekvenser",
    ReportSectionKey.MEASURES_TAKEN: "Vidtagna åtgärder",
    ReportSectionKey.PLANNED_MEASURES: "Planerade åtgärder",
    ReportSectionKey.NEEDS: "Behov",
    ReportSectionKey.COMMUNICATION: "Kommunikation",
    ReportSectionKey.FORECAST: "Prognos",
    ReportSectionKey.NEXT_REPORT: "Nästa lägesbild",
}


@dataclass(frozen=True, slots=True)
class SpokenSection:
    key: ReportSectionKey
    level: Classification
    everyone: bool  # the section's audience is every participant of the space
    body: str


def speakable(section: SpokenSection) -> bool:
    """The channel policy decides: the phone speaks only `public` content, and only what
    every participant may read (a section kept to some actors is not read out)."""
    return section.everyone and may_carry(ChannelKind.PHONE, section.level)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,.;:") + " ..."


def readout_text(version: int | None, published_at: datetime | None,
                 sections: Sequence[SpokenSection], *, exercise: bool = False) -> str:
    """What is said for the latest lägesbild; never a section the policy refuses."""
    spoken = [s for s in sections if speakable(s)]
    head = "Övning. " if exercise else ""
    if version is None or not spoken:
        return head + "Det finns ingen öppen lägesbild att läsa upp."
    when = (f", publicerad {published_at.astimezone(TIMEZONE).strftime('%Y-%m-%d klockan %H:%M')}"
            if published_at else "")
    body = " ".join(f"{SECTION_TITLE[s.key]}: {' '.join(s.body.split())}" for s in spoken)
    return _cut(f"{head}Senaste lägesbilden, version {version}{when}. {body}",
                READOUT_MAX_CHARS)


def readout(url: Url, text: str, *, has_conference: bool) -> Script:
    return (Say(text), *menu(url, has_conference=has_conference))


# --- the outbound call-out ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CalloutSpeech:
    """What the call-out may say on the phone (the service fills it through the policy)."""

    level: Classification
    exercise: bool
    owner_name: str
    message: str
    start_at: datetime | None
    dial_in: str
    pin: str
    can_join: bool  # a booked conference of ours matches the call-out's dial-in


def callout_text(c: CalloutSpeech) -> str:
    head = ("Övning. " if c.exercise else "") + "Det här är WIS. Aktivering" + (
        f" från {c.owner_name}" if c.owner_name else "") + "."
    if not may_carry(ChannelKind.PHONE, c.level):
        return (f"{head} Meddelandet är skyddat, {LEVEL_LABEL[c.level].lower()}. Logga in i "
                "WIS för att läsa det.")
    parts = [head, " ".join(c.message.split())]
    details = []
    if c.start_at is not None:
        details.append("Samverkanskonferens " + c.start_at.astimezone(TIMEZONE).strftime(
            "%Y-%m-%d klockan %H:%M"))
    if c.dial_in:
        details.append(f"ring {spell(c.dial_in)}")
    if c.pin:
        details.append(f"PIN-kod {spell(c.pin)}")
    if details:
        parts.append(", ".join(details) + ".")
    return _cut(" ".join(p for p in parts if p), READOUT_MAX_CHARS)


def callout_menu(url: Url, text: str, *, can_join: bool, tries: int = 0,
                 before: Sequence[str] = ()) -> Script:
    if tries >= MAX_TRIES:
        return goodbye(*before)
    prompt = "Tryck 1 för att kvittera."
    if can_join:
        prompt += " Tryck 2 för att ansluta direkt till konferensen."
    prompt += " Tryck 9 för att höra meddelandet igen."
    return (*(Say(t) for t in before), Say(text),
            Gather((Say(prompt),), url(Step.CALLOUT, tries), max_digits=1, timeout_s=6))
