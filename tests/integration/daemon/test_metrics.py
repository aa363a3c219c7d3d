"""The operations listener of a running daemon: /metrics, /healthz, /readyz over real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from actors.budget.messages import GetBudget
from actors.chip import Send, Sent
from config.model import StorageConfig
from daemon.store import open_store
from daemon.supervisor import Intensity
from tests.integration.daemon.conftest import CHIP, CONTACT, OTHER_CHIP, Env, wait_until

METRICS_ON = '[metrics]\nlisten = "127.0.0.1:0"\n[budget]\ndaily_usd = 12.5\n'
TEMPLATE = {"name": "hello_world", "language": {"code": "en_US"}}


async def _get(env: Env, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=env.daemon.metrics_url, timeout=10) as client:
        return await client.get(path)


async def _scrape(env: Env) -> list[Sample]:
    response = await _get(env, "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return [s for f in text_string_to_metric_families(response.text) for s in f.samples]


def _value(samples: list[Sample], name: str, **labels: str) -> float | None:
    for s in samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


@pytest.mark.config(METRICS_ON)
async def test_a_scrape_shows_sends_statuses_webhooks_chips_budget_and_actors(env: Env) -> None:
    assert env.daemon.metrics_url.startswith("http://127.0.0.1:")
    chip = env.daemon.fleet.chip(CHIP)
    sent = await chip.call(
        lambda r: Send(to=CONTACT, template=TEMPLATE, category="utility", reply=r), timeout=30
    )
    assert isinstance(sent, Sent)

    async def delivered() -> bool:
        state = await env.daemon.store.fetchval(
            "SELECT state FROM outbox WHERE id = $1", sent.outbox_id
        )
        return state in ("delivered", "read")

    await wait_until(delivered, timeout=10)
    samples = await _scrape(env)

    # counted at the edges
    sends = {"chip": CHIP, "method": "template"}
    assert _value(samples, "metad_sends_total", **sends, outcome="accepted") == 1
    assert _value(samples, "metad_send_seconds_count") == 1
    delivered_events = _value(
        samples, "metad_webhook_events_total", kind="status", status="delivered", routed="true"
    )
    assert delivered_events == 1
    posts = _value(
        samples, "metad_webhook_request_seconds_count", route="webhook", method="POST", code="200"
    )
    assert posts is not None
    assert posts >= 2  # sent and delivered at least
    assert (_value(samples, "metad_store_writer_flush_seconds_count") or 0) >= 1
    # read at scrape time
    assert _value(samples, "metad_webhook_stored_total") == posts
    assert (_value(samples, "metad_webhook_events_applied_total") or 0) >= 2
    for pnid in (CHIP, OTHER_CHIP):
        assert _value(samples, "metad_chip_queued", chip=pnid) == 0
        assert _value(samples, "metad_chip_mailbox", chip=pnid) == 0
        assert _value(samples, "metad_chip_open_windows", chip=pnid) is not None
        ratings = [
            s for s in samples if s.name == "metad_chip_quality_rating" and s.labels["chip"] == pnid
        ]
        assert sum(s.value for s in ratings) == 1  # exactly one current rating
        assert _value(samples, "metad_chip_quality_mode", chip=pnid, mode="FULL") == 1
        assert _value(samples, "metad_actor_restarts_total", actor=f"chip:{pnid}") == 0
        assert _value(samples, "metad_actor_up", actor=f"chip:{pnid}") == 1
    assert _value(samples, "metad_chip_info", chip=CHIP, waba="100000000000001") == 1
    assert _value(samples, "metad_budget_cap_usd", period="day") == 12.5
    assert _value(samples, "metad_budget_cap_usd", period="week") is None  # no cap, no series
    status = await env.daemon.fleet.budget.call(lambda r: GetBudget(reply=r))
    for period in ("day", "week", "month"):
        for key in ("spent", "reserved"):
            shown = _value(samples, f"metad_budget_{key}_usd", period=period)
            assert shown == float(status[period][key])
    assert _value(samples, "metad_actor_up", actor="budget") == 1
    assert _value(samples, "process_start_time_seconds") is not None
    assert _value(samples, "metad_outbox_in_doubt") == 0


@pytest.mark.config(METRICS_ON)
async def test_an_actor_restart_is_counted_and_reported_not_ready_while_down(env: Env) -> None:
    assert (await _get(env, "/healthz")).status_code == 200
    ready = await _get(env, "/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "reasons": []}

    supervisor = env.daemon.supervisor
    supervisor.intensity = Intensity(max_restarts=5, period_s=30, backoff_min_s=1, backoff_max_s=1)
    supervisor.kill(f"chip:{OTHER_CHIP}", "test")
    await wait_until(lambda: f"chip:{OTHER_CHIP}" in supervisor.down)
    down = await _get(env, "/readyz")
    assert down.status_code == 503
    assert down.json()["reasons"] == [f"actors not up: chip:{OTHER_CHIP}"]
    assert (await _get(env, "/healthz")).status_code == 200  # alive all the same

    await wait_until(lambda: not supervisor.down, timeout=5)
    assert (await _get(env, "/readyz")).status_code == 200
    samples = await _scrape(env)
    assert _value(samples, "metad_actor_restarts_total", actor=f"chip:{OTHER_CHIP}") == 1
    assert _value(samples, "metad_actor_restarts_total", actor=f"chip:{CHIP}") == 0


@pytest.mark.config(METRICS_ON)
async def test_readyz_is_503_when_the_store_is_unreachable(
    env: Env, pg_admin_dsn: str, tmp_path: Path
) -> None:
    assert (await _get(env, "/readyz")).status_code == 200
    database = await env.daemon.store.fetchval("SELECT current_database()")
    cfg = StorageConfig(dsn=pg_admin_dsn, pool_min_size=1, pool_max_size=1)
    async with open_store(cfg, state_dir=tmp_path, run_migrations=False) as admin:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            database,
        )
    with trio.fail_after(10):
        response = await _get(env, "/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert len(body["reasons"]) == 1
    assert body["reasons"][0].startswith("store: ")
    assert (await _get(env, "/healthz")).status_code == 200


@pytest.mark.config(METRICS_ON)
async def test_other_paths_and_methods_are_refused(env: Env) -> None:
    assert (await _get(env, "/nope")).status_code == 404
    async with httpx.AsyncClient(base_url=env.daemon.metrics_url) as client:
        assert (await client.post("/metrics")).status_code == 405


async def test_no_listener_unless_configured(env: Env) -> None:
    assert env.daemon.cfg.metrics.listen == ""
    assert env.daemon.metrics_url == ""
