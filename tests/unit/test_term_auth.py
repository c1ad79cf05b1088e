"""wis-term's refresh survives a lost answer: the same refresh token is retried at once (the
server's 10 s retry grace hands back the same successor), the successor is on disk before it
is used, and a client restarted right after a crash mid-refresh retries at once instead of
probing the line first."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from wis_term.auth import Auth, SignedOut, authorised
from wis_term.store import TokenFile, ensure_private_dir
from wis_term.transport import Link, Shared

SERVER = "http://wis.test"


def setup(tmp_path: Path, handler) -> tuple[Auth, Link, TokenFile]:
    tokens = TokenFile(ensure_private_dir(tmp_path / "st"))
    tokens.save(SERVER, "tib.lst", "r1")
    link = Link(Shared(SERVER), transport=httpx.MockTransport(handler))
    return Auth(tokens, SERVER), link, tokens


def test_a_lost_refresh_answer_is_retried_with_the_same_token(tmp_path: Path):
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/auth/refresh":
            sent.append(json.loads(request.content)["refresh_token"])
            if len(sent) == 1:
                raise httpx.ReadTimeout("answer lost", request=request)
            return httpx.Response(200, json={"access_token": "a2", "refresh_token": "r2",
                                             "expires_in": 900})
        if request.url.path == "/api/v1/me":
            assert request.headers["authorization"] == "Bearer a2"
            assert "user-agent" not in request.headers  # small requests
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(200, json={})  # /healthz

    auth, link, tokens = setup(tmp_path, handler)
    link.shared.state.succeeded(time.time(), 0.1)  # the line is up
    reply = authorised(auth, link, "GET", "/api/v1/me")
    assert reply.status == 200
    assert sent == ["r1", "r1"]
    assert tokens.load() == {"server": SERVER, "username": "tib.lst", "refresh_token": "r2"}


def test_after_a_crash_mid_refresh_the_restart_retries_at_once(tmp_path: Path):
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, json={"access_token": "a2", "refresh_token": "r2",
                                         "expires_in": 900})

    _, link, tokens = setup(tmp_path, handler)
    saved = tokens.load()
    assert saved is not None
    tokens.mark_refreshing(saved, time.time() - 2)  # the killed process had just sent it
    restarted = Auth(tokens, SERVER)  # offline so far: no answer yet in this process
    restarted.header(link)
    assert paths == ["/api/v1/auth/refresh"]  # no probe first: inside the server's grace


def test_a_refused_refresh_signs_out_and_forgets_the_token(tmp_path: Path):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/healthz":
            return httpx.Response(200, json={})
        return httpx.Response(401, json={"code": "session_revoked"},
                              headers={"content-type": "application/problem+json"})

    auth, link, tokens = setup(tmp_path, handler)
    with pytest.raises(SignedOut) as refused:
        auth.header(link)
    assert refused.value.code == "session_revoked"
    assert tokens.load() is None
