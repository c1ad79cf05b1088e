"""HTTP/1.1 pipelining for the outbox: the queued posts go out back to back on one
connection and the answers come back in the same order, so ten queued posts cost one round
trip instead of ten (on a 2 s line, the difference between 20 s and 100+ s). The server
handles pipelined requests one after the other, so they are created in the queue's order.
httpx does not pipeline; h11 (httpx's own HTTP/1.1 parser) reads the answers, one cycle per
request. If the connection breaks, the answered items are done and the rest are sent again
with their Idempotency-Keys: the server returns the first result for any it had created."""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import h11
import httpx

from .transport import Reply, Shared


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


def _open(base_url: str, connect_s: float) -> tuple[socket.socket, str]:
    url = urlsplit(base_url)
    host = url.hostname or "127.0.0.1"
    port = url.port or (443 if url.scheme == "https" else 80)
    sock = socket.create_connection((host, port), timeout=connect_s)
    if url.scheme == "https":
        sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
    netloc = host if url.port is None else f"{host}:{port}"
    return sock, netloc


def _request(call: Call, host: str) -> tuple[h11.Request, bytes]:
    body = json.dumps(call.body, ensure_ascii=False, separators=(",", ":")).encode()
    headers = [("host", host), ("content-type", "application/json"),
               ("content-length", str(len(body))), ("accept-encoding", "gzip"),
               *call.headers.items()]
    return h11.Request(method=call.method, target=call.path, headers=headers), body


def pipelined(shared: Shared, calls: list[Call]) -> Generator[Reply, None, None]:
    """Send every call at once, yield the answers in order. Raises OSError or
    h11.ProtocolError when the line breaks (the caller resends what was not answered)."""
    with shared.lock:
        connect_s, read_s = shared.state.rtt.timeouts()
    sock, host = _open(shared.base_url, connect_s)
    try:
        out = bytearray()
        for call in calls:  # each request serialised on its own h11 connection
            writer = h11.Connection(h11.CLIENT)
            request, body = _request(call, host)
            out += writer.send(request) or b""
            out += writer.send(h11.Data(data=body)) or b""
            out += writer.send(h11.EndOfMessage()) or b""
        started = time.monotonic()
        sock.settimeout(read_s)
        sock.sendall(out)
        reader = h11.Connection(h11.CLIENT)
        for call in calls:
            request, body = _request(call, host)
            reader.send(request)  # puts the parser in step; the bytes were sent above
            reader.send(h11.Data(data=body))
            reader.send(h11.EndOfMessage())
            status: int = 0
            headers: Any = []
            chunks: list[bytes] = []
            while True:
                event = reader.next_event()
                if event is h11.NEED_DATA:
                    data = sock.recv(65536)
                    if not data:
                        raise ConnectionError("closed mid-answer")
                    reader.receive_data(data)
                elif isinstance(event, h11.Response):
                    status, headers = event.status_code, event.headers
                elif isinstance(event, h11.Data):
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    raise ConnectionError("closed mid-answer")
            yield _reply(shared, status, headers, b"".join(chunks), started)
            reader.start_next_cycle()
    finally:
        sock.close()


def _reply(shared: Shared, status: int, headers: Any, raw: bytes, started: float) -> Reply:
    hdrs = httpx.Headers([(k.decode(), v.decode()) for k, v in headers])
    if hdrs.get("content-encoding") == "gzip":
        raw = gzip.decompress(raw)
    with shared.lock:
        changed = shared.state.succeeded(shared.clock(), None, 0, len(raw))
    if changed:
        shared.changed()
    data = None
    if raw and "json" in hdrs.get("content-type", ""):
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
    del started
    return Reply(status, data, hdrs, raw)
