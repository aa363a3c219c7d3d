"""The retention job: when it is due, how long one run lasts, what it reports.

Why without PostgreSQL: which rows go is the repository's (tested against a real
server in tests/integration/store/test_retention.py); here a fake repository hands out
batches so the job's own rules (interval, time budget, backlog, hooks) are seen alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from config.model import RetentionConfig
from daemon.jobs import daemon_jobs
from daemon.jobs.retention import JOB, RetentionJob
from daemon.metrics import Metrics
from daemon.store import Store
from daemon.store.retention import TABLES, Pruned, RetentionRepository

UTC = ZoneInfo("UTC")
HOUR = 3600.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeRepo:
    """``batches`` batches of expired seen keys, one per ``keep_going`` answered yes;
    each batch takes ``batch_s`` of the fake clock."""

    def __init__(self, clock: FakeClock, batches: int, alerts: int, batch_s: float = 10.0) -> None:
        self.clock = clock
        self.left = batches
        self.alerts = alerts
        self.batch_s = batch_s
        self.calls: list[RetentionConfig] = []
        self.configured: list[Collection[str] | None] = []
        self.abandoned: dict[str, int] = {}

    async def prune(
        self,
        keep: RetentionConfig,
        keep_going: Callable[[], bool],
        configured: Collection[str] | None = None,
    ) -> Pruned:
        self.calls.append(keep)
        self.configured.append(configured)
        rows = dict.fromkeys(TABLES, 0)
        while self.left:
            if not keep_going():
                return Pruned(rows, complete=False)
            self.clock.now += self.batch_s
            self.left -= 1
            rows["webhook_seen"] += keep.batch_rows
        rows["budget_alerts"], self.alerts = self.alerts, 0
        rows["webhook_handoff"] = sum(self.abandoned.values())
        return Pruned(rows, complete=True, abandoned=self.abandoned)


def job_with(
    batches: int,
    *,
    alerts: int = 1,
    run_budget_s: float = 30.0,
    configured: Callable[[], Collection[str]] | None = None,
) -> tuple[RetentionJob, FakeRepo, list[tuple[str, int]]]:
    clock = FakeClock()
    repo = FakeRepo(clock, batches, alerts)
    heard: list[tuple[str, int]] = []
    job = RetentionJob(
        cast("RetentionRepository", repo),
        RetentionConfig(batch_rows=100),
        on_pruned=lambda table, rows: heard.append((table, rows)),
        configured=configured,
        run_budget_s=run_budget_s,
        clock=clock,
    )
    return job, repo, heard


@pytest.mark.parametrize(
    ("now", "last_run", "expected"),
    [
        (10 * HOUR, None, True),  # never ran: at once
        (10 * HOUR, 9.5 * HOUR, False),  # within the interval
        (10 * HOUR, 9 * HOUR, True),  # the interval passed
        (10 * HOUR, 11 * HOUR, True),  # the clock went back before the last run
    ],
)
def test_due_every_interval(now: float, last_run: float | None, expected: bool) -> None:
    job, _, _ = job_with(0)
    assert job.due(now, last_run, UTC) is expected


async def test_a_run_prunes_and_reports_each_table(caplog: pytest.LogCaptureFixture) -> None:
    job, repo, heard = job_with(3, run_budget_s=3600.0)
    with caplog.at_level(logging.INFO, "metad.retention"):
        pruned = await job.run(0.0)
    assert pruned.complete
    assert heard == [("webhook_seen", 300), ("budget_alerts", 1)]
    assert repo.calls == [RetentionConfig(batch_rows=100)]
    (record,) = caplog.records
    assert record.getMessage() == "retention: pruned 301 rows"
    assert record.fields["webhook_seen"] == 300  # type: ignore[attr-defined]
    assert record.fields["behind"] is False  # type: ignore[attr-defined]
    assert not job.due(1.0, 0.0, UTC)  # nothing left: next time after the interval


async def test_a_backlog_is_worked_in_bounded_runs(caplog: pytest.LogCaptureFixture) -> None:
    """30 s of batches per run; while rows are left the job is due at every tick."""
    job, repo, heard = job_with(7, run_budget_s=30.0)
    with caplog.at_level(logging.INFO, "metad.retention"):
        first = await job.run(0.0)
    assert (first.complete, first.rows["webhook_seen"], repo.left) == (False, 300, 4)
    assert "going on at the next tick" in caplog.records[-1].getMessage()
    assert job.due(60.0, 0.0, UTC)  # a minute later, not an hour
    second = await job.run(60.0)
    assert (second.complete, repo.left) == (False, 1)
    third = await job.run(120.0)
    assert third.complete
    assert not job.due(180.0, 120.0, UTC)
    assert sum(rows for table, rows in heard if table == "webhook_seen") == 700


async def test_each_run_asks_for_the_configured_chips_and_warns_of_dropped_handoffs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The chips are read at every run (a reload may have changed them), and a hand-off
    dropped for a chip that left the configuration is a warning naming it."""
    chips = {"1": ("111",), "2": ("111", "222")}
    run = iter("12")
    job, repo, heard = job_with(0, alerts=0, configured=lambda: chips[next(run)])
    repo.abandoned = {"333": 2}
    with caplog.at_level(logging.INFO, "metad.retention"):
        await job.run(0.0)
    repo.abandoned = {}
    await job.run(HOUR)
    assert repo.configured == [("111",), ("111", "222")]
    assert heard == [("webhook_handoff", 2)]
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert warning.getMessage() == (
        "retention: dropped 2 webhook hand-off(s) pending for chip 333, which is no longer"
        " configured: no daemon will apply their events"
    )


async def test_without_the_configuration_every_pending_handoff_stays() -> None:
    job, repo, _ = job_with(0)
    await job.run(0.0)
    assert repo.configured == [None]


async def test_nothing_expired_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    job, _, heard = job_with(0, alerts=0)
    with caplog.at_level(logging.INFO, "metad.retention"):
        pruned = await job.run(0.0)
    assert (pruned.total, heard, caplog.records) == (0, [], [])


def test_the_daemon_schedules_it_with_its_config() -> None:
    jobs = daemon_jobs(cast("Store", None), RetentionConfig(interval_s=60))
    (job,) = [j for j in jobs if j.name == JOB]
    assert job.due(100.0, 0.0, UTC)
    assert not job.due(30.0, 0.0, UTC)


def test_the_metric_counts_rows_per_table() -> None:
    metrics = Metrics()
    metrics.pruned("webhook_seen", 5000)
    metrics.pruned("webhook_seen", 12)
    metrics.pruned("budget_alerts", 1)
    value = metrics.registry.get_sample_value
    assert value("metad_store_pruned_rows_total", {"table": "webhook_seen"}) == 5012
    assert value("metad_store_pruned_rows_total", {"table": "budget_alerts"}) == 1
