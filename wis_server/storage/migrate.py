"""Alembic migrations, run on the async engine's connection (no second, sync driver)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def migrate(database: Database, to: str = "head") -> str:
    """Upgrade to head (or to an earlier revision `to`); returns the revision now applied."""

    def _upgrade(sync_conn: Any) -> str:
        config = alembic_config()
        config.attributes["connection"] = sync_conn
        command.upgrade(config, to)
        return str(MigrationContext.configure(sync_conn).get_current_revision())

    async with database.write() as conn:
        return str(await conn.run_sync(_upgrade))


async def current_revision(database: Database) -> str | None:
    def _current(sync_conn: Any) -> str | None:
        return MigrationContext.configure(sync_conn).get_current_revision()

    async with database.read() as conn:
        return await conn.run_sync(_current)


def head_revision() -> str:
    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())
