"""The asyncio-thread bridge: results, errors, cancellation, shutdown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import trio

from daemon.store import AsyncioThread, Store, StoreError


@pytest.fixture
async def bridge() -> AsyncIterator[AsyncioThread]:
    thread = AsyncioThread(name="test-bridge")
    await trio.to_thread.run_sync(thread.start)
    try:
        yield thread
    finally:
        await trio.to_thread.run_sync(thread.stop)


async def _add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


async def _boom() -> None:
    raise ValueError("from the loop")


async def _stubborn(log: list[str]) -> int:
    """Ignores one cancellation and finishes: the bridge must return its result."""
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        log.append("cancel seen")
        await asyncio.sleep(0.05)
        return 42
    return 0


async def _sleeper(log: list[str]) -> None:
    try:
        await asyncio.sleep(10)
    finally:
        log.append("finally ran on the loop")


@pytest.mark.trio
async def test_result_and_error_cross_the_bridge(bridge: AsyncioThread) -> None:
    assert await bridge.run(_add, 2, 3) == 5
    with pytest.raises(ValueError, match="from the loop"):
        await bridge.run(_boom)


def _not_a_coroutine_function(x: int) -> object:
    raise KeyError(x)


@pytest.mark.trio
async def test_synchronous_failure_on_the_loop_is_delivered(bridge: AsyncioThread) -> None:
    with trio.fail_after(2), pytest.raises(KeyError):
        await bridge.run(_not_a_coroutine_function, 1)  # type: ignore[arg-type]


@pytest.mark.trio
async def test_trio_cancel_waits_for_the_asyncio_task(bridge: AsyncioThread) -> None:
    log: list[str] = []
    start = time.monotonic()
    with trio.move_on_after(0.1) as scope:
        await bridge.run(_sleeper, log)
    assert scope.cancelled_caught
    assert log == ["finally ran on the loop"]  # finished before trio resumed
    assert time.monotonic() - start < 1.0


@pytest.mark.trio
async def test_result_wins_when_the_coroutine_finishes_despite_cancel(
    bridge: AsyncioThread,
) -> None:
    log: list[str] = []
    result = None
    with trio.move_on_after(0.1):
        result = await bridge.run(_stubborn, log)
    assert log == ["cancel seen"]
    assert result == 42


@pytest.mark.trio
async def test_many_concurrent_calls(bridge: AsyncioThread) -> None:
    results: list[int] = []

    async def one(i: int) -> None:
        results.append(await bridge.run(_add, i, 1))

    async with trio.open_nursery() as nursery:
        for i in range(500):
            nursery.start_soon(one, i)
    assert sorted(results) == list(range(1, 501))


@pytest.mark.trio
async def test_stop_fails_running_and_new_calls() -> None:
    thread = AsyncioThread()
    await trio.to_thread.run_sync(thread.start)
    log: list[str] = []
    errors: list[BaseException] = []

    async def call() -> None:
        try:
            await thread.run(_sleeper, log)
        except StoreError as exc:
            errors.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call)
        await trio.sleep(0.05)
        await trio.to_thread.run_sync(thread.stop)
    assert len(errors) == 1
    assert "stopped" in str(errors[0])
    with pytest.raises(StoreError, match="stopped"):
        await thread.run(_add, 1, 1)


@pytest.mark.postgres
@pytest.mark.trio
async def test_basic_queries(store: Store) -> None:
    assert await store.fetchval("SELECT 1 + $1::int", 1) == 2
    row = await store.fetchrow("SELECT 1 AS a, 'x' AS b")
    assert row is not None
    assert (row["a"], row[1]) == (1, "x")
    assert dict(row.items()) == {"a": 1, "b": "x"}
    rows = await store.fetch("SELECT g FROM generate_series(1, 3) AS g")
    assert [r["g"] for r in rows] == [1, 2, 3]
    assert await store.fetchrow("SELECT 1 WHERE false") is None
    status = await store.execute("INSERT INTO events (kind, data) VALUES ($1, $2)", "k", {"a": [1]})
    assert status == "INSERT 0 1"
    assert await store.fetchval("SELECT data FROM events WHERE kind = 'k'") == {"a": [1]}


@pytest.mark.postgres
@pytest.mark.trio
async def test_bulk_helpers(store: Store) -> None:
    await store.executemany(
        "INSERT INTO events (kind, subject) VALUES ($1, $2)", [("a", "1"), ("a", "2")]
    )
    status = await store.copy_records(
        "events", [("b", "3", {"n": 1}), ("b", "4", {"n": 2})], columns=("kind", "subject", "data")
    )
    assert status == "COPY 2"
    assert await store.fetchval("SELECT count(*) FROM events") == 4
    with pytest.raises(ValueError, match="identifier"):
        await store.copy_records("events; drop", [], columns=("kind",))


@pytest.mark.postgres
@pytest.mark.trio
async def test_cancelled_query_is_cancelled_server_side(store: Store) -> None:
    start = time.monotonic()
    with trio.move_on_after(0.3) as scope:
        await store.fetchval("SELECT pg_sleep(5)")
    elapsed = time.monotonic() - start
    assert scope.cancelled_caught
    assert elapsed < 1.0
    active = await store.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND state = 'active' AND query LIKE 'SELECT pg_sleep%'"
    )
    assert active == 0
    assert await store.fetchval("SELECT 1") == 1


@pytest.mark.postgres
@pytest.mark.trio
async def test_every_pool_connection_survives_cancellation(store: Store) -> None:
    async def sleep_query() -> None:
        await store.fetchval("SELECT pg_sleep(5)")

    with trio.move_on_after(0.3):
        async with trio.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(sleep_query)
    answers: list[int] = []

    async def ask() -> None:
        answers.append(await store.fetchval("SELECT 1"))

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(ask)
    assert answers == [1] * 10
