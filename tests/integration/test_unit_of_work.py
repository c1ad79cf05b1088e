"""A transaction builds only the repositories it uses (issue 9 item 5), once each."""

from __future__ import annotations

from tests.conftest import World

REPOSITORIES = {"actors", "users", "tokens", "spaces", "entries", "reports", "callouts",
                "audit", "idempotency", "outbox", "notifications"}


async def test_repositories_are_built_lazily_once_per_transaction(world: World) -> None:
    store = world.app.state.store
    async with store.read() as tx:
        assert not REPOSITORIES & set(vars(tx))  # nothing built yet
        actors = tx.actors
        assert await actors.existing_ids([world.actors["A"]]) == {world.actors["A"]}
        assert tx.actors is actors
        assert REPOSITORIES & set(vars(tx)) == {"actors"}
    async with store.write() as other:
        assert other.actors is not actors  # a new transaction, new repositories
        for name in REPOSITORIES:  # every one still reachable
            assert getattr(other, name).__class__.__name__.endswith("Repository")
