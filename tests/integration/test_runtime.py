"""The composition root on real databases: what a serving runtime supervises, what a
one-shot runtime leaves out, how it exits, and what /readyz shows of it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from wis_server.api.routes.stream import render_change
from wis_server.bootstrap import runtime
from wis_server.classification.keys import Keyring
from wis_server.domain.errors import Conflict
from wis_server.domain.levels import Classification

SERVING_LOOPS = {"realtime.catch_up", "realtime.revalidate", "maintenance.prune",
                 "callouts.escalation"}


async def test_a_serving_runtime_supervises_every_loop_and_stops_them(
        database_url: str, keyring: Keyring, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url)
    extra_ran = asyncio.Event()
    extra_cancelled = asyncio.Event()

    async def extra() -> None:  # what the channels dispatcher will look like
        extra_ran.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            extra_cancelled.set()
            raise

    async with asyncio.timeout(60):
        async with runtime(settings, keyring, render=render_change) as rt:
            assert rt.hub is not None
            expected = set(SERVING_LOOPS)
            if database_url.startswith("postgresql"):
                assert rt.bus is not None
                expected.add("realtime.bus")
                await rt.bus.connected.wait()  # the supervised bus really listens
            else:
                assert rt.bus is None
            rt.supervise("test.extra", extra)
            await extra_ran.wait()
            status = rt.supervisor.status()
            assert set(status) == expected | {"test.extra"}
            assert all(s.running and s.restarts == 0 for s in status.values())
            actor = await rt.services.directory.create_actor(
                None, "Länsstyrelsen", "LST", Classification.SEKRETESS)
            assert actor.short_name == "LST"
        assert extra_cancelled.is_set()
        assert not any(s.running for s in rt.supervisor.status().values())
        if rt.bus is not None:
            assert not rt.bus.connected.is_set()  # the listener connection is closed


async def test_a_one_shot_runtime_runs_no_loops(database_url: str, keyring: Keyring,
                                                 tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url)
    async with asyncio.timeout(60), runtime(settings, keyring) as rt:
        assert rt.hub is None and rt.bus is None
        assert rt.supervisor.status() == {}
        await rt.services.directory.create_actor(None, "Kommun", "K", Classification.PUBLIC)
        async with rt.store.read() as tx:
            assert (await tx.actors.by_short_name("K")) is not None


async def test_an_error_in_the_body_leaves_the_runtime_as_itself(
        database_url: str, keyring: Keyring, tmp_path: Path) -> None:
    """Not wrapped in an ExceptionGroup by the TaskGroup: the CLI maps WisError to exit 2."""
    settings = make_settings(tmp_path, database_url)
    with pytest.raises(Conflict):
        async with asyncio.timeout(60), runtime(settings, keyring,
                                                render=render_change) as rt:
            await rt.services.directory.create_actor(None, "A", "A", Classification.PUBLIC)
            await rt.services.directory.create_actor(None, "A", "A", Classification.PUBLIC)


async def test_readyz_shows_the_background_loops(
        app_client: tuple[Any, httpx.AsyncClient]) -> None:
    app, client = app_client
    r = await client.get("/readyz")
    assert r.status_code == 200
    loops = r.json()["background"]
    assert SERVING_LOOPS <= set(loops)
    assert all(v["restarts"] == 0 for v in loops.values())
    assert set(loops) == set(app.state.runtime.supervisor.status())
