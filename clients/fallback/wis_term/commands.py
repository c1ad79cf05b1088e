"""Parsing a command line (pure): Swedish and English names, the post syntax
`skriv <nr> <typ> <nivå> [@aktör,…] <text>`."""

from __future__ import annotations

from dataclasses import dataclass

from .texts import KINDS, LEVELS

ALIASES = {
    "loggain": "login", "login": "login", "loggaut": "logout", "logout": "logout",
    "ytor": "spaces", "spaces": "spaces", "följ": "follow", "folj": "follow",
    "follow": "follow", "sluta": "unfollow", "unfollow": "unfollow",
    "lägesbild": "report", "lagesbild": "report", "report": "report",
    "skriv": "post", "post": "post", "aktiveringar": "callouts", "callouts": "callouts",
    "kvittera": "ack", "ack": "ack", "kö": "queue", "ko": "queue", "queue": "queue",
    "status": "status", "hjälp": "help", "hjalp": "help", "help": "help", "?": "help",
    "avsluta": "quit", "quit": "quit", "exit": "quit",
}

USAGE = {
    "login": "loggain <användare>", "follow": "följ <nr> [<nr> …]", "unfollow": "sluta <nr>",
    "report": "lägesbild <nr>", "post": "skriv <nr> <typ> <nivå> [@aktör,…] <text>",
    "callouts": "aktiveringar <nr>", "ack": "kvittera <nr> [nej]",
}


class UsageError(Exception):
    def __init__(self, command: str) -> None:
        super().__init__(command)
        self.command = command


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PostDraft:
    space: str
    kind: str
    level: str
    audience: tuple[str, ...] | None
    body: str


def parse(line: str) -> Command | None:
    """None for an empty line; Command('unknown', (word,)) for an unknown one."""
    words = line.strip().split(maxsplit=1)
    if not words:
        return None
    name = ALIASES.get(words[0].lower())
    rest = words[1] if len(words) > 1 else ""
    if name is None:
        return Command("unknown", (words[0],))
    if name == "post":
        return Command(name, (rest,))
    return Command(name, tuple(rest.split()))


def parse_post(rest: str) -> PostDraft:
    parts = rest.split(maxsplit=3)
    if len(parts) < 4:
        raise UsageError("post")
    space, kind_word, level_word, tail = parts
    kind = KINDS.get(kind_word.lower())
    level = LEVELS.get(level_word.lower())
    if kind is None or level is None:
        raise UsageError("post")
    audience: tuple[str, ...] | None = None
    if tail.startswith("@"):
        names, _, tail = tail.partition(" ")
        audience = tuple(n for n in names[1:].split(",") if n)
    body = tail.strip()
    if not body:
        raise UsageError("post")
    return PostDraft(space, kind, level, audience, body)
