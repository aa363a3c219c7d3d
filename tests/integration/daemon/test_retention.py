"""The retention job in a running daemon: scheduled on the leader, it prunes what has
expired by ``[storage.retention]``, keeps the rest, records its run and counts the
rows in ``metad_store_pruned_rows_total``."""

from __future__ import annotations

import pytest

from daemon.jobs.retention import JOB
from tests.integration.conftest import admin_sql
from tests.integration.daemon.conftest import Env, wait_until


@pytest.fixture
def old_rows(db_dsn: str) -> None:
    """Rows written before the daemon starts (a sync fixture: set up before ``env``)."""
    admin_sql(
        db_dsn,
        "INSERT INTO webhook_seen (key, seen_at) VALUES"
        " ('s:expired', now() - interval '9 days'), ('s:kept', now() - interval '1 day')",
        "INSERT INTO webhook_inbox (received_at, body, signature_ok, state, processed_at) VALUES"
        " (now() - interval '9 days', '{}', true, 'parsed', now() - interval '9 days')",
        "INSERT INTO budget_alerts (scope, period_key, threshold, at) VALUES"
        " ('global', '2026-01', 1, now() - interval '40 days')",
    )


@pytest.mark.config("[storage.retention]\nbudget_alerts_days = 32\n")
async def test_the_daemon_prunes_expired_rows(old_rows: None, env: Env) -> None:
    store = env.daemon.store

    async def ran() -> bool:
        return bool(await store.fetchval("SELECT count(*) FROM job_runs WHERE job = $1", JOB))

    await wait_until(ran, timeout=10)
    keys = {r["key"] for r in await store.fetch("SELECT key FROM webhook_seen")}
    assert "s:expired" not in keys
    assert "s:kept" in keys
    assert await store.fetchval("SELECT count(*) FROM budget_alerts WHERE scope = 'global'") == 0
    old_bodies = await store.fetchval(
        "SELECT count(*) FROM webhook_inbox WHERE received_at < now() - interval '8 days'"
    )
    assert old_bodies == 0
    value = env.daemon.metrics.registry.get_sample_value
    assert value("metad_store_pruned_rows_total", {"table": "webhook_seen"}) == 1
    assert value("metad_store_pruned_rows_total", {"table": "webhook_inbox"}) == 1
    assert value("metad_store_pruned_rows_total", {"table": "budget_alerts"}) == 1
