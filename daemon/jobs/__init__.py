"""Periodic jobs the scheduler (:mod:`daemon.scheduler`) runs inside the daemon."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import trio

from config.model import RetentionConfig
from daemon.jobs.recommend import JOB as RECOMMEND_JOB, recommend
from daemon.jobs.retention import RetentionJob
from daemon.scheduler import Job, run_scheduler
from daemon.store.jobs import JobRunRepository
from daemon.store.retention import RetentionRepository

if TYPE_CHECKING:
    from daemon.store import Store

__all__ = ["daemon_jobs", "run_jobs"]


def daemon_jobs(
    store: Store,
    retention: RetentionConfig | None = None,
    on_pruned: Callable[[str, int], None] | None = None,
    configured: Callable[[], Collection[str]] | None = None,
) -> list[Job]:
    """The daemon's periodic jobs: the weekly template recommendations and the pruning
    of the tables that only grow (``retention``: ``[storage.retention]``, or its
    defaults; ``configured()``: the configuration's chips, see :class:`RetentionJob`)."""

    async def recommendations(now: float) -> None:
        await recommend(store, now=now)

    pruning = RetentionJob(
        RetentionRepository(store),
        retention or RetentionConfig(),
        on_pruned=on_pruned,
        configured=configured,
    )
    return [Job(RECOMMEND_JOB, recommendations), pruning.job()]


async def run_jobs(
    store: Store,
    tz: ZoneInfo,
    retention: RetentionConfig | None = None,
    on_pruned: Callable[[str, int], None] | None = None,
    configured: Callable[[], Collection[str]] | None = None,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The scheduler over :func:`daemon_jobs`, with runs recorded in ``store``."""
    await run_scheduler(
        daemon_jobs(store, retention, on_pruned, configured),
        JobRunRepository(store),
        tz,
        task_status=task_status,
    )
