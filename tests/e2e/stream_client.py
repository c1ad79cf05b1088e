"""Helpers for the real-time tests: sign in over HTTP, and a real websocket client speaking
the stream protocol (the `websockets` library, as any API client would)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import LiveServer

WAIT = 20.0  # generous: tests never assert timings, only that things happen


async def login(server: LiveServer, username: str, password: str | None = None) -> str:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        r = await client.post("/api/v1/auth/token", json={
            "username": username, "password": password or server.demo[username]})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def exercise_space(server: LiveServer, token: str) -> str:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        items = (await client.get("/api/v1/spaces", headers=auth(token))).json()["items"]
    return str(next(s["id"] for s in items if s["exercise"]))


async def post_entry(client: httpx.AsyncClient, token: str, space_id: str, body: str,
                     classification: str = "public", audience: list[str] | None = None
                     ) -> dict[str, Any]:
    doc: dict[str, Any] = {"kind": "note", "classification": classification, "body": body}
    if audience is not None:
        doc["audience"] = audience
    r = await client.post(f"/api/v1/spaces/{space_id}/entries", headers=auth(token), json=doc)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def actor_ids(server: LiveServer, token: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        items = (await client.get("/api/v1/actors", headers=auth(token))).json()["items"]
    return {a["short_name"]: a["id"] for a in items}


class StreamClient:
    """One websocket connection; frames are kept in order in `frames`."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, server: LiveServer, token: str | None, **kwargs: Any) -> StreamClient:
        url = server.base_url.replace("http://", "ws://") + "/api/v1/stream"
        ws = await connect(url, compression=None, **kwargs)
        client = cls(ws)
        if token is not None:
            await client.send({"type": "auth", "token": token})
            ready = await client.next()
            assert ready == {"type": "ready"}, ready
        return client

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def next(self, within: float = WAIT) -> dict[str, Any]:
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), within))
        self.frames.append(frame)
        return dict(frame)

    async def subscribe(self, space_id: str, after: int | None) -> int:
        await self.send({"type": "subscribe", "space_id": space_id, "after": after})
        frame = await self.next()
        assert frame["type"] == "subscribed", frame
        return int(frame["head"])

    async def until(self, predicate: Any, within: float = WAIT) -> dict[str, Any]:
        """Read frames until one matches; returns it (all read frames stay in `frames`)."""
        async def loop() -> dict[str, Any]:
            while True:
                frame = await self.next(within)
                if predicate(frame):
                    return frame
        return await asyncio.wait_for(loop(), within)

    async def until_body(self, body: str, within: float = WAIT) -> dict[str, Any]:
        return await self.until(lambda f: f.get("type") == "event"
                                and f["data"].get("body") == body, within)

    async def closed_with(self, within: float = WAIT) -> int | None:
        """Read until the server closes; the close code."""
        try:
            async with asyncio.timeout(within):
                while True:
                    self.frames.append(json.loads(await self.ws.recv()))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        return None

    def events(self, space_id: str | None = None) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == "event"
                and (space_id is None or f["space_id"] == space_id)]

    def bodies(self) -> list[str]:
        return [f["data"]["body"] for f in self.events() if "body" in f["data"]]

    async def close(self) -> None:
        await self.ws.close()
