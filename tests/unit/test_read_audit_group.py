"""ReadAuditGroup: readers that arrive while a read-audit transaction is under way are
recorded together in the next one (group commit); each returns only after its commit; one
reader's failure reaches only that reader; a reader that goes away leaves the group intact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from wis_server.domain.levels import Classification
from wis_server.services import audit
from wis_server.services.audit import ItemRead, ReadAuditGroup
from wis_server.services.ports import UnitOfWork

NOW = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)


class FakeStore:
    """Write transactions as lists of the users recorded in them; `gate` holds a
    transaction open until set; a transaction whose readers include a `bad` user fails."""

    def __init__(self) -> None:
        self.committed: list[list[str]] = []
        self.started = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()
        self.bad: set[str] = set()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[list[str]]:
        tx: list[str] = []
        self.started.set()
        await self.gate.wait()
        yield tx
        if self.bad & set(tx):
            raise RuntimeError("the database refused")
        self.committed.append(tx)


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> FakeStore:
    async def fake_record_reads(tx: list[str], *, user_id: str, **_: Any) -> None:
        tx.append(user_id)

    monkeypatch.setattr(audit, "record_reads", fake_record_reads)
    return FakeStore()


def _group(store: FakeStore) -> ReadAuditGroup:
    # The fake's transactions are lists of user ids, which `record_reads` (patched above)
    # appends to: a UnitOfWork in shape only, hence the one cast.
    return ReadAuditGroup(cast(UnitOfWork, store))


def _reads(level: Classification = Classification.SEKRETESS) -> list[ItemRead]:
    return [ItemRead("entry", "e1", "s1", level)]


async def _read(group: ReadAuditGroup, user: str) -> None:
    await group.record(NOW, user_id=user, actor_id="A", reads=_reads())


async def test_readers_waiting_on_a_transaction_share_the_next_one(store: FakeStore) -> None:
    group = _group(store)
    store.gate.clear()
    first = asyncio.ensure_future(_read(group, "u1"))
    await store.started.wait()  # u1's transaction is open, held by the gate
    rest = [asyncio.ensure_future(_read(group, f"u{n}")) for n in range(2, 7)]
    await asyncio.sleep(0)  # let them queue
    assert not first.done() and not any(r.done() for r in rest)
    store.gate.set()
    await asyncio.gather(first, *rest)
    assert store.committed == [["u1"], ["u2", "u3", "u4", "u5", "u6"]]


async def test_nothing_classified_opens_no_transaction(store: FakeStore) -> None:
    group = _group(store)
    await group.record(NOW, user_id="u1", actor_id="A", reads=_reads(Classification.PUBLIC))
    assert store.committed == [] and not store.started.is_set()


async def test_one_readers_failure_reaches_only_that_reader(store: FakeStore) -> None:
    group = _group(store)
    store.gate.clear()
    first = asyncio.ensure_future(_read(group, "u1"))
    await store.started.wait()
    store.bad = {"bad"}
    rest = [asyncio.ensure_future(_read(group, user)) for user in ("u2", "bad", "u3")]
    await asyncio.sleep(0)
    store.gate.set()
    outcomes = await asyncio.gather(first, *rest, return_exceptions=True)
    assert outcomes[0] is None and outcomes[1] is None and outcomes[3] is None
    assert isinstance(outcomes[2], RuntimeError)
    # The group's transaction failed as a whole; then each alone, the bad one failing.
    assert store.committed == [["u1"], ["u2"], ["u3"]]


async def test_a_reader_that_goes_away_leaves_the_group_recorded(store: FakeStore) -> None:
    group = _group(store)
    store.gate.clear()
    first = asyncio.ensure_future(_read(group, "u1"))
    await store.started.wait()
    gone = asyncio.ensure_future(_read(group, "gone"))
    stays = asyncio.ensure_future(_read(group, "stays"))
    await asyncio.sleep(0)
    gone.cancel()
    store.gate.set()
    await asyncio.gather(first, stays)
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert store.committed == [["u1"], ["gone", "stays"]]  # recorded all the same


async def test_a_group_after_a_quiet_spell_starts_afresh(store: FakeStore) -> None:
    group = _group(store)
    await _read(group, "u1")
    await _read(group, "u2")
    assert store.committed == [["u1"], ["u2"]]
