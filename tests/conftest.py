"""Shared fixtures: a real database per test (SQLite file, and PostgreSQL when
WIS_TEST_POSTGRES_URL is set), the real app in-process over httpx, and a small world of
actors and users to act as."""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from wis_server.api.app import create_app
from wis_server.classification.keys import Keyring, generate_keyring
from wis_server.config import load_settings
from wis_server.domain.levels import Classification, Role
from wis_server.observability import configure_logging
from wis_server.services.passwords import Passwords
from wis_server.storage.database import Database
from wis_server.storage.migrate import migrate

POSTGRES_URL = os.environ.get("WIS_TEST_POSTGRES_URL", "")
# The product's logging, as `wis serve` configures it: plain tracebacks without local
# variables (structlog's unconfigured default renders locals, which in a failing test's output
# would show passwords and tokens held by the frames).
configure_logging("info", "console")
FAST_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def pytest_report_header(config: Any) -> str:
    if POSTGRES_URL:
        return "PostgreSQL tests: ON (WIS_TEST_POSTGRES_URL is set)"
    return ("PostgreSQL tests: SKIPPED — set WIS_TEST_POSTGRES_URL "
            "(e.g. postgresql://postgres@127.0.0.1:5432/test) to run them")


async def _admin_connect() -> Any:
    import asyncpg

    return await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://"))


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (for a server process to migrate), dropped afterwards;
    yields its URL. For synchronous module fixtures; skips without WIS_TEST_POSTGRES_URL."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL: WIS_TEST_POSTGRES_URL not set")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(POSTGRES_URL, name)
    finally:
        asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def admin_sql(sql: str) -> None:
    """Run one statement on the PostgreSQL server's admin database (CREATE/DROP DATABASE)."""
    conn = await _admin_connect()
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, migrated, empty database on each engine."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'wis.db'}"
        database = Database(url)
        await migrate(database)
        await database.dispose()
        yield url
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL: WIS_TEST_POSTGRES_URL not set")
    name = f"wis_test_{uuid.uuid4().hex[:12]}"
    conn = await _admin_connect()
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = _with_database(POSTGRES_URL, name)
    database = Database(url)
    await migrate(database)
    await database.dispose()
    try:
        yield url
    finally:
        conn = await _admin_connect()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture
def keyring() -> Keyring:
    return generate_keyring()


def make_settings(tmp_path: Path, database_url: str, **overrides: str) -> Any:
    env = {"WIS_DATA_DIR": str(tmp_path / "var"), "WIS_DATABASE_URL": database_url,
           "WIS_COOKIE_SECURE": "false", **overrides}
    return load_settings(env)


@dataclass
class Person:
    username: str
    password: str
    user_id: str
    actor_id: str
    role: Role
    clearance: Classification
    token: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    """Actors A, B, C (ceiling hemlig, sekretess, public) and people in them."""

    client: httpx.AsyncClient
    app: Any
    actors: dict[str, str] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)

    async def add_actor(self, short: str, ceiling: Classification) -> str:
        actor = await self.app.state.services.directory.create_actor(
            None, f"Aktör {short}", short, ceiling)
        self.actors[short] = actor.id
        return str(actor.id)

    async def add_person(self, username: str, actor: str, role: Role,
                         clearance: Classification) -> Person:
        password = "pw-" + secrets.token_urlsafe(12)
        user = await self.app.state.services.directory.create_user(
            None, self.actors[actor], username, password, username.title(), role, clearance)
        person = Person(username, password, user.id, user.actor_id, role, clearance)
        person.token = self.app.state.tokens.issue(user.id, user.actor_id,
                                                   self.app.state.clock())
        self.people[username] = person
        return person

    def __getitem__(self, username: str) -> Person:
        return self.people[username]


@pytest.fixture
async def app_client(database_url: str, keyring: Keyring, tmp_path: Path
                     ) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    settings = make_settings(tmp_path, database_url)
    app = create_app(settings, keyring, passwords=FAST_PASSWORDS)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


@pytest.fixture
async def world(app_client: tuple[Any, httpx.AsyncClient]) -> World:
    """A: Länsstyrelsen-like (hemlig ceiling), B: municipality (sekretess), C: company
    (public). Each has an editor at its ceiling; A and B also a reader at public and an
    actor admin; there is one system admin."""
    app, client = app_client
    w = World(client, app)
    await w.add_actor("A", Classification.HEMLIG)
    await w.add_actor("B", Classification.SEKRETESS)
    await w.add_actor("C", Classification.PUBLIC)
    await w.add_person("sys", "A", Role.SYSTEM_ADMIN, Classification.PUBLIC)
    await w.add_person("a_editor", "A", Role.EDITOR, Classification.HEMLIG)
    await w.add_person("a_reader", "A", Role.READER, Classification.PUBLIC)
    await w.add_person("a_admin", "A", Role.ACTOR_ADMIN, Classification.PUBLIC)
    await w.add_person("b_editor", "B", Role.EDITOR, Classification.SEKRETESS)
    await w.add_person("b_speaker", "B", Role.SPOKESPERSON, Classification.SEKRETESS)
    await w.add_person("b_reader", "B", Role.READER, Classification.PUBLIC)
    await w.add_person("b_admin", "B", Role.ACTOR_ADMIN, Classification.PUBLIC)
    await w.add_person("c_editor", "C", Role.EDITOR, Classification.PUBLIC)
    return w


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def repo_root() -> Iterator[Path]:
    yield Path(__file__).resolve().parent.parent
