"""The storage retention job: prune the tables that only grow, every ``interval_s``.

Why a scheduler job: the scheduler already runs periodic work on the leader only
(:func:`daemon.cluster.while_leader`) and records each run in the store, so a restart or
a new leader neither repeats a run nor waits a whole interval again. What may be deleted
and how is the repository's business (:mod:`daemon.store.retention`); this module only
decides when, for how long, and says what went.

Why a time budget per run: the scheduler runs its jobs one after the other, and a first
run on a database that has grown for months could take hours. A run stops between
batches after ``run_budget_s``; while expired rows are left the job stays due, so the
next tick (a minute later) goes on, and the backlog drains in bounded slices with the
other jobs still running on time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

import trio

from daemon.logs import fields
from daemon.scheduler import Job

if TYPE_CHECKING:
    from config.model import RetentionConfig
    from daemon.store.retention import Pruned, RetentionRepository

__all__ = ["JOB", "RUN_BUDGET_S", "RetentionJob"]

log = logging.getLogger("metad.retention")

JOB: Final = "storage_retention"
RUN_BUDGET_S: Final = 30.0
"""At most this long per run (checked between batches)."""


class RetentionJob:
    """Prune by ``keep`` when due; ``on_pruned(table, rows)`` hears each table's count
    (the metrics' counter)."""

    def __init__(
        self,
        repo: RetentionRepository,
        keep: RetentionConfig,
        *,
        on_pruned: Callable[[str, int], None] | None = None,
        configured: Callable[[], Collection[str]] | None = None,
        run_budget_s: float = RUN_BUDGET_S,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        """``configured()``: the chips of the current configuration (their pending
        hand-offs stay; see :meth:`RetentionRepository.prune`)."""
        self._configured = configured
        self._repo = repo
        self._keep = keep
        self._on_pruned = on_pruned
        self._budget_s = run_budget_s
        self._clock = clock
        self._behind = False
        """The last run stopped with expired rows left: due again at the next tick."""

    def due(self, now: float, last_run: float | None, tz: ZoneInfo) -> bool:
        """Due every ``interval_s`` (at once when it never ran, or when the clock went
        back before its last run), and at every tick while a backlog is left."""
        if self._behind or last_run is None:
            return True
        return not 0 <= now - last_run < self._keep.interval_s

    async def run(self, now: float) -> Pruned:
        deadline = self._clock() + self._budget_s
        started = self._clock()
        pruned = await self._repo.prune(
            self._keep,
            lambda: self._clock() < deadline,
            None if self._configured is None else self._configured(),
        )
        for chip, n in sorted(pruned.abandoned.items()):
            log.warning(
                "retention: dropped %d webhook hand-off(s) pending for chip %s, which is no"
                " longer configured: no daemon will apply their events",
                n,
                chip,
                extra=fields(chip=chip, handoffs=n),
            )
        self._behind = not pruned.complete
        for table, rows in pruned.rows.items():
            if rows and self._on_pruned is not None:
                self._on_pruned(table, rows)
        if pruned.total or self._behind:
            log.info(
                "retention: pruned %d rows%s",
                pruned.total,
                "; expired rows are left, going on at the next tick" if self._behind else "",
                extra=fields(
                    **pruned.rows, behind=self._behind, seconds=round(self._clock() - started, 3)
                ),
            )
        else:
            log.debug("retention: nothing expired")
        return pruned

    def job(self) -> Job:
        return Job(JOB, self.run, self.due)
