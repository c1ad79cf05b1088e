"""Sign-in under attack (issue 7, items 1-3): argon2 runs off the event loop with bounded
concurrency, a concurrent burst is counted in full before any hashing, nobody can lock
another's account from elsewhere, and distributed guessing shows up for the actor's admins."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher

from tests.conftest import World, make_settings
from tests.helpers import assert_problem
from wis_server.api.app import create_app
from wis_server.classification.keys import Keyring
from wis_server.domain.levels import Classification, Role
from wis_server.services.passwords import Passwords


class SpyHasher(PasswordHasher):
    """A cheap argon2 hasher that records on which thread each hash/verify ran."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.threads: list[int] = []
        self.verifies = 0

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.threads.append(threading.get_ident())
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.threads.append(threading.get_ident())
        self.verifies += 1
        return super().verify(hash, password)


@pytest.fixture
async def spy_world(database_url: str, keyring: Keyring, tmp_path: Path
                    ) -> AsyncIterator[tuple[World, SpyHasher, Passwords]]:
    hasher = SpyHasher()
    passwords = Passwords(hasher, concurrency=2)
    hasher.threads.clear()
    app = create_app(make_settings(tmp_path, database_url), keyring, passwords=passwords)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            world = World(c, app)
            await world.add_actor("A", Classification.HEMLIG)
            await world.add_person("a_admin", "A", Role.ACTOR_ADMIN, Classification.HEMLIG)
            await world.add_person("a_editor", "A", Role.EDITOR, Classification.HEMLIG)
            yield world, hasher, passwords


