"""``RecommendationRepository``: the weekly job's advice per template, by run.

Why runs: a recommendation is true of the week it was computed from; each run is kept
under its own ``run_at`` and readers show the latest, so a template that recovered
stops being flagged at the next run instead of lingering.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from daemon.store.connection import Queries

__all__ = ["RecommendationRepository"]

KEEP_RUNS = 12
"""Runs kept (a quarter of weekly runs); older ones are deleted by :meth:`save_run`."""


class RecommendationRepository:
    def __init__(self, db: Queries) -> None:
        self._db = db

    async def save_run(self, run_at: dt.datetime, items: Sequence[Mapping[str, Any]]) -> None:
        """Store one run's recommendations (``Advice.to_json`` dicts); prune old runs."""
        await self._db.executemany(
            "INSERT INTO template_recommendations"
            " (run_at, waba_id, name, language, kind, severity, message, metrics)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [
                (
                    run_at,
                    a["waba_id"],
                    a["name"],
                    a["language"],
                    a["kind"],
                    a["severity"],
                    a["message"],
                    dict(a.get("metrics") or {}),
                )
                for a in items
            ],
        )
        await self._db.execute(
            "DELETE FROM template_recommendations WHERE run_at < ("
            " SELECT min(run_at) FROM (SELECT DISTINCT run_at FROM template_recommendations"
            " ORDER BY run_at DESC LIMIT $1) kept)",
            KEEP_RUNS,
        )

    async def latest(self) -> list[dict[str, Any]]:
        """The latest run's recommendations, most severe first (empty before any run)."""
        rows = await self._db.fetch(
            "SELECT run_at, waba_id, name, language, kind, severity, message, metrics"
            " FROM template_recommendations"
            " WHERE run_at = (SELECT max(run_at) FROM template_recommendations)"
            " ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,"
            " waba_id, name, language, kind"
        )
        return [
            {
                "run_at": r["run_at"].isoformat(),
                "waba_id": r["waba_id"],
                "name": r["name"],
                "language": r["language"],
                "kind": r["kind"],
                "severity": r["severity"],
                "message": r["message"],
                "metrics": dict(r["metrics"] or {}),
            }
            for r in rows
        ]
