"""Storage outage: the endpoint answers 503 (Meta retries), the daemon lives on, and the
same deliveries go in once the database is back.

The outage is real: the test database stops accepting connections and every backend
the daemon holds is terminated, so the pool can neither use nor replace a connection.
It lasts longer than the processor's idle poll (1 s), which therefore fails meanwhile
and must retry instead of taking the daemon down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trio

from actors.chip import GetSnapshot
from actors.waba import GetWabaSnapshot
from config.model import StorageConfig
from daemon.store import Store, open_store
from tests.integration.webhook.conftest import Hook, running
from tests.integration.webhook.support import message_body
from tests.unit.daemon.webhook.samples import PNID, WABA, fixture


@asynccontextmanager
async def outage(admin: Store, database: str) -> AsyncIterator[None]:
    await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database
    )
    try:
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')


async def _quiet(hook: Hook) -> None:
    """Everything stored so far is processed and the actors have handled what they were
    sent (the WABA its start-up template sync): nothing touches storage during the outage
    but the endpoint and the processor, which are what this test is about.
    """
    await hook.processed()
    await hook.daemon.fleet.chip(PNID).call(lambda r: GetSnapshot(reply=r))
    await hook.daemon.fleet.waba(WABA).call(lambda r: GetWabaSnapshot(reply=r))


async def _counted_unavailable(hook: Hook, expected: int) -> int:
    """The daemon's 503 counter; ingest workers report theirs every half second."""
    with trio.move_on_after(3):
        while hook.daemon.webhook.counters.unavailable < expected:
            await trio.sleep(0.05)
    return hook.daemon.webhook.counters.unavailable


@pytest.mark.parametrize("ingest_workers", [0, 2], ids=["in-daemon", "ingest-workers"])
async def test_storage_outage_is_503_then_the_retries_go_in(
    db_dsn: str, pg_admin_dsn: str, tmp_path: Path, ingest_workers: int
) -> None:
    database = urlsplit(db_dsn).path.lstrip("/")
    admin_cfg = StorageConfig(dsn=pg_admin_dsn, pool_min_size=1, pool_max_size=1)
    before = fixture("message_text.json")
    during = [message_body(f"wamid.OUTAGE.{i}", at=1764000000) for i in range(3)]
    async with (
        open_store(admin_cfg, state_dir=tmp_path, run_migrations=False) as admin,
        running(db_dsn, tmp_path / "state", ingest_workers=ingest_workers) as hook,
    ):
        assert await hook.post(before) == 200
        await _quiet(hook)

        async with outage(admin, database):
            for raw in during:
                assert await hook.post(raw) == 503
                await trio.sleep(0.5)  # outlasts the processor's 1 s idle poll
            assert await hook.post(fixture("status_read.json"), signed=False) == 401
            assert await _counted_unavailable(hook, len(during)) == len(during)

        # Meta retries each delivery; the first attempts may still meet dead pooled
        # connections, and answer 503 again rather than lose anything.
        with trio.fail_after(10):
            for raw in during:
                while await hook.post(raw) != 200:
                    await trio.sleep(0.05)
        stats = await hook.processed()

    assert stats.received == stats.parsed == 1 + len(during)
    assert stats.duplicates == 0
    # The counter row of the 401 during the outage could not be written either.
    assert stats.rejected_signature == 0
