"""Sign-in and token refresh that survive a lost answer.

The refresh token lives in the state directory (0600); the access token only in memory. The
server rotates refresh tokens and treats a second use of the same token within 10 s as a retry
of a refresh whose answer was lost (it hands back the same successor); later, as theft (the
whole session ends). So: one refresh at a time (a lock across workers), the successor written
to disk before anything uses it, prompt retries (no long backoff) inside that window, and a
cheap probe first when the line is known to be down, so a refresh is not sent into a dead line
to arrive long after its retry."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from .store import TokenFile
from .transport import Link, LinkDown, Stopped

RETRY_WINDOW_S = 8.0  # the server's grace is 10 s; keep well inside it
# A refresh waits long for its answer: sending the old token again later, after the server
# took it, would end the session (a late answer is worth waiting for).
LAST_WAIT_S = 60.0
REFRESH_AT = 0.75  # refresh when three quarters of the access token's life are gone


class SignedOut(Exception):
    """No usable session: the user must sign in (again). `code` is the server's reason."""

    def __init__(self, code: str = "") -> None:
        super().__init__(code)
        self.code = code


class Auth:
    def __init__(self, tokens: TokenFile, server: str) -> None:
        self.tokens = tokens
        self.server = server
        self.lock = threading.Lock()
        self.access: str | None = None
        self.renew_at = 0.0
        self.username = ""
        saved = tokens.load()
        if saved and saved.get("server") == server:
            self.username = saved.get("username", "")

    @property
    def signed_in(self) -> bool:
        return self.access is not None or self.tokens.load() is not None

    def _take(self, data: dict[str, Any]) -> None:
        self.tokens.save(self.server, self.username, str(data["refresh_token"]))
        self.access = str(data["access_token"])
        life = float(data.get("expires_in", 900))
        self.renew_at = time.monotonic() + life * REFRESH_AT

    def sign_in(self, link: Link, username: str, password: str) -> None:
        reply = link.request("POST", "/api/v1/auth/token",
                             body={"username": username, "password": password}, deadline_s=90)
        if reply.status != 200:
            raise SignedOut(reply.code or str(reply.status))
        with self.lock:
            self.username = username
            self._take(reply.data)

    def sign_out(self, link: Link) -> None:
        saved = self.tokens.load()
        with self.lock:
            self.access = None
            self.tokens.clear()
        if saved:
            try:
                link.request("POST", "/api/v1/auth/logout",
                             body={"refresh_token": saved["refresh_token"]}, deadline_s=20)
            except LinkDown:
                pass  # the token is gone here; it expires on the server

    def header(self, link: Link) -> dict[str, str]:
        """The Authorization header, refreshing first when due (or after a 401)."""
        with self.lock:
            if self.access is None or time.monotonic() >= self.renew_at:
                self._refresh(link)
            assert self.access is not None
            return {"authorization": f"Bearer {self.access}"}

    def invalidate(self, used: dict[str, str]) -> None:
        """A 401 token_expired on the access token in `used`: renew on the next header()."""
        with self.lock:
            if used.get("authorization") == f"Bearer {self.access}":
                self.access = None

    def _refresh(self, link: Link) -> None:
        saved = self.tokens.load()
        if not saved or saved.get("server") != self.server:
            raise SignedOut("")
        self.username = saved.get("username", self.username)
        body = {"refresh_token": saved["refresh_token"]}
        shared = link.shared
        in_flight = float(saved.get("refreshing_since") or 0)
        while True:
            # A refresh sent moments ago (by us before a crash, or just now) may have rotated
            # the token already: retry at once while the server still takes it as a retry.
            # Otherwise make sure the line answers first.
            if time.time() - in_flight > RETRY_WINDOW_S and not shared.state.online:
                self._wait_for_line(link)
            if time.time() - in_flight > RETRY_WINDOW_S:
                in_flight = time.time()
                self.tokens.mark_refreshing(saved, in_flight)
            while True:
                # One attempt that waits long for its answer: on a slow line a short time-out
                # would only send more copies of the old token, and a copy arriving more than
                # 10 s after the first ends the session. Resent at once only when it never
                # left (no connection) or when the answer was lost early inside the window.
                try:
                    reply = link.once("POST", "/api/v1/auth/refresh", body=body,
                                      min_timeout_s=LAST_WAIT_S)
                except (httpx.ConnectError, httpx.ConnectTimeout):
                    shared.sleep(1.0)
                    in_flight = 0.0  # nothing was sent: the next attempt is a first use
                    break
                except httpx.TransportError:
                    if time.time() - in_flight < RETRY_WINDOW_S:
                        shared.sleep(0.2)
                        continue  # a prompt retry: the server may have rotated already
                    break  # no answer at all: probe the line, then try once more
                if reply.status == 200:
                    self._take(reply.data)
                    return
                if reply.status in (429, 502, 503, 504):
                    shared.sleep(2.0)
                    break
                self.access = None
                if reply.status == 401:
                    self.tokens.clear()
                raise SignedOut(reply.code or str(reply.status))

    def _wait_for_line(self, link: Link) -> None:
        """A cheap GET until the line answers (so the refresh goes out on a live line)."""
        try:
            link.request("GET", "/healthz", deadline_s=None)
        except Stopped:
            raise


def authorised(auth: Auth, link: Link, method: str, path: str, **kwargs: Any) -> Any:
    """A request with the bearer token; one renewal and retry after 401 token_expired."""
    for _ in range(2):
        header = auth.header(link)
        headers = {**kwargs.pop("headers", {}), **header}
        reply = link.request(method, path, headers=headers, **kwargs)
        if reply.status == 401 and reply.code == "token_expired":
            auth.invalidate(header)
            kwargs["headers"] = {k: v for k, v in headers.items() if k != "authorization"}
            continue
        if reply.status == 401:
            raise SignedOut(reply.code)
        return reply
    return reply
