"""A recording HTTP peer in its own process (the far side of a channel): every POST body is
appended to a JSON-lines file and fsynced BEFORE the answer goes back, so what the file holds
is exactly what the peer accepted. Prints its port on stdout. `--delay-ms` slows each answer.

    python -m tests.integration.outbox_peer LOGFILE [--delay-ms N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    lock = threading.Lock()
    out = open(args.log, "ab")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if len(body) != length:
                return  # the sender died mid-request: nothing was accepted
            doc = json.loads(body)
            provider_id = uuid.uuid4().hex
            with lock:
                out.write(json.dumps({**doc, "provider_id": provider_id}).encode() + b"\n")
                out.flush()
                os.fsync(out.fileno())
            if args.delay_ms:
                time.sleep(args.delay_ms / 1000)
            answer = json.dumps({"id": provider_id}).encode()
            try:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender was killed: its answer is lost (it will resend, same id)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
