"""``JobRunRepository``: when each scheduled job last ran (``job_runs``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from daemon.store.connection import Queries

__all__ = ["JobRunRepository"]


class JobRunRepository:
    def __init__(self, db: Queries) -> None:
        self._db = db

    async def last_run(self, job: str) -> float | None:
        """Epoch seconds of the job's last run; None when it never ran."""
        at = await self._db.fetchval("SELECT last_run FROM job_runs WHERE job = $1", job)
        return None if at is None else float(at.timestamp())

    async def mark_run(self, job: str, at: float) -> None:
        await self._db.execute(
            "INSERT INTO job_runs (job, last_run) VALUES ($1, $2)"
            " ON CONFLICT (job) DO UPDATE SET last_run = EXCLUDED.last_run",
            job,
            dt.datetime.fromtimestamp(at, dt.UTC),
        )
