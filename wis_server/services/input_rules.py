"""Rules for what people type into the directory: passwords (NIST SP 800-63B: no common or
repetitive passwords), contact points (e-mail addresses checked, phone numbers as E.164 with
Swedish numbers normalised) and actor short names (letters, digits and `-`)."""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from ..domain.codes import Code
from ..domain.errors import ValidationFailed
from ..domain.levels import ContactKind
from ..domain.model import CONTACT_PRIORITIES, ContactPoint

SHORT_NAME = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
"""Letters (any script) and digits, words joined by single hyphens: `LST`, `Räddning-Syd`."""

_TRAILING = re.compile(r"[\d\W_]+$")


@cache
def common_passwords() -> frozenset[str]:
    text = files("wis_server.services").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def check_password_strength(password: str) -> None:
    """Refuse a password from the list of common ones (also with digits or symbols added at
    the end, and whatever its case) or one made of a single repeated character."""
    if len(set(password)) <= 1:
        raise ValidationFailed("a password of one repeated character is too easy to guess",
                               code=Code.PASSWORD_REPETITIVE, field="password")
    folded = password.casefold()
    common = common_passwords()
    if folded in common or _TRAILING.sub("", folded) in common:
        raise ValidationFailed("that password is among the most common ones; choose another",
                               code=Code.PASSWORD_COMMON, field="password")


def check_short_name(short_name: str) -> None:
    if not SHORT_NAME.fullmatch(short_name):
        raise ValidationFailed("a short name has only letters, digits and '-' (no spaces)",
                               code=Code.INVALID_SHORT_NAME, field="short_name")


def normalise_contact_points(points: tuple[ContactPoint, ...]) -> tuple[ContactPoint, ...]:
    return tuple(normalise_contact_point(p) for p in points)


def normalise_contact_point(point: ContactPoint) -> ContactPoint:
    """An e-mail address checked for syntax (no DNS look-up: the server may be offline) and
    normalised; a phone or SMS number parsed (Swedish if it has no country code) and stored
    as E.164 (`+46812345000`). The priority is checked here for every caller (the API's
    schema checks it too, but the demo, imports and other services write through here)."""
    if isinstance(point.priority, bool) or not isinstance(point.priority, int) \
            or point.priority not in CONTACT_PRIORITIES:
        raise ValidationFailed("a contact point's priority is a whole number from 1 to 99",
                               code=Code.INVALID_CONTACT_PRIORITY, field="contact_points")
    if point.kind is ContactKind.EMAIL:
        try:
            address = validate_email(point.value, check_deliverability=False).normalized
        except EmailNotValidError:
            raise ValidationFailed("not a valid e-mail address", code=Code.INVALID_EMAIL,
                                   field="contact_points") from None
        return ContactPoint(point.kind, address, point.priority, point.label)
    if point.kind in (ContactKind.PHONE, ContactKind.SMS):
        try:
            number = phonenumbers.parse(point.value, "SE")
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise ValidationFailed("not a valid phone number (E.164, or a Swedish number)",
                                   code=Code.INVALID_PHONE, field="contact_points")
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return ContactPoint(point.kind, e164, point.priority, point.label)
    if point.kind in (ContactKind.RAKEL_ISSI, ContactKind.RAKEL_GSSI):
        value = point.value.strip()
        if not value.isdigit() or not 0 < int(value) <= 0xFFFFFF:
            raise ValidationFailed("not a Rakel SSI (a number from 1 to 16777215)",
                                   code=Code.INVALID_RAKEL_SSI, field="contact_points")
        return ContactPoint(point.kind, str(int(value)), point.priority, point.label)
    return point
