"""Request and response shapes of the API (validation and OpenAPI from one source)."""

from __future__ import annotations

from enum import Enum
from typing import Any

from ..domain.codes import Code
from ..domain.levels import (
    Classification,
    ContactKind,
    EntryKind,
    ReportSectionKey,
    Role,
    SpaceRole,
    SpaceStatus,
    SpaceType,
)
from ..domain.model import CONTACT_PRIORITIES
from ..services.passwords import MAX_LENGTH as PASSWORD_MAX
from ..services.passwords import MIN_LENGTH as PASSWORD_MIN
from .schemas import NAME_NOTE, Array, Bool, Choice, Int, Name, Nullable, Obj, Out, Str


class ReportScope(str, Enum):
    JOINT = "joint"
    ACTOR = "actor"


LEVEL = Choice(Classification, "public | sekretess | hemlig")
ID = Str(min_length=1, max_length=36, description="identifier (UUID)")
IDS = Array(ID, max_items=2000, unique=True)

PASSWORD = Str(PASSWORD_MIN, PASSWORD_MAX, f"at least {PASSWORD_MIN} characters (else 422 "
               "password_too_short)", too_short_code=Code.PASSWORD_TOO_SHORT)
TokenRequest = Obj("TokenRequest", {"username": Str(1, 80), "password": Str(1, 1024)},
                   required=("username", "password"))
RefreshRequest = Obj("RefreshRequest", {"refresh_token": Str(1, 200)},
                     required=("refresh_token",))

ContactPointIn = Obj("ContactPoint", {
    "kind": Choice(ContactKind), "value": Str(1, 200),
    "priority": Int(CONTACT_PRIORITIES.start, CONTACT_PRIORITIES.stop - 1),
    "label": Str(0, 200, NAME_NOTE, name=True)}, required=("kind", "value"))
ActorCreate = Obj("ActorCreate", {
    "name": Name(1, 200), "short_name": Name(1, 40), "clearance_ceiling": LEVEL,
    "contact_points": Array(ContactPointIn, max_items=20)},
    required=("name", "short_name", "clearance_ceiling"))
ActorPatch = Obj("ActorPatch", {
    "name": Name(1, 200), "short_name": Name(1, 40), "clearance_ceiling": LEVEL})
ContactPointsPut = Obj("ContactPointsPut", {
    "contact_points": Array(ContactPointIn, max_items=20)}, required=("contact_points",))

UserCreate = Obj("UserCreate", {
    "username": Str(3, 80, "letters, digits and . _ - @; stored lower-case"),
    "password": PASSWORD,
    "display_name": Name(1, 200),
    "role": Choice(Role), "clearance": LEVEL},
    required=("username", "password", "display_name", "role", "clearance"))
UserPatch = Obj("UserPatch", {
    "role": Choice(Role), "clearance": LEVEL, "active": Bool(), "display_name": Name(1, 200)})
PasswordReset = Obj("PasswordReset", {
    "password": PASSWORD},
                    required=("password",))

ParticipantIn = Obj("ParticipantIn", {"actor_id": ID, "role_cap": Nullable(Choice(SpaceRole))},
                    required=("actor_id",))
SpaceCreate = Obj("SpaceCreate", {
    "title": Name(1, 300), "description": Str(0, 20_000),
    "type": Choice(SpaceType),
    "classification": LEVEL, "participants": Array(ID, max_items=2000, unique=True)},
    required=("title", "type", "classification"),
    description="participants: actor ids; the creator's actor always participates")
SpacePatch = Obj("SpacePatch", {
    "title": Name(1, 300), "description": Str(0, 20_000),
    "status": Choice(SpaceStatus),
    "participants": Array(ParticipantIn, max_items=2000)})

ENTRY_BODY_MAX = 50_000
EntryCreate = Obj("EntryCreate", {
    "kind": Choice(EntryKind), "classification": LEVEL,
    "body": Str(1, ENTRY_BODY_MAX, not_blank=True),
    "audience": Nullable(IDS)},
    required=("kind", "classification", "body"),
    description="audience: actor ids allowed to read (läsrätt), kept as given (actors who "
                "join later are not added); omitted or null: public → all participants, "
                "also later ones, sekretess/hemlig → the author's actor only. Actors whose "
                "ceiling is below the level are refused (audience_below_level)")
EntryAudiencePatch = Obj("EntryAudiencePatch", {"audience": Nullable(IDS)},
                         required=("audience",),
                         description="null: the level's default — every participant for "
                                     "public, the author's actor only for sekretess/hemlig")
SectionIn = Obj("SectionIn", {
    "key": Choice(ReportSectionKey), "classification": LEVEL,
    "body": Str(1, ENTRY_BODY_MAX, not_blank=True),
    "audience": Nullable(IDS)}, required=("key", "classification", "body"))
ReportCreate = Obj("ReportCreate", {
    "scope": Choice(ReportScope, "joint: the space's joint report (editors); actor: your "
                                 "actor's own (default)"),
    "sections": Array(SectionIn, max_items=len(ReportSectionKey), min_items=1,
                      too_short_code=Code.EMPTY_REPORT)},
    required=("sections",))


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props,
            "required": required if required is not None else list(props)}


