"""A real SMTP server (aiosmtpd) in the test's event loop on a free port: plain, STARTTLS
(required) or implicit TLS, optionally with AUTH. It records every envelope byte for scans."""

from __future__ import annotations

import asyncio
import ssl
import warnings
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class Recorder:
    messages: list[Received] = field(default_factory=list)
    auth_attempts: list[tuple[str, bool]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append(Received(envelope.mail_from or "", list(envelope.rcpt_tos),
                                      content))
        return "250 OK queued"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address.startswith("refused@"):
            return "550 5.1.1 no such user"
        if address.startswith("later@"):
            return "450 4.2.1 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def all_bytes(self) -> bytes:
        return b"\n".join(m.mail_from.encode() + b"\n" + "\n".join(m.rcpt_tos).encode()
                          + b"\n" + m.content for m in self.messages)


class SmtpPeer:
    def __init__(self, *, tls: str = "none", context: ssl.SSLContext | None = None,
                 credentials: tuple[str, str] | None = None) -> None:
        self.tls, self.context, self.credentials = tls, context, credentials
        self.recorder = Recorder()
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and self.credentials is not None
              and (auth_data.login.decode(), auth_data.password.decode()) == self.credentials)
        self.recorder.auth_attempts.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)

    def _factory(self) -> SMTP:
        kwargs: dict[str, Any] = {"hostname": "peer.test", "enable_SMTPUTF8": True}
        if self.tls == "starttls":
            kwargs.update(tls_context=self.context, require_starttls=True)
        if self.credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          # aiosmtpd only sees STARTTLS; implicit TLS is TLS from byte one
                          auth_require_tls=self.tls == "starttls")
        with warnings.catch_warnings():  # implicit TLS: aiosmtpd cannot see it, warns
            warnings.simplefilter("ignore", UserWarning)
            return SMTP(self.recorder, **kwargs)

    async def __aenter__(self) -> SmtpPeer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._factory, "127.0.0.1", 0,
            ssl=self.context if self.tls == "tls" else None)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
