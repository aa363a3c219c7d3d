"""Template analytics: what each template achieved, from the outbox and the statuses.

Why from the journal: the outbox row of every message carries its template, its final
state (moved forward by status webhooks) and its error; the budget ledger has what Meta
charged; windows opened after a send show the contact replied. One query answers it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from daemon.store.connection import Queries

__all__ = ["template_report"]

_REPORT = """
WITH sent AS (
    SELECT o.id, o.chip, o.wa_id, o.state, o.created_at, o.error,
           o.payload #>> '{template,name}' AS name,
           o.payload #>> '{template,language,code}' AS language
    FROM outbox o
    WHERE o.kind = 'template' AND o.created_at >= $1
      AND o.state NOT IN ('queued', 'cancelled')
)
SELECT s.name, s.language,
       count(*) AS sent,
       count(*) FILTER (WHERE s.state IN ('delivered', 'read')) AS delivered,
       count(*) FILTER (WHERE s.state = 'read') AS read,
       count(*) FILTER (WHERE s.state = 'failed') AS failed,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM windows w WHERE w.chip = s.chip AND w.wa_id = s.wa_id
             AND w.kind = 'service' AND w.opened_at > s.created_at)) AS replied,
       coalesce(sum(l.amount), 0)::float8 AS cost_usd,
       coalesce(array_agg(DISTINCT s.error ->> 'code')
                FILTER (WHERE s.state = 'failed' AND s.error ->> 'code' IS NOT NULL),
                '{}') AS fail_codes
FROM sent s
LEFT JOIN LATERAL (
    SELECT sum(amount_usd) AS amount FROM budget_ledger b
    WHERE b.ref = 'o:' || s.id AND b.kind = 'settlement'
) l ON true
GROUP BY s.name, s.language
ORDER BY sent DESC, s.name
"""


async def template_report(db: Queries, *, days: int, now: dt.datetime) -> list[dict[str, Any]]:
    """Per template over the last ``days``: sent, delivered, read, replied, failed, cost."""
    rows = await db.fetch(_REPORT, now - dt.timedelta(days=days))
    report: list[dict[str, Any]] = []
    for r in rows:
        sent = int(r["sent"])
        report.append(
            {
                "name": r["name"],
                "language": r["language"],
                "sent": sent,
                "delivered": int(r["delivered"]),
                "read": int(r["read"]),
                "replied": int(r["replied"]),
                "failed": int(r["failed"]),
                "read_rate": round(int(r["read"]) / sent, 3) if sent else 0.0,
                "cost_usd": round(float(r["cost_usd"]), 6),
                "fail_codes": sorted(r["fail_codes"]),
            }
        )
    return report
