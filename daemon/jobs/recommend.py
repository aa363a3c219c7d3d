"""The weekly template recommendations job: gather the facts, apply the rules, store.

Why here: the rules are pure (:mod:`actors.templates.advice`); this job is the I/O
around them. Facts per template of each WABA: its definition and status from the
``templates`` table (as the last sync and the webhooks left it), its results over the
period from the outbox (:func:`daemon.store.analytics.waba_template_report`), and what
still refers to it: messages waiting in the outbox and campaigns not yet finished whose
spec names it (searched anywhere in the spec, so the campaign file's shape may change).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from actors.templates.advice import (
    DEFAULT_THRESHOLDS,
    UNUSABLE_STATUSES,
    Advice,
    TemplateFacts,
    Thresholds,
    advise,
)
from daemon.store.analytics import waba_template_report
from daemon.store.recommendations import RecommendationRepository

if TYPE_CHECKING:
    from daemon.store.connection import Queries

__all__ = ["JOB", "PERIOD_DAYS", "gather_facts", "recommend"]

JOB: Final = "template_recommendations"
PERIOD_DAYS: Final = 7

_Key = tuple[str, str, str]

_WAITING = """
SELECT c.waba_id, o.payload #>> '{template,name}' AS name,
       o.payload #>> '{template,language,code}' AS language, count(*) AS n
FROM outbox o JOIN chips c ON c.phone_number_id = o.chip
WHERE o.kind = 'template' AND o.state IN ('queued', 'sending', 'in_doubt')
GROUP BY 1, 2, 3
"""

_CAMPAIGNS = """
SELECT id FROM campaigns
WHERE state IN ('draft', 'running', 'paused')
  AND jsonb_path_exists(spec, '$.** ? (@ == $name)', jsonb_build_object('name', $1::text))
ORDER BY id
"""


async def gather_facts(db: Queries, *, now: dt.datetime, days: int) -> list[TemplateFacts]:
    """One :class:`TemplateFacts` per template known locally or sent in the period."""
    defs: dict[_Key, Any] = {
        (r["waba_id"], r["name"], r["language"]): r
        for r in await db.fetch(
            "SELECT waba_id, name, language, category, status, components FROM templates"
        )
    }
    stats: dict[_Key, dict[str, Any]] = {
        (r["waba_id"], r["name"], r["language"]): r
        for r in await waba_template_report(db, days=days, now=now)
    }
    waiting: dict[_Key, int] = {
        (r["waba_id"], r["name"], r["language"]): int(r["n"]) for r in await db.fetch(_WAITING)
    }
    facts: list[TemplateFacts] = []
    for key in sorted(defs.keys() | stats.keys()):
        d, s = defs.get(key), stats.get(key, {})
        status = None if d is None else str(d["status"])
        references: list[str] = []
        if status in UNUSABLE_STATUSES:
            if waiting.get(key):
                references.append(f"{waiting[key]} waiting message(s)")
            campaigns = [r["id"] for r in await db.fetch(_CAMPAIGNS, key[1])]
            if campaigns:
                references.append("campaign " + ", ".join(campaigns))
        facts.append(
            TemplateFacts(
                waba_id=key[0],
                name=key[1],
                language=key[2],
                category=None if d is None else str(d["category"]),
                status=status,
                components=tuple(d["components"] or ()) if d is not None else (),
                sent=int(s.get("sent", 0)),
                delivered=int(s.get("delivered", 0)),
                read=int(s.get("read", 0)),
                failed=int(s.get("failed", 0)),
                failed_by_code=dict(s.get("failed_by_code", {})),
                references=tuple(references),
            )
        )
    return facts


async def recommend(
    db: Queries,
    *,
    now: float,
    days: int = PERIOD_DAYS,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Sequence[Advice]:
    """Compute this week's recommendations and store them as one run at ``now``."""
    at = dt.datetime.fromtimestamp(now, dt.UTC)
    advice = advise(await gather_facts(db, now=at, days=days), thresholds)
    await RecommendationRepository(db).save_run(at, [a.to_json() for a in advice])
    return advice
