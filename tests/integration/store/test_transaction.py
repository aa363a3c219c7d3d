"""Transactions: commit, rollback on error and on cancellation, connection hygiene."""

from __future__ import annotations

import pytest
import trio

from daemon.store import Store, StoreError

pytestmark = [pytest.mark.postgres, pytest.mark.trio]


async def _kinds(store: Store) -> list[str]:
    rows = await store.fetch("SELECT kind FROM events ORDER BY id")
    return [r["kind"] for r in rows]


async def test_commit_on_success(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.execute("INSERT INTO events (kind) VALUES ('a')")
        await tx.execute("INSERT INTO events (kind) VALUES ('b')")
        assert await tx.fetchval("SELECT count(*) FROM events") == 2
    assert await _kinds(store) == ["a", "b"]


async def test_rollback_on_exception(store: Store) -> None:
    async def insert_then_fail() -> None:
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO events (kind) VALUES ('a')")
            raise RuntimeError("abandon")

    with pytest.raises(RuntimeError, match="abandon"):
        await insert_then_fail()
    assert await _kinds(store) == []


async def test_rollback_after_failed_statement(store: Store) -> None:
    async def insert_then_violate() -> None:
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO events (kind) VALUES ('a')")
            await tx.execute(
                "INSERT INTO budget_ledger (kind, category, amount_usd) VALUES ('x', 'm', 1)"
            )

    with pytest.raises(Exception, match="violates check constraint"):
        await insert_then_violate()
    assert await _kinds(store) == []
    assert await store.fetchval("SELECT 1") == 1


async def test_rollback_on_cancellation(store: Store) -> None:
    with trio.move_on_after(0.3) as scope:
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO events (kind) VALUES ('a')")
            await tx.fetchval("SELECT pg_sleep(5)")
    assert scope.cancelled_caught
    assert await _kinds(store) == []
    # No connection was returned to the pool inside a transaction.
    idle_in_tx = await store.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND state LIKE 'idle in transaction%'"
    )
    assert idle_in_tx == 0


async def test_rollback_when_cancelled_between_statements(store: Store) -> None:
    with trio.CancelScope() as scope:
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO events (kind) VALUES ('a')")
            scope.cancel()
            await trio.sleep(1)
    assert await _kinds(store) == []


async def test_connection_unusable_after_block(store: Store) -> None:
    async with store.transaction() as tx:
        pass
    with pytest.raises(StoreError, match="after its transaction ended"):
        await tx.fetchval("SELECT 1")


async def test_concurrent_transactions_do_not_leak(store: Store) -> None:
    async def work(i: int) -> None:
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO events (kind) VALUES ($1)", f"k{i}")

    async with trio.open_nursery() as nursery:
        for i in range(30):
            nursery.start_soon(work, i)
    assert await store.fetchval("SELECT count(*) FROM events") == 30


async def test_dedicated_connection_may_hold_session_state(store: Store) -> None:
    async with store.dedicated() as con:
        await con.execute("SET application_name = 'dedicated'")
        assert await con.fetchval("SHOW application_name") == "dedicated"
    # Pooled connections never saw it.
    assert await store.fetchval("SHOW application_name") == "metad"


async def test_failed_commit_raises_and_releases(store: Store) -> None:
    await store.execute("CREATE TABLE deferred_unique (k int UNIQUE DEFERRABLE INITIALLY DEFERRED)")

    async def violate_at_commit() -> None:
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO deferred_unique VALUES (1), (1)")

    with pytest.raises(Exception, match="duplicate key"):
        await violate_at_commit()
    assert await store.fetchval("SELECT count(*) FROM deferred_unique") == 0
    async with store.transaction() as tx:
        await tx.execute("INSERT INTO deferred_unique VALUES (2)")
    assert await store.fetchval("SELECT count(*) FROM deferred_unique") == 1
