"""The demo: a snowstorm exercise among the actors of Samverkan Stockholmsregionen.

Actors follow the collaboration model's list of regional actors (seeds/004): Länsstyrelsen,
municipalities, Region Stockholm, the police, SOS Alarm, Trafikverket and a fire service.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..domain.levels import Classification as C
from ..domain.levels import ContactKind, EntryKind, ReportSectionKey, Role, SpaceType
from ..domain.model import Actor, ContactPoint, Participant, Principal
from ..services.reports import SectionDraft
from .directory import Directory, load_principal
from .entries import Entries
from .reports import Reports
from .spaces import Spaces

T = TypeVar("T")

ACTORS = [
    ("Länsstyrelsen i Stockholms län", "LST", C.HEMLIG, "08-123 450 00", "tib@lst.example"),
    ("Stockholms stad", "STHLM", C.SEKRETESS, "08-508 000 00", "tib@stockholm.example"),
    ("Solna stad", "SOLNA", C.SEKRETESS, "08-746 100 00", "beredskap@solna.example"),
    ("Nacka kommun", "NACKA", C.SEKRETESS, "08-718 800 00", "beredskap@nacka.example"),
    ("Region Stockholm", "RS", C.SEKRETESS, "08-123 132 00", "tib@regionstockholm.example"),
    ("Polismyndigheten region Stockholm", "POLIS", C.HEMLIG, "010-563 00 00",
     "rlc@polisen.example"),
    ("SOS Alarm", "SOS", C.SEKRETESS, "010-140 80 00", "ledning@sosalarm.example"),
    ("Trafikverket", "TRV", C.SEKRETESS, "0771-921 921", "tib@trafikverket.example"),
    ("Storstockholms brandförsvar", "SSBF", C.SEKRETESS, "08-454 87 00", "rcb@ssbf.example"),
]

# username, actor, display name, role, clearance. Display names say the function, not the
# Rakel terminals of the simulated radio that `make run` starts (ISSI, mnemonic): these
# actors are called out over Rakel first; the talkgroup is linked to the exercise space.
RAKEL_TERMINALS = {"SSBF": ("2011234", "RCB SSBF"), "POLIS": ("2011235", "RLC STHLM")}
DEMO_TALKGROUP = "9001"
# actor: the client shows the actor beside them ("Ledningsfunktion, SOS Alarm").
USERS = [
    ("admin", "LST", "Systemadministratör", Role.SYSTEM_ADMIN, C.PUBLIC),
    ("tib.lst", "LST", "Tjänsteman i beredskap", Role.EDITOR, C.HEMLIG),
    # An actor's administrator holds the clearance of the people it manages (issue 7).
    ("admin.lst", "LST", "Aktörsadministratör", Role.ACTOR_ADMIN, C.HEMLIG),
    ("tib.sthlm", "STHLM", "Tjänsteman i beredskap", Role.EDITOR, C.SEKRETESS),
    ("admin.sthlm", "STHLM", "Aktörsadministratör", Role.ACTOR_ADMIN, C.SEKRETESS),
    ("kommunikator.solna", "SOLNA", "Kommunikatör", Role.SPOKESPERSON, C.PUBLIC),
    ("tib.rs", "RS", "Tjänsteman i beredskap", Role.EDITOR, C.SEKRETESS),
    ("rlc.polis", "POLIS", "Regionledningscentralen", Role.EDITOR, C.HEMLIG),
    ("ledning.sos", "SOS", "Ledningsfunktion", Role.SPOKESPERSON, C.SEKRETESS),
    ("tib.trv", "TRV", "Tjänsteman i beredskap", Role.SPOKESPERSON, C.SEKRETESS),
    ("rcb.ssbf", "SSBF", "Räddningschef i beredskap", Role.EDITOR, C.SEKRETESS),
    ("lasare.nacka", "NACKA", "Beredskapssamordnare", Role.READER, C.PUBLIC),
]

# time of the exercise morning (Swedish time), author, kind, level, audience, body
ENTRIES = [
    ("06:10", "tib.lst", EntryKind.DECISION, C.PUBLIC, None,
     "ÖVNING. Regional samverkan aktiverad 06:10 med anledning av SMHI:s orange varning för "
     "snöfall. Samverkanskonferens var tredje timme, nästa 09:00."),
    ("06:35", "tib.trv", EntryKind.MEASURE, C.PUBLIC, None,
     "ÖVNING. E4 norrgående stängd vid Häggvik efter avåkningar; omledning via E18. "
     "Plogresurser omfördelade till infarterna."),
    ("06:50", "ledning.sos", EntryKind.INCOMING, C.PUBLIC, None,
     "ÖVNING. Kraftigt ökat inflöde av 112-samtal om trafikolyckor och strömavbrott i "
     "norra länet."),
    ("07:25", "tib.rs", EntryKind.NEED, C.SEKRETESS, ["RS", "LST", "STHLM"],
     "ÖVNING. Hemtjänsten når inte 37 brukare i Vällingby; behov av bandvagn för "
     "läkemedelsleveranser. Namnlista hos Region Stockholm."),
    ("07:55", "tib.sthlm", EntryKind.MEASURE, C.SEKRETESS, ["STHLM", "LST"],
     "ÖVNING. Värmestuga öppnad i Tensta träff; tre brukare med hemsjukvård flyttade dit."),
    ("08:20", "rlc.polis", EntryKind.NOTE, C.HEMLIG, ["POLIS", "LST"],
     "ÖVNING. Underrättelse: risk för sabotage mot elnätsstation i norra länet. Skyddsobjekt "
     "bevakas. Sprids ej vidare."),
    ("08:40", "rcb.ssbf", EntryKind.NOTE, C.PUBLIC, None,
     "ÖVNING. 14 räddningsinsatser pågår; förstärkning från grannkommuner begärd."),
    ("09:00", "tib.lst", EntryKind.DECISION, C.PUBLIC, None,
     "ÖVNING. Samverkanskonferens 09:00 genomförd: gemensam lägesbild fastställd, "
     "bandvagnar från FRG prioriteras till hemtjänsten. Nästa konferens 12:00."),
]
SPACE_OPENED, REPORT_PUBLISHED = "06:05", "09:05"

REPORT = [
    (ReportSectionKey.EVENT, C.PUBLIC, None,
     "Snöoväder med 30–40 cm snö och hård vind över Stockholms län sedan natten."),
    (ReportSectionKey.CURRENT_SITUATION, C.PUBLIC, None,
     "Stora trafikstörningar, E4 norrgående stängd. Strömavbrott för 12 000 kunder."),
    (ReportSectionKey.CONSEQUENCES, C.SEKRETESS, ["LST", "RS", "STHLM"],
     "Hemtjänst och hemsjukvård når inte alla brukare; sårbara personer identifierade."),
    (ReportSectionKey.MEASURES_TAKEN, C.PUBLIC, None,
     "Samverkan aktiverad, omledning av trafik, värmestugor öppnade."),
    (ReportSectionKey.PLANNED_MEASURES, C.PUBLIC, None,
     "Bandvagnar från FRG för läkemedelsleveranser från kl. 10."),
    (ReportSectionKey.NEEDS, C.PUBLIC, None, "Fler plogresurser till infarterna."),
    (ReportSectionKey.COMMUNICATION, C.PUBLIC, None,
     "Samordnat budskap: Undvik onödiga resor. Följ krisinformation.se."),
    (ReportSectionKey.FORECAST, C.PUBLIC, None,
     "Fortsatt snöfall till kväll; alternativ utveckling: långvariga elavbrott i norr."),
    (ReportSectionKey.NEXT_REPORT, C.PUBLIC, None, "Nästa samverkanskonferens kl. 12:00."),
]


@dataclass(frozen=True, slots=True)
class DemoLogins:
    passwords: dict[str, str]
    space_id: str


async def load_demo(directory: Directory, spaces: Spaces, entries: Entries,
                    reports: Reports) -> DemoLogins:
    actors: dict[str, Actor] = {}
    for name, short, ceiling, phone, email in ACTORS:
        rakel = RAKEL_TERMINALS.get(short)
        first = 2 if rakel else 1  # priorities are 1-99 (the API's ContactPoint): Rakel first
        actors[short] = await directory.create_actor(None, name, short, ceiling, (
            *((ContactPoint(ContactKind.RAKEL_ISSI, rakel[0], 1, rakel[1]),) if rakel else ()),
            ContactPoint(ContactKind.PHONE, phone, first, "Växel / TiB"),
            ContactPoint(ContactKind.EMAIL, email, first + 1, "Funktionsbrevlåda"),
        ))
    passwords: dict[str, str] = {}
    principals: dict[str, Principal] = {}
    for username, short, display, role, clearance in USERS:
        password = "demo-" + secrets.token_urlsafe(9)
        user = await directory.create_user(None, actors[short].id, username, password, display,
                                           role, clearance)
        passwords[username] = password
        async with directory.store.read() as tx:
            principal = await load_principal(tx, user.id)
        assert principal is not None
        principals[username] = principal

    morning = _exercise_morning(spaces.clock())
    saved = spaces.clock, entries.clock, reports.clock
    try:
        # The exercise happened across this morning: every act is stamped at the time its
        # text gives, not at the moment the demo is loaded.
        view = await _at(morning, SPACE_OPENED, spaces, entries, reports, spaces.create(
            principals["tib.lst"], title="ÖVNING Snöstorm Stockholm",
        description="Regional övning: kraftigt snöoväder med trafikstörningar och "
                    "elavbrott. Samverkan Stockholmsregionen, aktiverat läge.",
            type=SpaceType.EXERCISE, classification=C.HEMLIG,
            participants=[Participant(a.id) for a in actors.values()]))
        space_id = view.space.id
        # The exercise's talkgroup (the simulated radio of `make run` has it): SDS to it
        # land in the log, its public notices go out over Rakel.
        await spaces.link_rakel(principals["tib.lst"], space_id, DEMO_TALKGROUP)
        ids = {short: actor.id for short, actor in actors.items()}
        for at, username, kind, level, audience, body in ENTRIES:
            await _at(morning, at, spaces, entries, reports, entries.post(
                principals[username], space_id, kind=kind, classification=level, body=body,
                audience=[ids[a] for a in audience] if audience else None))
        await _at(morning, REPORT_PUBLISHED, spaces, entries, reports, reports.publish(
            principals["tib.lst"], space_id, joint=True, sections=[
                SectionDraft(key, level, body, [ids[a] for a in audience] if audience else None)
                for key, level, audience, body in REPORT]))
    finally:
        spaces.clock, entries.clock, reports.clock = saved
    await spaces.create(
        principals["tib.lst"], title="Veckovis regional samverkanskonferens",
        description="Ordinarie läge: veckans samverkanskonferens för regionens aktörer.",
        type=SpaceType.COLLABORATION, classification=C.SEKRETESS,
        participants=[Participant(a.id) for a in actors.values()])
    return DemoLogins(passwords, space_id)


def _exercise_morning(now: datetime) -> datetime:
    """Midnight (Swedish time) of the latest morning whose 09:05 has passed."""
    try:
        zone: tzinfo = ZoneInfo("Europe/Stockholm")
    except ZoneInfoNotFoundError:  # no tz database on the host: Swedish winter time
        zone = timezone(timedelta(hours=1))
    local = now.astimezone(zone)
    day = local.date() if (local.hour, local.minute) >= (9, 10) else \
        local.date() - timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=zone)


async def _at(morning: datetime, hhmm: str, spaces: Spaces, entries: Entries,
              reports: Reports, act: Awaitable[T]) -> T:
    """Run one demo act with the services' clocks at `hhmm` of the exercise morning."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    moment = datetime(morning.year, morning.month, morning.day, hours, minutes,
                      tzinfo=morning.tzinfo).astimezone(UTC)

    def clock() -> datetime:
        return moment

    spaces.clock = entries.clock = reports.clock = clock
    return await act
