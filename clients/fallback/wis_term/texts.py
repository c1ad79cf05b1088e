"""The client's texts: Swedish by default, English with --lang en or WIS_TERM_LANG=en.
Markings are the statutory Swedish labels in both languages ([ÖPPEN], [SEKRETESS], [HEMLIG],
ÖVNING): they are stamps on the information, not prose, and must read the same to everyone."""

from __future__ import annotations

MARKING = {"public": "[ÖPPEN]", "sekretess": "[SEKRETESS]", "hemlig": "[HEMLIG]"}
EXERCISE = "ÖVNING"

# Words accepted on the command line in either language → the API's value.
KINDS = {"anteckning": "note", "note": "note", "beslut": "decision", "decision": "decision",
         "åtgärd": "measure", "atgard": "measure", "measure": "measure", "behov": "need",
         "need": "need", "inkommande": "incoming", "incoming": "incoming"}
LEVELS = {"öppen": "public", "oppen": "public", "public": "public", "sekretess": "sekretess",
          "hemlig": "hemlig"}

SV: dict[str, str] = {
    "kind.note": "anteckning", "kind.decision": "beslut", "kind.measure": "åtgärd",
    "kind.need": "behov", "kind.incoming": "inkommande", "kind.notice": "underrättelse",
    "quality.none": "ingen", "quality.poor": "dålig", "quality.fair": "svag",
    "quality.good": "god",
    "state.online": "Ansluten – svar {rtt} – {queue}",
    "state.offline": "Offline sedan {since} – {queue}",
    "state.never": "Ej ansluten – {queue}",
    "queue.posts": "{n} inlägg i kö", "queue.acks": "{n} kvittens(er) i kö",
    "queue.empty": "inget i kö",
    "status.link": "Förbindelse: {quality} (svarstid {rtt}, tidsgräns {rto}, förlust {loss} %)",
    "status.contact": "Senaste lyckade kontakt: {when}", "status.never": "aldrig",
    "status.bytes": "Skickat {sent}, mottaget {received}",
    "status.following": "Följer: {spaces}", "status.none": "inga ytor",
    "status.user": "Inloggad som {user} på {server}", "status.signed_out": "Inte inloggad",
    "progress.start": "{what} …", "progress.done": " klart ({secs})",
    "progress.failed": " misslyckades ({why})",
    "what.signin": "Loggar in", "what.spaces": "Hämtar ytor", "what.report": "Hämtar lägesbild",
    "what.callouts": "Hämtar aktiveringar", "what.actors": "Hämtar aktörer",
    "what.sync": "Hämtar nytt",
    "what.refresh": "Förnyar inloggning",
    "prompt.password": "Lösenord: ",
    "signed_in": "Inloggad som {user}. Skriv 'ytor' för listan över ytor.",
    "signed_out": "Utloggad.",
    "need_signin": "Logga in först: loggain <användarnamn>",
    "session_ended": "Inloggningen har upphört ({code}). Logga in igen: loggain <användare>",
    "spaces.head": "Nr  Typ        Nivå         Titel",
    "spaces.none": "Inga ytor.",
    "type.disruption": "störning", "type.exercise": "övning", "type.collaboration": "samverkan",
    "type.internal": "intern",
    "follow.now": "Följer {title}.", "follow.stop": "Följer inte längre {title}.",
    "follow.unknown": "Ingen yta {ref}. Skriv 'ytor' för listan.",
    "follow.revoked": "Du kan inte längre läsa ytan {title}.",
    "posted.queued": "I kö som #{n} ({label}).",
    "posted.confirmed": "#{n} bekräftad av servern ({label}).",
    "posted.rejected": "#{n} avvisad av servern: {code} ({label}).",
    "queue.head": "Kö (väntande och senast bekräftade):",
    "queue.state.pending": "väntar", "queue.state.confirmed": "bekräftad",
    "queue.state.rejected": "avvisad",
    "report.none": "Ingen lägesbild ännu.",
    "report.head": "Lägesbild v{version} – {author} {time}",
    "report.no_sections": "(inga avsnitt du får läsa)",
    "callouts.none": "Inga aktiveringar.",
    "callout.line": "{nr}. {status} {message} – svara senast {deadline}",
    "callout.new": "AKTIVERING: {message} – kvittera: kvittera {nr}",
    "withdrawn": "Inlägg {id} återkallat: du får inte längre läsa det.",
    "error": "Fel: {message}", "error.usage": "Användning: {usage}",
    "error.unknown_command": "Okänt kommando '{cmd}'. Skriv 'hjälp'.",
    "error.server": "Servern svarade {status}: {code}",
    "bye": "Hej då.",
    "help": (
        "Kommandon (engelska namn fungerar också):\n"
        "  loggain <användare>        logga in (lösenordet frågas efter)\n"
        "  loggaut                    logga ut\n"
        "  ytor                       lista ytor\n"
        "  följ <nr> [<nr> …]         följ ytor; nya inlägg skrivs ut när de kommer\n"
        "  sluta <nr>                 sluta följa\n"
        "  lägesbild <nr>             senaste samlade lägesbilden\n"
        "  skriv <nr> <typ> <nivå> [@aktör,…] <text>\n"
        "        typ: anteckning beslut åtgärd behov inkommande\n"
        "        nivå: öppen sekretess hemlig; @… = läsrätt (kortnamn)\n"
        "  aktiveringar <nr>          aktiveringar i ytan\n"
        "  kvittera <nr> [nej]        kvittera (eller avböj) en aktivering\n"
        "  kö                         väntande och bekräftade inlägg\n"
        "  status                     förbindelse, kö, senaste kontakt\n"
        "  avsluta                    avsluta (kön sparas)"),
}

