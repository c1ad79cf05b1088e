"""Actors, users and the caller's own profile."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ...domain.model import ContactPoint
from ..endpoint import Api, Call
from ..shapes import (
    ActorCreate,
    ActorOut,
    ActorPatch,
    ContactPointsPut,
    MeOut,
    PasswordReset,
    UserCreate,
    UserOut,
    UserPatch,
    items_of,
)
from ..views import actor_view, me_view, user_view


def _points(raw: list[dict[str, Any]]) -> tuple[ContactPoint, ...]:
    return tuple(ContactPoint(p["kind"], p["value"], p.get("priority", 1), p.get("label", ""))
                 for p in raw)


def register(api: Api) -> None:
    @api.op("GET", "/api/v1/me", summary="The signed-in user, their actor and permissions",
            tag="directory", response=MeOut)
    async def me(call: Call) -> Any:
        user, actor = await call.services.directory.profile(call.principal)
        return me_view(call.principal, user, actor)

    @api.op("GET", "/api/v1/actors", summary="List actors", tag="directory",
            response=items_of(ActorOut, "ActorList"))
    async def list_actors(call: Call) -> Any:
        actors = await call.services.directory.list_actors(call.principal)
        return {"items": [actor_view(a) for a in actors]}

    @api.op("POST", "/api/v1/actors", summary="Create an actor (system admin)", tag="directory",
            body=ActorCreate, response=ActorOut, status=201, errors=(403, 409, 422))
    async def create_actor(call: Call) -> Any:
        b = call.body
        actor = await call.services.directory.create_actor(
            call.principal, b["name"], b["short_name"], b["clearance_ceiling"],
            _points(b.get("contact_points", [])))
        return actor_view(actor)

    @api.op("PATCH", "/api/v1/actors/{actor_id}", summary="Change an actor (system admin)",
            tag="directory", body=ActorPatch, response=ActorOut, errors=(403, 404, 409, 422))
    async def patch_actor(call: Call) -> Any:
        b = call.body
        actor = await call.services.directory.update_actor(
            call.principal, call.path["actor_id"], name=b.get("name"),
            short_name=b.get("short_name"), ceiling=b.get("clearance_ceiling"))
        return actor_view(actor)

    @api.op("PUT", "/api/v1/actors/{actor_id}/contact-points",
            summary="Replace an actor's 24/7 contact points (its admin or system admin)",
            tag="directory", body=ContactPointsPut, response=ActorOut, errors=(403, 404, 422))
    async def put_contacts(call: Call) -> Any:
        actor = await call.services.directory.update_actor(
            call.principal, call.path["actor_id"],
            contact_points=_points(call.body["contact_points"]))
        return actor_view(actor)

    @api.op("GET", "/api/v1/actors/{actor_id}/users", summary="List an actor's users",
            tag="directory", response=items_of(UserOut, "UserList"), errors=(403, 404))
    async def list_users(call: Call) -> Any:
        users = await call.services.directory.list_users(call.principal, call.path["actor_id"])
        return {"items": [user_view(u) for u in users]}

    @api.op("POST", "/api/v1/actors/{actor_id}/users", summary="Create a user of an actor",
            tag="directory", body=UserCreate, response=UserOut, status=201,
            errors=(403, 404, 409, 422))
    async def create_user(call: Call) -> Any:
        b = call.body
        user = await call.services.directory.create_user(
            call.principal, call.path["actor_id"], b["username"], b["password"],
            b["display_name"], b["role"], b["clearance"])
        return user_view(user)

    @api.op("PATCH", "/api/v1/users/{user_id}", summary="Change a user's role, clearance, "
            "active flag or name", tag="directory", body=UserPatch, response=UserOut,
            errors=(403, 404, 422))
    async def patch_user(call: Call) -> Any:
        b = call.body
        user = await call.services.directory.update_user(
            call.principal, call.path["user_id"], role=b.get("role"),
            clearance=b.get("clearance"), active=b.get("active"),
            display_name=b.get("display_name"))
        return user_view(user)

    @api.op("POST", "/api/v1/users/{user_id}/password", summary="Set a new password for a user "
            "(their actor's admin); signs the user out everywhere", tag="directory",
            body=PasswordReset, status=204, errors=(403, 404, 422))
    async def reset_password(call: Call) -> Any:
        await call.services.directory.reset_password(
            call.principal, call.path["user_id"], call.body["password"])
        return Response(status_code=204)
