"""Data keys are stamped by the injected clock, not by reading the time in storage: a test,
a replay or a frozen clock controls every timestamp the server writes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from tests.conftest import make_settings
from wis_server.bootstrap import runtime
from wis_server.classification.crypto import EnvelopeCipher
from wis_server.classification.keys import Keyring
from wis_server.domain.levels import Classification
from wis_server.storage.database import Database
from wis_server.storage.tables import data_keys
from wis_server.storage.unit import Store

FROZEN = datetime(2031, 5, 6, 12, 30, tzinfo=UTC)


async def _created_at(database: Database, key_id: str) -> datetime:
    async with database.read() as conn:
        return (await conn.execute(
            select(data_keys.c.created_at).where(data_keys.c.id == key_id))).scalar_one()


async def test_sealer_stamps_new_keys_with_the_store_clock(database_url: str,
                                                           keyring: Keyring) -> None:
    database = Database(database_url)
    try:
        store = Store(database, EnvelopeCipher(keyring), keyring.audit_key,
                      clock=lambda: FROZEN)
        async with store.write() as tx:
            key = await tx.entries.new_key(Classification.SEKRETESS)
        assert await _created_at(database, key.id) == FROZEN
    finally:
        await database.dispose()


async def test_the_runtime_hands_its_clock_to_the_sealer(database_url: str, keyring: Keyring,
                                                         tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url)
    async with runtime(settings, keyring, clock=lambda: FROZEN) as rt:
        async with rt.store.write() as tx:
            key = await tx.entries.new_key(Classification.PUBLIC)
        assert await _created_at(rt.database, key.id) == FROZEN
