"""BatchWriter: durability on return, group commit, error delivery, drain on exit."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from config.model import StorageConfig
from daemon.store import BatchWriteError, Store, StoreError, open_store

pytestmark = [pytest.mark.postgres, pytest.mark.trio]

COLS = ("kind", "subject", "data")


async def _count(store: Store, kind: str | None = None) -> int:
    if kind is None:
        result: int = await store.fetchval("SELECT count(*) FROM events")
    else:
        result = await store.fetchval("SELECT count(*) FROM events WHERE kind = $1", kind)
    return result


async def test_row_is_committed_when_append_returns(store: Store) -> None:
    await store.writer.append("events", COLS, ("one", "s", {"x": 1}))
    # Seen from another connection, so it is committed, not just sent.
    async with store.dedicated() as other:
        assert await other.fetchval("SELECT data FROM events WHERE kind = 'one'") == {"x": 1}


async def test_concurrent_appends_share_transactions(store: Store) -> None:
    before = store.writer.stats
    async with trio.open_nursery() as nursery:
        for i in range(300):
            nursery.start_soon(store.writer.append, "events", COLS, ("burst", str(i), {}))
    after = store.writer.stats
    assert await _count(store, "burst") == 300
    assert after.rows - before.rows == 300
    transactions = after.transactions - before.transactions
    assert 1 <= transactions < 300 // 10


async def test_full_batch_flushes_without_waiting_for_the_timer(
    db_dsn: str, tmp_path: Path
) -> None:
    cfg = StorageConfig(dsn=db_dsn, writer_batch_rows=10, writer_flush_ms=60_000)
    async with open_store(cfg, state_dir=tmp_path) as store:
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                for i in range(20):
                    nursery.start_soon(store.writer.append, "events", COLS, ("full", str(i), {}))
        assert store.writer.stats.transactions == 2
        assert await _count(store, "full") == 20


async def test_several_tables_in_one_batch(store: Store) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(store.writer.append, "events", ("kind",), ("e",))
        nursery.start_soon(
            store.writer.append, "webhook_inbox", ("body", "signature_ok"), (b"{}", True)
        )
    assert await store.fetchval("SELECT body FROM webhook_inbox") == b"{}"
    assert await _count(store, "e") == 1


async def test_bad_row_fails_alone(store: Store) -> None:
    await store.writer.append(
        "webhook_inbox", ("body", "signature_ok", "dedupe_key"), (b"1", True, "k")
    )
    outcomes: dict[str, BaseException | None] = {}

    async def append(key: str) -> None:
        try:
            await store.writer.append(
                "webhook_inbox", ("body", "signature_ok", "dedupe_key"), (b"2", True, key)
            )
        except BatchWriteError as exc:
            outcomes[key] = exc
        else:
            outcomes[key] = None

    before = store.writer.stats
    async with trio.open_nursery() as nursery:
        for key in ("a", "k", "b"):  # "k" is a duplicate
            nursery.start_soon(append, key)
    after = store.writer.stats
    # One batch failed as a whole, then one retry with a savepoint per row committed.
    assert after.transactions - before.transactions == 1
    assert (after.rows - before.rows, after.failed_rows - before.failed_rows) == (2, 1)
    assert outcomes["a"] is None
    assert outcomes["b"] is None
    error = outcomes["k"]
    assert isinstance(error, BatchWriteError)
    assert "duplicate key" in str(error)
    assert type(error.__cause__).__name__ == "UniqueViolationError"
    keys = await store.fetch("SELECT dedupe_key FROM webhook_inbox ORDER BY dedupe_key")
    assert [r["dedupe_key"] for r in keys] == ["a", "b", "k"]


async def test_failing_batch_reaches_every_waiter(store: Store) -> None:
    errors: list[BaseException] = []

    async def append(i: int) -> None:
        try:
            await store.writer.append("no_such_table", ("kind",), (str(i),))
        except BatchWriteError as exc:
            errors.append(exc)

    async with trio.open_nursery() as nursery:
        for i in range(5):
            nursery.start_soon(append, i)
    assert len(errors) == 5
    assert all("no_such_table" in str(e) for e in errors)
    # The writer keeps working after a failed batch.
    await store.writer.append("events", ("kind",), ("after",))
    assert await _count(store, "after") == 1
    assert store.writer.stats.failed_rows == 5


async def test_wrong_arity_is_refused_up_front(store: Store) -> None:
    with pytest.raises(ValueError, match="2 columns but 1 values"):
        await store.writer.append("events", ("kind", "subject"), ("x",))
    with pytest.raises(ValueError, match="identifier"):
        await store.writer.append("events", ("kind; --",), ("x",))


async def test_flush_forces_a_slow_batch(db_dsn: str, tmp_path: Path) -> None:
    cfg = StorageConfig(dsn=db_dsn, writer_flush_ms=60_000)
    async with open_store(cfg, state_dir=tmp_path) as store, trio.open_nursery() as nursery:
        nursery.start_soon(store.writer.append, "events", ("kind",), ("slow",))
        await trio.sleep(0.05)
        assert await _count(store, "slow") == 0
        with trio.fail_after(5):
            await store.writer.flush()
        assert await _count(store, "slow") == 1


async def test_exit_drains_and_then_refuses(db_dsn: str, tmp_path: Path) -> None:
    cfg = StorageConfig(dsn=db_dsn, writer_flush_ms=60_000)
    done: list[str] = []

    async def append(store: Store) -> None:
        await store.writer.append("events", ("kind",), ("drained",))
        done.append("ok")

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, open_store(cfg, state_dir=tmp_path) as store:
            nursery.start_soon(append, store)
            await trio.sleep(0.05)
            assert done == []
    assert done == ["ok"]
    with pytest.raises(StoreError, match="not running"):
        await store.writer.append("events", ("kind",), ("late",))
    async with open_store(StorageConfig(dsn=db_dsn), state_dir=tmp_path) as again:
        assert await _count(again, "drained") == 1
