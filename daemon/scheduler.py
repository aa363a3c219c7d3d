"""The scheduler: periodic jobs inside the daemon, at local times, across restarts.

Why a rule plus a loop: *when* a job is due is a pure question of the clock, the zone
and the job's last run (:func:`due`), tested on its own across week and DST edges; the
loop (:func:`run_scheduler`) only asks it every ``tick_s`` and records each run in the
store, so a restart neither repeats a run nor skips one. A daemon that was down at the
scheduled time runs the job once when it comes back (catch-up), never once per missed
slot. A job that fails is logged and asked again at the next tick.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol
from zoneinfo import ZoneInfo

import trio

__all__ = ["WEEKLY_AT", "Job", "JobRuns", "due", "last_slot", "run_scheduler"]

log = logging.getLogger("metad.scheduler")

WEEKLY_AT: Final = (0, 6)
"""(weekday, hour): Monday 06:00 local, before the working week's first campaigns."""


def last_slot(now: float, tz: ZoneInfo, weekday: int = 0, hour: int = 6) -> float:
    """Epoch seconds of the latest local ``weekday`` at ``hour``:00 at or before ``now``."""
    local = dt.datetime.fromtimestamp(now, tz)
    day = local.date() - dt.timedelta(days=(local.weekday() - weekday) % 7)
    slot = dt.datetime.combine(day, dt.time(hour), tzinfo=tz)
    if slot.timestamp() > now:  # this week's slot is later today
        slot = dt.datetime.combine(day - dt.timedelta(days=7), dt.time(hour), tzinfo=tz)
    return slot.timestamp()


def due(
    now: float, last_run: float | None, tz: ZoneInfo, *, at: tuple[int, int] = WEEKLY_AT
) -> bool:
    """A weekly job is due when it has not run since the latest slot (``at`` local).

    Never run: due at once. ``last_run`` after ``now`` (a clock set back): not due, the
    next slot after it will be.
    """
    if last_run is None:
        return True
    return last_run < last_slot(now, tz, *at) <= now


class JobRuns(Protocol):
    async def last_run(self, job: str) -> float | None: ...

    async def mark_run(self, job: str, at: float) -> None: ...


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    run: Callable[[float], Awaitable[object]]
    """Called with ``now``; what it returns is ignored."""
    due: Callable[[float, float | None, ZoneInfo], bool] = due


async def run_scheduler(
    jobs: Sequence[Job],
    runs: JobRuns,
    tz: ZoneInfo,
    *,
    now: Callable[[], float] = time.time,
    tick_s: float = 60.0,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run each job when it is due, for ever."""
    task_status.started()
    while True:
        for job in jobs:
            t = now()
            try:
                if job.due(t, await runs.last_run(job.name), tz):
                    await job.run(t)
                    await runs.mark_run(job.name, t)
                    log.info("job %s ran", job.name)
            except Exception:
                log.exception("job %s failed; it is tried again at the next tick", job.name)
        await trio.sleep(tick_s)
