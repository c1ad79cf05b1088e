"""`wis serve` with its imports paid in advance, for the kill -9 loop of test_entry_crash: the
process imports the server, then waits for one line on stdin — the `wis` arguments — and runs
`wis_server.cli.main` with them, as `python -m wis_server.cli ARGS` would. So the next server
can start the moment the previous one is killed, while everything that follows the line
(settings, keyring, app, lifespan, opening and recovering the database) is the real start.

    python -m tests.integration.serve_standby      # then write "serve --port 8123\\n"

End of input without a line: exit 0 (the test did not need this standby).
"""

from __future__ import annotations

import shlex
import sys

import uvicorn  # noqa: F401  (imported by cmd_serve when it runs)

import wis_server.api.app
import wis_server.api.ws_protocol
import wis_server.observability  # noqa: F401
from wis_server.cli import main

if __name__ == "__main__":
    line = sys.stdin.readline()
    sys.exit(main(shlex.split(line)) if line.strip() else 0)