def _client(world: World, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=world.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _sign_in(c: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await c.post("/api/v1/auth/token", json={"username": username, "password": password})


async def test_hashing_never_runs_on_the_event_loop(
        spy_world: tuple[World, SpyHasher, Passwords]) -> None:
    world, hasher, passwords = spy_world
    loop_thread = threading.get_ident()
    person = world["a_editor"]
    hasher.threads.clear()
    results = await asyncio.gather(*(
        _sign_in(world.client, f"user-{i}", "wrong-password!") for i in range(12)),
        _sign_in(world.client, person.username, person.password))
    assert [r.status_code for r in results] == [401] * 12 + [200]
    # Password reset and user creation hash off the loop, too.
    r = await world.client.post(f"/api/v1/users/{person.user_id}/password",
                                headers=world["a_admin"].auth,
                                json={"password": "another-long-password"})
    assert r.status_code == 204, r.text
    r = await world.client.post(f"/api/v1/actors/{world.actors['A']}/users",
                                headers=world["a_admin"].auth,
                                json={"username": "new.person", "password": "zq-" * 5,
                                      "display_name": "New", "role": "reader",
                                      "clearance": "public"})
    assert r.status_code == 201, r.text
    assert len(hasher.threads) >= 15
    assert loop_thread not in hasher.threads
    assert 1 <= passwords.peak_in_flight <= passwords.concurrency


@pytest.mark.parametrize("right_one_at", [0, 11, 23])
async def test_a_concurrent_burst_is_counted_before_any_hashing(
        spy_world: tuple[World, SpyHasher, Passwords], right_one_at: int) -> None:
    """24 concurrent guesses from one address, the right one among them: only the pair's
    allowance (5) is evaluated at all; the rest are refused (429) without hashing."""
    world, hasher, _ = spy_world
    person = world["a_editor"]
    hasher.verifies = 0
    guesses = [f"wrong-guess-{i:02d}" for i in range(24)]
    guesses[right_one_at] = person.password
    results = await asyncio.gather(*(_sign_in(world.client, person.username, g)
                                     for g in guesses))
    statuses = [r.status_code for r in results]
    assert statuses.count(429) == 24 - 5, statuses
    assert hasher.verifies == 5
    # The five evaluated were answered properly (no 500: on PostgreSQL a failed attempt once
    # locked the audit chain before the user's row and deadlocked with the successful one),
    # and the right password among them signed in; the first of the burst is always among them.
    assert set(statuses) <= {200, 401, 429}, statuses
    assert statuses.count(200) == (statuses[right_one_at] != 429), statuses
    if right_one_at == 0:
        assert statuses[0] == 200, statuses
    for r in results:
        if r.status_code == 429:
            assert assert_problem(r)["code"] == "too_many_attempts"
            assert int(r.headers["retry-after"]) > 0


async def test_distributed_guessing_cannot_lock_the_owner_out(
        spy_world: tuple[World, SpyHasher, Passwords]) -> None:
    """30 wrong passwords over 6 addresses: the owner's correct password from a fresh
    address signs in; the guesses were slowed, audited and counted for the admins."""
    world, _, _ = spy_world
    throttle = world.app.state.services.sessions.throttle
    throttle.delay_base_s = throttle.delay_max_s = 0.001  # the delay's size is not under test
    person = world["a_editor"]
    delays: list[float] = []
    original = throttle.delay_for
    throttle.delay_for = lambda reservation: delays.append(original(reservation)) or delays[-1]
    for n in range(6):
        async with _client(world, f"203.0.113.{n + 1}") as c:
            for i in range(5):
                assert (await _sign_in(c, person.username, f"guess-{n}-{i}-x")).status_code \
                    == 401
    async with _client(world, "198.51.100.9") as c:
        r = await _sign_in(c, person.username, person.password)
        assert r.status_code == 200, r.text
    # Past the free allowance (10) every attempt at the username waited.
    assert delays[:10] == [0.0] * 10 and all(d > 0 for d in delays[10:])
    # The actor's admin sees the guessing: a counter on the user and an audit record.
    admin = world["a_admin"]
    users = (await world.client.get(f"/api/v1/actors/{world.actors['A']}/users",
                                    headers=admin.auth)).json()["items"]
    # The counter shows failures since the last sign-in: it was reset by the owner's.
    mine = next(u for u in users if u["id"] == person.user_id)
    assert mine["failed_sign_ins"] == 0 and mine["last_failed_sign_in_at"]
    async with _client(world, "203.0.113.99") as c:
        assert (await _sign_in(c, person.username, "one-more-wrong")).status_code == 401
    users = (await world.client.get(f"/api/v1/actors/{world.actors['A']}/users",
                                    headers=admin.auth)).json()["items"]
    assert next(u for u in users if u["id"] == person.user_id)["failed_sign_ins"] == 1
    audit = (await world.client.get("/api/v1/audit", params={"limit": 500},
                                    headers=admin.auth)).json()["items"]
    alerts = [a for a in audit if a["action"] == "auth.guessing_suspected"]
    assert alerts and alerts[0]["target_id"] == person.user_id
    assert alerts[0]["detail"]["failures"] == 11


async def test_the_pair_limit_still_stops_one_address(
        spy_world: tuple[World, SpyHasher, Passwords]) -> None:
    world, hasher, _ = spy_world
    person = world["a_editor"]
    async with _client(world, "203.0.113.50") as c:
        for _ in range(5):
            assert (await _sign_in(c, person.username, "wrong-password!")).status_code == 401
        hasher.verifies = 0
        for _ in range(20):
            assert_problem(await _sign_in(c, person.username, person.password), 429)
        assert hasher.verifies == 0  # refused before any hashing
    async with _client(world, "203.0.113.51") as c:
        assert (await _sign_in(c, person.username, person.password)).status_code == 200


def test_throttle_memory_is_bounded_without_wiping_everything() -> None:
    from datetime import UTC, datetime

    from wis_server.services.throttle import LoginThrottle

    now = datetime(2026, 12, 1, tzinfo=UTC)
    throttle = LoginThrottle(lambda: now, max_keys=50)
    victim = throttle.reserve("victim", "10.0.0.1")
    throttle.failed(victim)
    for i in range(4):
        throttle.failed(throttle.reserve("victim", "10.0.0.1"))
    assert throttle.retry_after("victim", "10.0.0.1") > 0
    size = len(throttle._windows)
    # Refused attempts add nothing.
    for _ in range(1000):
        assert throttle.reserve("victim", "10.0.0.1").retry_after > 0
    assert len(throttle._windows) == size
    # A spray of names evicts the least recently touched windows one at a time.
    for i in range(40):
        throttle.reserve(f"name-{i}", f"10.0.{i // 200}.{i % 200}")
    assert len(throttle._windows) == 50
    for i in range(40, 400):
        throttle.reserve(f"name-{i}", f"10.0.{i // 200}.{i % 200}")
        assert len(throttle._windows) == 50  # never cleared all at once
    assert ("pair", "name-399\x0010.0.1.199") in throttle._windows


def test_the_per_username_delay_grows_and_stays_bounded() -> None:
    from datetime import UTC, datetime

    from wis_server.services.throttle import DELAY_MAX_S, LoginThrottle

    now = datetime(2026, 12, 1, tzinfo=UTC)
    throttle = LoginThrottle(lambda: now)
    delays = [throttle.delay_for(throttle.reserve("target", f"10.1.{i // 5}.{i % 5}"))
              for i in range(80)]
    assert delays[:10] == [0.0] * 10
    assert delays[10] > 0
    assert delays[40] > delays[10]
    assert max(delays) <= DELAY_MAX_S