EN: dict[str, str] = {
    "kind.note": "note", "kind.decision": "decision", "kind.measure": "measure",
    "kind.need": "need", "kind.incoming": "incoming", "kind.notice": "notice",
    "quality.none": "none", "quality.poor": "poor", "quality.fair": "fair",
    "quality.good": "good",
    "state.online": "Connected – round trip {rtt} – {queue}",
    "state.offline": "Offline since {since} – {queue}",
    "state.never": "Not connected – {queue}",
    "queue.posts": "{n} post(s) queued", "queue.acks": "{n} acknowledgement(s) queued",
    "queue.empty": "nothing queued",
    "status.link": "Link: {quality} (round trip {rtt}, time-out {rto}, loss {loss} %)",
    "status.contact": "Last successful contact: {when}", "status.never": "never",
    "status.bytes": "Sent {sent}, received {received}",
    "status.following": "Following: {spaces}", "status.none": "no spaces",
    "status.user": "Signed in as {user} at {server}", "status.signed_out": "Not signed in",
    "progress.start": "{what} …", "progress.done": " done ({secs})",
    "progress.failed": " failed ({why})",
    "what.signin": "Signing in", "what.spaces": "Fetching spaces",
    "what.report": "Fetching situation report", "what.callouts": "Fetching call-outs",
    "what.actors": "Fetching actors",
    "what.sync": "Fetching news", "what.refresh": "Renewing sign-in",
    "prompt.password": "Password: ",
    "signed_in": "Signed in as {user}. Type 'spaces' for the list of spaces.",
    "signed_out": "Signed out.",
    "need_signin": "Sign in first: login <username>",
    "session_ended": "Your session has ended ({code}). Sign in again: login <username>",
    "spaces.head": "No  Type       Level        Title",
    "spaces.none": "No spaces.",
    "type.disruption": "disruption", "type.exercise": "exercise",
    "type.collaboration": "collab.", "type.internal": "internal",
    "follow.now": "Following {title}.", "follow.stop": "No longer following {title}.",
    "follow.unknown": "No space {ref}. Type 'spaces' for the list.",
    "follow.revoked": "You may no longer read the space {title}.",
    "posted.queued": "Queued as #{n} ({label}).",
    "posted.confirmed": "#{n} confirmed by the server ({label}).",
    "posted.rejected": "#{n} refused by the server: {code} ({label}).",
    "queue.head": "Queue (pending and recently confirmed):",
    "queue.state.pending": "pending", "queue.state.confirmed": "confirmed",
    "queue.state.rejected": "refused",
    "report.none": "No situation report yet.",
    "report.head": "Situation report v{version} – {author} {time}",
    "report.no_sections": "(no sections you may read)",
    "callouts.none": "No call-outs.",
    "callout.line": "{nr}. {status} {message} – answer by {deadline}",
    "callout.new": "CALL-OUT: {message} – acknowledge: ack {nr}",
    "withdrawn": "Entry {id} withdrawn: you may no longer read it.",
    "error": "Error: {message}", "error.usage": "Usage: {usage}",
    "error.unknown_command": "Unknown command '{cmd}'. Type 'help'.",
    "error.server": "The server answered {status}: {code}",
    "bye": "Goodbye.",
    "help": (
        "Commands (the Swedish names work too):\n"
        "  login <username>           sign in (asks for the password)\n"
        "  logout                     sign out\n"
        "  spaces                     list spaces\n"
        "  follow <no> [<no> …]       follow spaces; new items print as they arrive\n"
        "  unfollow <no>              stop following\n"
        "  report <no>                latest joint situation report\n"
        "  post <no> <kind> <level> [@actor,…] <text>\n"
        "        kind: note decision measure need incoming\n"
        "        level: public sekretess hemlig; @… = read right (short names)\n"
        "  callouts <no>              call-outs in the space\n"
        "  ack <no> [no]              acknowledge (or decline) a call-out\n"
        "  queue                      pending and confirmed posts\n"
        "  status                     link, queue, last contact\n"
        "  quit                       quit (the queue is kept)"),
}

SECTION_TITLES_SV = {
    "event": "Händelse", "current_situation": "Aktuellt läge", "consequences": "Konsekvenser",
    "measures_taken": "Vidtagna åtgärder", "planned_measures": "Planerade åtgärder",
    "needs": "Behov", "communication": "Kommunikation", "forecast": "Prognos",
    "next_report": "Nästa rapport/möte",
}


class Texts:
    def __init__(self, lang: str = "sv") -> None:
        self.lang = "en" if lang.lower().startswith("en") else "sv"
        self.table = EN if self.lang == "en" else SV

    def __call__(self, key: str, **values: object) -> str:
        return self.table[key].format(**values)

    def number(self, value: float, decimals: int = 1) -> str:
        text = f"{value:.{decimals}f}"
        return text.replace(".", ",") if self.lang == "sv" else text

    def seconds(self, value: float) -> str:
        return f"{self.number(value)} s"

    def size(self, n: int) -> str:
        if n < 1024:
            return f"{n} B"
        return f"{self.number(n / 1024)} kB"

    def section(self, key: str) -> str:
        if self.lang == "sv":
            return SECTION_TITLES_SV.get(key, key)
        return key.replace("_", " ").capitalize()
