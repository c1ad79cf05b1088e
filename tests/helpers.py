"""Small helpers shared by the security tests: raw database access, JWT crafting, and the
HTTP calls the tests repeat."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

PROBLEM = "application/problem+json"
ROOT = Path(__file__).resolve().parent.parent


def marker(label: str) -> str:
    """A unique string that cannot occur by accident (used to look for plaintext)."""
    return f"MRK{label}{secrets.token_hex(8)}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path:
    return Path(str(make_url(url).database))


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def raw_execute(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run one statement outside the app (as an attacker with database access would)."""
    if is_sqlite(url):
        import sqlite3

        conn = sqlite3.connect(sqlite_path(url))
        try:
            cur = conn.execute(sql.replace("$1", "?").replace("$2", "?").replace("$3", "?"),
                               args)
            rows = cur.fetchall()
            conn.commit()
            return [tuple(r) for r in rows]
        finally:
            conn.close()
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(sql, *args)
        return [tuple(r) for r in rows]
    finally:
        await conn.close()


def sqlite_file_bytes(path: Path) -> bytes:
    blob = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        f = Path(str(path) + suffix)
        if f.exists():
            blob += f.read_bytes()
    return blob


async def dump_database_bytes(url: str) -> bytes:
    """Everything the database holds, as bytes: on SQLite the files themselves (main db, WAL,
    shm), on PostgreSQL every column of every table cast to text, plus bytea raw."""
    if is_sqlite(url):
        return sqlite_file_bytes(sqlite_path(url))
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        tables = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        assert tables, "no tables found"
        out = bytearray()
        for table in tables:
            cols = await conn.fetch(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name = $1", table)
            for col in cols:
                name = col["column_name"]
                if col["data_type"] == "bytea":
                    rows = await conn.fetch(f'SELECT "{name}" AS v FROM "{table}"')
                    for r in rows:
                        if r["v"] is not None:
                            out += bytes(r["v"])
                rows = await conn.fetch(f'SELECT "{name}"::text AS v FROM "{table}"')
                for r in rows:
                    if r["v"] is not None:
                        out += r["v"].encode("utf-8") + b"\n"
        return bytes(out)
    finally:
        await conn.close()


# --- JWT crafting ---------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(doc: dict[str, Any]) -> str:
    return b64url(json.dumps(doc, separators=(",", ":")).encode())


def unsigned_jwt(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64url_json(header)}.{b64url_json(claims)}."


def hs256_jwt(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(sig)}"


def es256_jwt(header: dict[str, Any], claims: dict[str, Any], private_pem: bytes) -> str:
    from jose import jwt

    extra = {k: v for k, v in header.items() if k not in ("alg", "typ")}
    return str(jwt.encode(claims, private_pem.decode(), algorithm="ES256", headers=extra))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- HTTP shortcuts -------------------------------------------------------------------------

async def create_space(client: httpx.AsyncClient, who: Any, *, participants: list[str],
                       classification: str = "hemlig", title: str = "Storm",
                       description: str = "", type: str = "disruption") -> dict[str, Any]:
    r = await client.post("/api/v1/spaces", headers=who.auth, json={
        "title": title, "description": description, "type": type,
        "classification": classification, "participants": participants})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def post_entry(client: httpx.AsyncClient, who: Any, space_id: str, *, level: str,
                     body: str, audience: list[str] | None = None, kind: str = "note",
                     headers: dict[str, str] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"kind": kind, "classification": level, "body": body}
    if audience is not None:
        doc["audience"] = audience
    r = await client.post(f"/api/v1/spaces/{space_id}/entries",
                          headers={**who.auth, **(headers or {})}, json=doc)
    assert r.status_code == 201, r.text
    return dict(r.json())


def assert_problem(r: httpx.Response, status: int | None = None) -> dict[str, Any]:
    """A 4xx RFC 9457 answer with a stable code."""
    assert r.status_code != 500, r.text
    if status is not None:
        assert r.status_code == status, (r.status_code, r.text)
    else:
        assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith(PROBLEM), r.headers.get("content-type")
    doc = r.json()
    assert isinstance(doc.get("code"), str) and doc["code"], doc
    assert doc["status"] == r.status_code
    return dict(doc)


def run_wis(env: dict[str, str], *args: str, timeout: float = 180
            ) -> subprocess.CompletedProcess[str]:
    """Run the `wis` command in its own process, as an operator would."""
    return subprocess.run([sys.executable, "-m", "wis_server.cli", *args], env=env,
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def clean_env(**wis_settings: str) -> dict[str, str]:
    """The current environment without any WIS_* variable, plus the given settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIS_")}
    env.update(wis_settings)
    return env


# --- nginx in front of test servers, with the shipped deploy/nginx/wis.conf ---------------------
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None)


@contextmanager
def shipped_nginx(work: Path, edit: Callable[[str, int], str]) -> Iterator[str]:
    """Run nginx (NGINX must be set) in `work` with deploy/nginx/wis.conf as its server block,
    after `edit(site, port)` pointed it at the test servers and at the free port given; yields
    its base URL once /readyz answers through it, and stops it afterwards."""
    assert NGINX is not None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    site = edit((ROOT / "deploy" / "nginx" / "wis.conf").read_text(), port)
    (work / "wis.conf").write_text(site)
    (work / "nginx.conf").write_text(
        f"worker_processes 1;\nerror_log {work}/error.log warn;\npid {work}/nginx.pid;\n"
        "events { worker_connections 1024; }\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {work};\n"
        f"  proxy_temp_path {work};\n  include {work}/wis.conf;\n}}\n")
    process = subprocess.Popen([NGINX, "-p", str(work), "-c", str(work / "nginx.conf"),
                                "-g", "daemon off;"], stderr=subprocess.STDOUT,
                               stdout=(work / "out.log").open("wb"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError((work / "error.log").read_text())
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)
