"""The degraded line's fallback proxy does what its profile says (lower bounds only: the line
may be slower on a loaded machine, never faster): 1 s each way, 9.6 kbit/s shared, loss as
retransmission stalls, and nothing crosses while it is down."""

from __future__ import annotations

import socket
import threading
import time

from tests.degraded_link import LinkProfile
from tests.degraded_link.proxy import FaultProxy


def echo_server() -> tuple[socket.socket, int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=pump, args=(conn,), daemon=True).start()

    def pump(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


def read_exactly(sock: socket.socket, n: int) -> bytes:
    got = b""
    while len(got) < n:
        chunk = sock.recv(n - len(got))
        if not chunk:
            break
        got += chunk
    return got


def test_round_trip_rate_and_outage():
    srv, port = echo_server()
    proxy = FaultProxy(("127.0.0.1", port), LinkProfile(loss=0.0, delay_s=0.5), seed=1).start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=60) as s:
            started = time.monotonic()
            s.sendall(b"ping")
            assert read_exactly(s, 4) == b"ping"
            assert time.monotonic() - started >= 1.0  # 0.5 s there, 0.5 s back
            payload = bytes(range(256)) * 6  # 1536 B: ≥ 1.28 s on the line
            started = time.monotonic()
            s.sendall(payload)
            assert read_exactly(s, len(payload)) == payload
            # the echo overlaps the way back with the way there, segment by segment
            assert time.monotonic() - started >= 1.0 + len(payload) * 8 / 9600
            proxy.down()
            s.sendall(b"held")
            s.settimeout(2.0)
            try:
                early = s.recv(4)
            except TimeoutError:
                early = b""
            assert early == b""  # nothing crossed a dead line
            proxy.up()
            s.settimeout(60)
            assert read_exactly(s, 4) == b"held"  # the connection survived the outage
    finally:
        proxy.stop()
        srv.close()


def test_loss_stalls_segments_like_tcp_retransmission():
    srv, port = echo_server()
    proxy = FaultProxy(("127.0.0.1", port), LinkProfile(loss=0.3, delay_s=0.05,
                                                        rate_bps=10_000_000), seed=7).start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=60) as s:
            for i in range(8):
                s.sendall(b"%04d" % i)
                assert read_exactly(s, 4) == b"%04d" % i  # in order, nothing dropped
        stats = proxy.stats()
        assert stats["lost"] > 0 and stats["segments"] >= 16
    finally:
        proxy.stop()
        srv.close()