_S = {"type": "string"}
_NS = {"type": ["string", "null"]}
_I = {"type": "integer"}
_LEVEL = {"type": "string", "enum": [c.value for c in Classification]}
_AUD = {"type": ["array", "null"], "items": _S,
        "description": "actor ids with read right; null = every participant"}
_AUTHOR = _obj({"id": _S, "display_name": _S})

TokenOut = Out("Token", _obj({
    "access_token": _S, "token_type": {"type": "string", "enum": ["bearer"]},
    "expires_in": _I, "refresh_token": _S}, ["access_token", "token_type", "expires_in"]))
ActorOut = Out("Actor", _obj({
    "id": _S, "name": _S, "short_name": _S, "clearance_ceiling": _LEVEL,
    "contact_points": {"type": "array", "items": {"$ref": "#/components/schemas/ContactPoint"}},
    "created_at": _NS}))
UserOut = Out("User", _obj({
    "id": _S, "actor_id": _S, "username": _S, "display_name": _S,
    "role": {"type": "string", "enum": [r.value for r in Role]}, "clearance": _LEVEL,
    "active": {"type": "boolean"}, "created_at": _NS,
    "failed_sign_ins": {"type": "integer", "minimum": 0, "description": "wrong passwords "
                        "since the last successful sign-in (distributed guessing shows here)"},
    "last_failed_sign_in_at": _NS}))
MeOut = Out("Me", {"allOf": [{"$ref": "#/components/schemas/User"}, _obj({
    "actor": _obj({"id": _S, "name": _S, "short_name": _S, "clearance_ceiling": _LEVEL}),
    "effective_clearance": _LEVEL, "permissions": {"type": "object"}})]})
SpaceOut = Out("Space", _obj({
    "id": _S, "title": _S, "description": _S,
    "type": {"type": "string", "enum": [t.value for t in SpaceType]},
    "classification": _LEVEL, "status": {"type": "string", "enum": ["open", "closed"]},
    "exercise": {"type": "boolean"}, "owner_actor_id": _S,
    "participants": {"type": "array", "items": _obj({
        "actor_id": _S, "role_cap": _NS, "clearance_ceiling": {
            **_LEVEL, "description": "the actor's ceiling: an item above it is never readable "
            "there (count read right over actors whose ceiling reaches the item's level)"}},
        ["actor_id", "role_cap"])},
    "last_seq": _I, "last_activity_at": _NS, "created_at": _NS,
    "my_role": {"type": "string", "enum": [r.value for r in SpaceRole]},
    "can_administer": {"type": "boolean", "description": "may rename, close and re-cast "
                       "participants (the owning actor's editors)"},
    "can_publish_joint": {"type": "boolean"},
    "writable_levels": {"type": "array", "items": _LEVEL}}))
EntryOut = Out("Entry", _obj({
    "id": _S, "space_id": _S, "seq": _I,
    "kind": {"type": "string", "enum": [k.value for k in EntryKind]},
    "classification": _LEVEL, "body": _S, "audience": _AUD, "author": _AUTHOR,
    "author_actor_id": _S, "created_at": _S, "exercise": {"type": "boolean"}}))
ReportOut = Out("SituationReport", _obj({
    "id": _S, "space_id": _S, "scope": {"type": "string", "enum": ["joint", "actor"]},
    "actor_id": _S, "version": _I, "seq": _I,
    "sections": {"type": "array", "items": _obj({
        "key": {"type": "string", "enum": [k.value for k in ReportSectionKey]},
        "classification": _LEVEL, "body": _S, "audience": _AUD}),
        "description": "only the sections the caller may read"},
    "author": _AUTHOR, "created_at": _S, "exercise": {"type": "boolean"}}))
ReportPublishedOut = Out("PublishedSituationReport", {"allOf": [
    {"$ref": "#/components/schemas/SituationReport"}, _obj({"kept_unreadable": {
        "type": "integer", "minimum": 0,
        "description": "sections of the previous version you may not read, carried "
                       "forward unchanged into this one (not shown in `sections`)"}})]})
ReportVersionOut = Out("ReportVersion", _obj({
    "id": _S, "version": _I, "seq": _I, "author": _AUTHOR, "created_at": _S}))
AuditOut = Out("AuditRecord", _obj({
    "seq": _I, "at": _S, "action": _S, "outcome": _S, "user_id": _NS, "actor_id": _NS,
    "target_type": _NS, "target_id": _NS, "space_id": _NS, "detail": {"type": "object"},
    "hash": _S,
    "redacted": {"type": "boolean", "description": "details about a space or item you may "
                 "not know of were withheld (target, space, detail)"},
    "repeats": {"type": "array", "description": "coalesced repeats within the record's "
                "window: a read of one item (subject `entry:<id>`) or a kind of refused "
                "request; count includes the first; subject null when withheld",
                "items": _obj({"subject": _NS, "count": _I, "first_at": _S, "last_at": _S})}}))


def items_of(shape: Out, name: str, extra: dict[str, Any] | None = None) -> Out:
    props: dict[str, Any] = {"items": {"type": "array", "items": shape.openapi()}}
    props.update(extra or {})
    return Out(name, _obj(props))


OUTPUTS = [TokenOut, ActorOut, UserOut, MeOut, SpaceOut, EntryOut, ReportOut, ReportPublishedOut,
           ReportVersionOut, AuditOut]
