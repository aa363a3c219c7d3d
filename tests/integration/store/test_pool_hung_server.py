"""A PostgreSQL that accepts but never answers: the server's processes SIGSTOPped.

The operator's case: with the store stopped, the readiness probe's ``SELECT 1`` ran for
the whole outage (asyncpg's cancel sends a CancelRequest and waits for the silent
server to close it, with no bound; a trio cancel waits for asyncpg), so a store that
came back was seen only once that call ended, and the call held a pooled connection.
``Store.fetchval_within`` bounds the call itself and closes the connection it used.

A throwaway embedded server of the test's own: stopping the session's shared server
would stall every other test.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest
import trio

from config.model import StorageConfig
from daemon.health import STORE_TIMEOUT_S, store_probe
from daemon.store import Store, open_store
from tests.support import server_processes, signal_all

pytestmark = [pytest.mark.postgres, pytest.mark.trio, pytest.mark.slow]

RESUME_AFTER_S = 8.0
"""A watchdog resumes the server by then whatever happens: a call that ignores its
bound is then measured (and fails the test) instead of hanging it for ever."""
BACKENDS_SQL = "SELECT pid FROM pg_stat_activity WHERE application_name = 'metad'"


def _server_processes(store: Store) -> list[psutil.Process]:
    assert store.embedded is not None
    return server_processes(store.embedded.pgdata)


@contextmanager
def _stopped(store: Store) -> Iterator[list[psutil.Process]]:
    """The server stopped (SIGSTOP), resumed on exit whatever happened."""
    processes = _server_processes(store)
    signal_all(processes, signal.SIGSTOP)
    try:
        yield processes
    finally:
        signal_all(processes, signal.SIGCONT)


@asynccontextmanager
async def _outage(store: Store) -> AsyncIterator[trio.Event]:
    """The server stopped until the block ends or the watchdog resumes it (``resumed``)."""
    resumed = trio.Event()
    with _stopped(store) as processes:
        async with trio.open_nursery() as nursery:

            async def watchdog() -> None:
                await trio.sleep(RESUME_AFTER_S)
                signal_all(processes, signal.SIGCONT)
                resumed.set()

            nursery.start_soon(watchdog)
            yield resumed
            nursery.cancel_scope.cancel()


async def _timed(call: object) -> tuple[BaseException | None, float]:
    started = trio.current_time()
    try:
        await call  # type: ignore[misc]
    except Exception as exc:
        return exc, trio.current_time() - started
    return None, trio.current_time() - started


async def test_a_bounded_call_gives_up_on_a_stopped_server_and_drops_its_connection(
    pg_state_dir: Path,
) -> None:
    storage = StorageConfig(pool_min_size=2, pool_max_size=4)
    async with open_store(storage, state_dir=pg_state_dir / "state") as store:
        assert await store.fetchval_within("SELECT 1", timeout=1.0) == 1
        before = {row["pid"] for row in await store.fetch(BACKENDS_SQL)}
        async with _outage(store) as resumed:
            for _ in range(3):  # each one bounded, not only the first
                error, took = await _timed(store.fetchval_within("SELECT 1", timeout=1.0))
                assert isinstance(error, TimeoutError)
                assert took < 2.0
                assert not resumed.is_set()
        with trio.fail_after(5):
            assert await store.fetchval_within("SELECT 1", timeout=1.0) == 1
            # The connections that timed out were closed, not pooled again: their
            # backends are gone once the server runs again.
            while before <= {row["pid"] for row in await store.fetch(BACKENDS_SQL)}:
                await trio.sleep(0.05)
            # Every connection the pool hands out now answers at once.
            async with trio.open_nursery() as nursery:
                for _ in range(storage.pool_max_size):
                    nursery.start_soon(store.fetchval, "SELECT pg_sleep(0.05)")


async def test_the_readiness_probe_ends_within_its_bound_and_sees_the_store_come_back(
    pg_state_dir: Path,
) -> None:
    """``/readyz``'s probe: 503 within its bound while the server is stopped, the call
    itself over too (a probe's exit waits for it), and ready at once after."""
    async with open_store(StorageConfig(), state_dir=pg_state_dir / "state") as store:
        async with _outage(store) as resumed:
            started = trio.current_time()
            async with store_probe(store) as probe:
                reason = await probe.reason()
            took = trio.current_time() - started
            assert reason == f"store: no answer to SELECT 1 within {STORE_TIMEOUT_S:g}s"
            assert not resumed.is_set(), f"the probe's call ran {took:.1f} s"
            assert took < STORE_TIMEOUT_S + 1.0
        with trio.fail_after(3):
            async with store_probe(store) as probe:
                assert await probe.reason() is None


async def test_abandon_fails_the_calls_in_flight_on_a_stopped_server_at_once(
    pg_state_dir: Path,
) -> None:
    """A shutdown past its bound (``daemon.main._store_abandoned_past``): a pooled call, a
    transaction and a call on a connection of ``dedicated()``, all waiting on the stopped
    server, fail as soon as the store is abandoned; later calls fail too, at once."""
    storage = StorageConfig(pool_min_size=2, pool_max_size=4)
    async with open_store(storage, state_dir=pg_state_dir / "state") as store:
        failed: dict[str, tuple[BaseException | None, float]] = {}

        async def pooled() -> None:
            failed["pooled"] = await _timed(store.fetchval("SELECT 1"))

        async def in_transaction() -> None:
            async def run() -> None:
                async with store.transaction() as tx:
                    await tx.execute("SELECT 1")

            failed["transaction"] = await _timed(run())

        # The dedicated connection is opened before the outage: its call hangs.
        async with store.dedicated() as held, _outage(store) as resumed:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pooled)
                nursery.start_soon(in_transaction)

                async def on_held() -> None:
                    failed["held"] = await _timed(held.fetchval("SELECT 1"))

                nursery.start_soon(on_held)
                await trio.sleep(1.0)  # all three are waiting on the server now
                assert not failed
                await store.abandon()
            assert not resumed.is_set(), "the calls waited for the server"
            later, took = await _timed(store.fetchval("SELECT 1"))
            assert later is not None
            assert took < 1.0
        for name in ("pooled", "transaction", "held"):
            error, took = failed[name]
            assert error is not None, name
            assert took < 2.0, (name, took)
