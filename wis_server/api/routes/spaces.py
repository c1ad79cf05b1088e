"""Incident spaces, their log entries and situation reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...domain.codes import Code
from ...domain.errors import ValidationFailed
from ...domain.levels import Classification, EntryKind
from ...domain.model import Participant
from ...domain.records import EntryLabelFilter
from ...services.reports import SectionDraft
from ..endpoint import Api, Call, PageResponse, Query
from ..schemas import Obj, Out, Str
from ..shapes import (
    EntryAudiencePatch,
    EntryCreate,
    EntryOut,
    ReportCreate,
    ReportOut,
    ReportPublishedOut,
    ReportScope,
    ReportVersionOut,
    SpaceCreate,
    SpaceOut,
    SpacePatch,
    items_of,
)
from ..views import entry_view, report_version_view, report_view, space_view

RakelLinkIn = Obj("RakelLink", {"gssi": Str(1, 8, description="the talkgroup's GSSI, "
                                                "1-16777215")}, required=("gssi",))
RakelLinkOut = Out("RakelLinkOut", {"type": "object", "properties": {
    "gssi": {"type": ["string", "null"]}}, "required": ["gssi"]})

_REPORT_QUERY = (
    Query("scope", str, "joint (default) or actor", enum=("joint", "actor")),
    Query("actor_id", str, "with scope=actor: whose report (default: your actor's)"),
)


def _moment(query: dict[str, Any], name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw) if raw.isascii() and len(raw) <= 40 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValidationFailed(f"{name} must be an ISO 8601 time with a UTC offset or Z",
                               code=Code.INVALID_TIME, field=name)
    return moment


def _joint(call: Call) -> bool:
    return bool(call.query.get("scope", "joint") == "joint")


def register(api: Api) -> None:
    @api.op("GET", "/api/v1/spaces", summary="The spaces your actor participates in",
            tag="spaces", response=items_of(SpaceOut, "SpaceList"))
    async def list_spaces(call: Call) -> Any:
        views = await call.services.spaces.visible(call.principal)
        return {"items": [space_view(v, call.principal) for v in views]}

    @api.op("POST", "/api/v1/spaces", summary="Create an incident space (editors)",
            tag="spaces", body=SpaceCreate, response=SpaceOut, status=201,
            idempotent_post=True, errors=(403, 409, 422))
    async def create_space(call: Call) -> Any:
        b = call.body
        view = await call.services.spaces.create(
            call.principal, title=b["title"], description=b.get("description", ""),
            type=b["type"], classification=b["classification"],
            participants=[Participant(a) for a in b.get("participants", [])],
            idempotency_key=call.idempotency_key)
        return space_view(view, call.principal)

    @api.op("GET", "/api/v1/spaces/{space_id}/rakel", summary="The Rakel talkgroup (GSSI) "
            "linked to the space, or null", tag="spaces", response=RakelLinkOut,
            errors=(404,))
    async def get_rakel_link(call: Call) -> Any:
        return {"gssi": await call.services.spaces.rakel_gssi(
            call.principal, call.path["space_id"])}

    @api.op("PUT", "/api/v1/spaces/{space_id}/rakel", summary="Link a Rakel talkgroup to "
            "the space (the owning actor's editors): SDS to it become incoming entries, "
            "public notices go out to it", tag="spaces", body=RakelLinkIn,
            response=RakelLinkOut, errors=(403, 404, 409, 422))
    async def put_rakel_link(call: Call) -> Any:
        return {"gssi": await call.services.spaces.link_rakel(
            call.principal, call.path["space_id"], call.body["gssi"])}

    @api.op("DELETE", "/api/v1/spaces/{space_id}/rakel", summary="Unlink the space's Rakel "
            "talkgroup (the owning actor's editors)", tag="spaces", response=RakelLinkOut,
            errors=(403, 404))
    async def delete_rakel_link(call: Call) -> Any:
        return {"gssi": await call.services.spaces.link_rakel(
            call.principal, call.path["space_id"], None)}

    @api.op("GET", "/api/v1/spaces/{space_id}", summary="One space", tag="spaces",
            response=SpaceOut, errors=(404,))
    async def get_space(call: Call) -> Any:
        view = await call.services.spaces.get(call.principal, call.path["space_id"])
        return space_view(view, call.principal)

    @api.op("PATCH", "/api/v1/spaces/{space_id}", summary="Change a space: title, description, "
            "status, participants (the space's editors)", tag="spaces", body=SpacePatch,
            response=SpaceOut, errors=(403, 404, 422))
    async def patch_space(call: Call) -> Any:
        b = call.body
        participants = None
        if "participants" in b:
            participants = [Participant(p["actor_id"], p.get("role_cap"))
                            for p in b["participants"]]
        view = await call.services.spaces.update(
            call.principal, call.path["space_id"], title=b.get("title"),
            description=b.get("description"), status=b.get("status"),
            participants=participants)
        return space_view(view, call.principal)

    @api.op("GET", "/api/v1/spaces/{space_id}/entries", summary="The space's log, as you may "
            "read it", tag="entries", response=items_of(EntryOut, "EntryPage", {
                "head": {"type": "integer", "description": "the space's latest seq"}}),
            query=(Query("after", int, "only entries with seq > after", minimum=0),
                   Query("before", int, "only entries with seq < before", minimum=0),
                   Query("limit", int, "at most this many (default 100)", 1, 500),
                   Query("order", str, "asc (default) or desc", enum=("asc", "desc")),
                   Query("kind", str, "only entries of this kind",
                         enum=tuple(k.value for k in EntryKind)),
                   Query("level", str, "only entries at this classification level",
                         enum=tuple(c.value for c in Classification)),
                   Query("actor", str, "only entries written by this actor (actor id)"),
                   Query("since", str, "only entries created at or after this ISO 8601 time "
                         "(with a UTC offset or Z)"),
                   Query("until", str, "only entries created before this ISO 8601 time"),
                   Query("q", str, "text search: entries whose body contains this text "
                         "(case-insensitive; 1-200 characters). Only entries you may read "
                         "are decrypted and searched; a page holds up to `limit` matches and "
                         "pages on with after/before as usual")),
            errors=(404,), one_transaction=True)
    async def list_entries(call: Call) -> Any:
        q = call.query
        labels = EntryLabelFilter(
            kind=EntryKind(q["kind"]) if "kind" in q else None,
            level=Classification(q["level"]) if "level" in q else None,
            author_actor_id=q.get("actor"),
            since=_moment(q, "since"), until=_moment(q, "until"))
        entries, head = await call.services.entries.page(
            call.principal, call.path["space_id"], after=q.get("after"),
            before=q.get("before"), limit=q.get("limit", 100),
            descending=q.get("order") == "desc", labels=labels, text=q.get("q"))
        return PageResponse({"items": [entry_view(e, e.exercise) for e in entries],
                             "head": head})

    @api.op("POST", "/api/v1/spaces/{space_id}/entries", summary="Post an entry", tag="entries",
            body=EntryCreate, response=EntryOut, status=201, idempotent_post=True,
            errors=(403, 404, 409, 422), one_transaction=True)
    async def post_entry(call: Call) -> Any:
        b = call.body
        entry = await call.services.entries.post(
            call.principal, call.path["space_id"], kind=b["kind"],
            classification=b["classification"], body=b["body"], audience=b.get("audience"),
            idempotency_key=call.idempotency_key)
        return entry_view(entry, entry.exercise)

    @api.op("GET", "/api/v1/spaces/{space_id}/entries/{entry_id}", summary="One entry",
            tag="entries", response=EntryOut, errors=(404, 409))
    async def get_entry(call: Call) -> Any:
        entry = await call.services.entries.get(
            call.principal, call.path["space_id"], call.path["entry_id"])
        return entry_view(entry, entry.exercise)

    @api.op("PATCH", "/api/v1/spaces/{space_id}/entries/{entry_id}", summary="Change who may "
            "read an entry (the author's actor)", tag="entries", body=EntryAudiencePatch,
            response=EntryOut, errors=(403, 404, 409, 422))
    async def patch_entry(call: Call) -> Any:
        entry = await call.services.entries.change_audience(
            call.principal, call.path["space_id"], call.path["entry_id"],
            call.body["audience"])
        return entry_view(entry, entry.exercise)

    @api.op("POST", "/api/v1/spaces/{space_id}/situation-reports", summary="Publish a new "
            "version of your actor's situation report, or (editors) the joint one. "
            "Sections of the previous version that you may not read are carried forward "
            "unchanged (counted in `kept_unreadable`); changing or removing a section needs "
            "read right to it (a heading you may not read: 409 `section_not_readable`). Every "
            "participant sees every version, with only the sections they may read",
            tag="situation reports", body=ReportCreate, response=ReportPublishedOut,
            status=201, idempotent_post=True, errors=(403, 404, 409, 422))
    async def publish_report(call: Call) -> Any:
        b = call.body
        published = await call.services.reports.publish(
            call.principal, call.path["space_id"],
            joint=b.get("scope", ReportScope.ACTOR) is ReportScope.JOINT,
            sections=[SectionDraft(s["key"], s["classification"], s["body"], s.get("audience"))
                      for s in b["sections"]],
            idempotency_key=call.idempotency_key)
        return {**report_view(published.report, published.report.exercise),
                "kept_unreadable": published.kept_unreadable}

    @api.op("GET", "/api/v1/spaces/{space_id}/situation-reports", summary="The versions of a "
            "situation report", tag="situation reports", query=_REPORT_QUERY,
            response=items_of(ReportVersionOut, "ReportVersionList", {
                "reporting_actors": {"type": "array", "items": {"type": "string"}}}),
            errors=(404,))
    async def report_versions(call: Call) -> Any:
        reports = call.services.reports
        versions = await reports.versions(call.principal, call.path["space_id"],
                                          joint=_joint(call), actor_id=call.query.get("actor_id"))
        actors = await reports.reporting_actors(call.principal, call.path["space_id"])
        return {"items": [report_version_view(v) for v in versions],
                "reporting_actors": actors}

    @api.op("GET", "/api/v1/spaces/{space_id}/situation-reports/latest", summary="The latest "
            "situation report (joint by default)", tag="situation reports",
            query=_REPORT_QUERY, response=ReportOut, errors=(404,))
    async def latest_report(call: Call) -> Any:
        report = await call.services.reports.get(
            call.principal, call.path["space_id"], joint=_joint(call),
            actor_id=call.query.get("actor_id"), version=None)
        return report_view(report, report.exercise)

    @api.op("GET", "/api/v1/spaces/{space_id}/situation-reports/{version:int}",
            summary="One version of a situation report", tag="situation reports",
            query=_REPORT_QUERY, response=ReportOut, errors=(404,))
    async def report_version(call: Call) -> Any:
        report = await call.services.reports.get(
            call.principal, call.path["space_id"], joint=_joint(call),
            actor_id=call.query.get("actor_id"), version=int(call.path["version"]))
        return report_view(report, report.exercise)
