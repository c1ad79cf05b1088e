"""The client's private state directory: 0700, every file 0600, written atomically (temporary
file in the same directory, fsync, rename, fsync of the directory) so a crash or SIGKILL leaves
either the old or the new file, never a torn one, and nothing readable by other users."""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path
from typing import Any

DIR_MODE = 0o700
FILE_MODE = 0o600


class InsecureStateDir(Exception):
    """The state directory is readable or writable by others (or not ours)."""


def default_state_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("WIS_TERM_STATE"):
        return Path(env["WIS_TERM_STATE"])
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "wis-term"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) as 0700; refuse one that others can read or write."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.getuid():
        raise InsecureStateDir(f"{path} belongs to another user")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, DIR_MODE)
    return path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: 0600 from creation (never briefly world-readable)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_json(path: Path, value: Any) -> None:
    write_atomic(path, json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        fsync_dir(path.parent)


def append_line(path: Path, line: str) -> None:
    """Append one line and fsync (a journal: a torn last line is ignored by its reader)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


class TokenFile:
    """The refresh token (never the access token: that lives only in memory) and the server
    it belongs to. Written before the new token is used, so a crash after a rotation still
    holds the successor."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "session.json"

    def load(self) -> dict[str, str] | None:
        data = read_json(self.path)
        if not isinstance(data, dict) or not isinstance(data.get("refresh_token"), str):
            return None
        return {k: str(v) for k, v in data.items()}

    def save(self, server: str, username: str, refresh_token: str) -> None:
        write_json(self.path, {"server": server, "username": username,
                               "refresh_token": refresh_token})

    def mark_refreshing(self, saved: dict[str, str], since: float) -> None:
        """Note (durably) that a refresh with this token is about to be sent, so a client
        restarted after a crash knows to retry it at once rather than later."""
        write_json(self.path, {**saved, "refreshing_since": str(since)})

    def clear(self) -> None:
        remove(self.path)
