"""The weekly recommendations job: the daemon schedules it, it stores advice per template,
and ``metad templates report`` shows the latest run under its table."""

from __future__ import annotations

import time
from pathlib import Path

import trio

from daemon.jobs.recommend import JOB, recommend
from daemon.store.recommendations import RecommendationRepository
from tests.integration.daemon.conftest import Env, wait_until
from tests.support import metad_command, write_demo_config

WABA = "100000000000001"


async def _synced(env: Env) -> None:
    async def has_templates() -> bool:
        n = await env.daemon.store.fetchval(
            "SELECT count(*) FROM templates WHERE waba_id = $1", WABA
        )
        return int(n) > 0

    await wait_until(has_templates, timeout=10)


async def test_the_daemon_runs_the_job_when_it_never_ran(env: Env) -> None:
    async def ran() -> bool:
        n = await env.daemon.store.fetchval("SELECT count(*) FROM job_runs WHERE job = $1", JOB)
        return int(n) == 1

    await wait_until(ran, timeout=10)


async def test_the_job_stores_advice_per_template(env: Env, db_dsn: str, tmp_path: Path) -> None:
    await _synced(env)
    # A campaign still counting on a template Meta paused (the seed's promo_pausada).
    await env.daemon.store.execute(
        "INSERT INTO campaigns (id, name, spec, state) VALUES ('c1', 'c1', $1, 'running')",
        {"templates": [{"waba": "*", "name": "promo_pausada", "language": "pt_BR"}]},
    )
    advice = await recommend(env.daemon.store, now=time.time())
    by_kind = {(a.name, a.kind): a for a in advice}
    paused = by_kind["promo_pausada", "unusable_referenced"]
    assert paused.severity == "critical"
    assert "campaign c1" in paused.message
    # vaga_plantao is MARKETING with no promotional wording: it may qualify as UTILITY.
    assert ("vaga_plantao", "marketing_as_utility") in by_kind
    # promo_desativada is DISABLED too, but nothing refers to it: nothing to say.
    assert not [a for a in advice if a.name == "promo_desativada"]

    stored = await RecommendationRepository(env.daemon.store).latest()
    assert {(r["name"], r["kind"]) for r in stored} == set(by_kind)
    assert stored[0]["severity"] == "critical"

    config = write_demo_config(tmp_path / "cli", dsn=db_dsn)
    out = await trio.run_process(
        metad_command("templates", "report", "-c", str(config)), capture_stdout=True
    )
    text = out.stdout.decode()
    table, _, recs = text.partition("recommendations (run ")
    assert "TEMPLATE" in table
    assert "critical promo_pausada (pt_BR, WABA 100000000000001): template is PAUSED" in recs
    assert "vaga_plantao" in recs


async def test_a_new_run_replaces_the_last_one(env: Env) -> None:
    await _synced(env)
    repo = RecommendationRepository(env.daemon.store)
    await recommend(env.daemon.store, now=time.time() + 60)  # after the daemon's own run
    first = await repo.latest()
    await env.daemon.store.execute(
        "INSERT INTO campaigns (id, name, spec, state) VALUES ('c2', 'c2', $1, 'paused')",
        {"template": "promo_pausada"},
    )
    await recommend(env.daemon.store, now=time.time() + 120)
    second = await repo.latest()
    assert not any(r["kind"] == "unusable_referenced" for r in first)
    assert [r["name"] for r in second if r["kind"] == "unusable_referenced"] == ["promo_pausada"]
    assert len({r["run_at"] for r in first + second}) == 2
