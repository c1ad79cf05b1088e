"""`wis-term [--server URL] [--lang sv|en] [--state DIR]`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .app import main_app
from .store import default_state_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="wis-term", description="WIS terminal client for degraded links")
    parser.add_argument("--server", default=os.environ.get("WIS_TERM_SERVER",
                                                           "http://127.0.0.1:8000"))
    parser.add_argument("--lang", default=os.environ.get("WIS_TERM_LANG", "sv"),
                        choices=("sv", "en"))
    parser.add_argument("--state", type=Path, default=None,
                        help="state directory (default $WIS_TERM_STATE or "
                             "~/.local/state/wis-term)")
    parser.add_argument("--source", default="auto", choices=("auto", "json", "longpoll"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return main_app(args.server, args.state or default_state_dir(), args.lang, args.source)


if __name__ == "__main__":
    raise SystemExit(main())
