"""Domain values → JSON documents (the one place that decides the wire shape)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..classification.policy import Action, decide, visible_levels
from ..domain.model import Actor, Audience, Entry, Principal, SituationReport, User
from ..domain.records import ReportVersion
from ..services.audit import ShownAudit
from ..services.spaces import SpaceView


def ts(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def audience(value: Audience) -> list[str] | None:
    return sorted(value) if value is not None else None


def actor_view(actor: Actor) -> dict[str, Any]:
    return {
        "id": actor.id, "name": actor.name, "short_name": actor.short_name,
        "clearance_ceiling": actor.clearance_ceiling.value,
        "contact_points": [
            {"kind": p.kind.value, "value": p.value, "priority": p.priority, "label": p.label}
            for p in sorted(actor.contact_points, key=lambda p: p.priority)
        ],
        "created_at": ts(actor.created_at),
    }


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id, "actor_id": user.actor_id, "username": user.username,
        "display_name": user.display_name, "role": user.role.value,
        "clearance": user.clearance.value, "active": user.active,
        "created_at": ts(user.created_at), "failed_sign_ins": user.failed_sign_ins,
        "last_failed_sign_in_at": ts(user.last_failed_sign_in_at),
    }


def space_view(view: SpaceView, principal: Principal) -> dict[str, Any]:
    space = view.space
    return {
        "id": space.id, "title": space.title, "description": space.description,
        "type": space.type.value, "classification": space.classification.value,
        "status": space.status.value, "exercise": space.is_exercise,
        "owner_actor_id": space.owner_actor_id,
        "participants": [
            {"actor_id": p.actor_id, "role_cap": p.role_cap.value if p.role_cap else None,
             **({"clearance_ceiling": view.ceilings[p.actor_id].value}
                if p.actor_id in view.ceilings else {})}
            for p in space.participants
        ],
        "last_seq": space.last_seq, "last_activity_at": ts(view.last_activity_at),
        "created_at": ts(space.created_at), "my_role": view.my_role.value,
        "can_administer": bool(decide(principal, Action.ADMINISTER_SPACE, space)),
        "can_publish_joint": bool(decide(principal, Action.PUBLISH_JOINT, space)),
        "writable_levels": [level.value for level in visible_levels(principal, space)]
        if view.my_role.value != "reader" else [],
    }


def entry_view(entry: Entry, exercise: bool) -> dict[str, Any]:
    return {
        "id": entry.id, "space_id": entry.space_id, "seq": entry.seq, "kind": entry.kind.value,
        "classification": entry.classification.value, "body": entry.body,
        "audience": audience(entry.audience),
        "author": {"id": entry.author_id, "display_name": entry.author_name},
        "author_actor_id": entry.author_actor_id, "created_at": ts(entry.created_at),
        "exercise": exercise,
    }


def report_view(report: SituationReport, exercise: bool) -> dict[str, Any]:
    return {
        "id": report.id, "space_id": report.space_id,
        "scope": "joint" if report.joint else "actor", "actor_id": report.actor_id,
        "version": report.version, "seq": report.seq,
        "sections": [
            {"key": s.key.value, "classification": s.classification.value, "body": s.body,
             "audience": audience(s.audience)}
            for s in report.sections
        ],
        "author": {"id": report.author_id, "display_name": report.author_name},
        "created_at": ts(report.created_at), "exercise": exercise,
    }


def report_version_view(version: ReportVersion) -> dict[str, Any]:
    return {"id": version.id, "version": version.version, "seq": version.seq,
            "author": {"id": version.author_id, "display_name": version.author_name},
            "created_at": ts(version.created_at)}


def audit_view(shown: ShownAudit) -> dict[str, Any]:
    stored, r = shown.stored, shown.stored.record
    return {"seq": stored.seq, "at": ts(stored.at), "action": r.action, "outcome": r.outcome,
            "user_id": r.user_id, "actor_id": r.actor_id, "target_type": r.target_type,
            "target_id": r.target_id, "space_id": r.space_id, "detail": r.detail,
            "hash": stored.hash, "redacted": shown.redacted,
            "repeats": [{"subject": m.subject or None, "count": m.count,
                         "first_at": ts(m.first_at), "last_at": ts(m.last_at)}
                        for m in shown.repeats]}


def me_view(principal: Principal, user: User, actor: Actor) -> dict[str, Any]:
    from ..domain.levels import Role

    manage_users_of = [] if principal.role not in (Role.ACTOR_ADMIN, Role.SYSTEM_ADMIN) \
        else [actor.id]
    return {
        **user_view(user),
        "actor": {"id": actor.id, "name": actor.name, "short_name": actor.short_name,
                  "clearance_ceiling": actor.clearance_ceiling.value},
        "effective_clearance": principal.effective_clearance.value,
        "permissions": {
            "create_space": principal.role is Role.EDITOR,
            "manage_actors": principal.role is Role.SYSTEM_ADMIN,
            "manage_users_of": manage_users_of,
            "manage_all_users": principal.role is Role.SYSTEM_ADMIN,
            "read_audit": principal.role in (Role.ACTOR_ADMIN, Role.SYSTEM_ADMIN),
        },
    }
