"""Periodic jobs the scheduler (:mod:`daemon.scheduler`) runs inside the daemon."""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import trio

from daemon.jobs.recommend import JOB as RECOMMEND_JOB, recommend
from daemon.scheduler import Job, run_scheduler
from daemon.store.jobs import JobRunRepository

if TYPE_CHECKING:
    from daemon.store import Store

__all__ = ["daemon_jobs", "run_jobs"]


def daemon_jobs(store: Store) -> list[Job]:
    """The daemon's periodic jobs: the weekly template recommendations."""

    async def recommendations(now: float) -> None:
        await recommend(store, now=now)

    return [Job(RECOMMEND_JOB, recommendations)]


async def run_jobs(
    store: Store, tz: ZoneInfo, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """The scheduler over :func:`daemon_jobs`, with runs recorded in ``store``."""
    await run_scheduler(daemon_jobs(store), JobRunRepository(store), tz, task_status=task_status)
