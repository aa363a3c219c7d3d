"""Send analytics: what each template, chip or campaign achieved, from the outbox.

Why from the journal: the outbox row of every message carries its chip, campaign,
template and decision, its final state (moved forward by status webhooks) and its
error; the budget ledger has what Meta charged; a service window opened after a send
shows the contact replied. So one query answers each question, and nothing has to be
collected on the side (the old system's analytics tables were never filled,
behaviour.md 15.5 #25). Rates are fractions (0..1) everywhere.

"Sent" counts every message metad handed to Meta in the period (queued and cancelled
rows never left). ``failed_by_code`` counts failures by Meta's error code (``none``
when the failure carried no code). A status webhook's failure stores the code as
``error.code``; a send Meta refused on the request itself stores only the chip's reason,
``<reaction>: <code>: <message>`` (actors/chip/send.py), so the code is read from there.

The Marketing Messages API has no metrics endpoint documented for metad
(docs/cloud-api.md §2), so its metrics are derived the same way, from the rows whose
decision went ``via`` ``marketing_messages``. Clicks are not reported by the Cloud API's
webhooks, so ``clicked`` is None (unknown), never a made-up zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

if TYPE_CHECKING:
    from daemon.store.connection import Queries, Row

__all__ = [
    "GROUPINGS",
    "MAX_REPORT_DAYS",
    "Grouping",
    "marketing_messages_report",
    "report",
    "template_report",
    "waba_template_report",
]

Grouping: TypeAlias = Literal["template", "chip", "campaign"]
GROUPINGS: Final[tuple[Grouping, ...]] = ("template", "chip", "campaign")
MAX_REPORT_DAYS: Final = 3650
"""Ten years: far past any retention, and a period the date arithmetic can hold (the
CLI's ``--days`` and the control call's ``days`` are both held to it)."""

# Key columns and filter per grouping; fixed strings, never built from input.
_KEYS: Final[Mapping[str, tuple[tuple[tuple[str, str], ...], str]]] = {
    "template_language": (
        (
            ("name", "o.payload #>> '{template,name}'"),
            ("language", "o.payload #>> '{template,language,code}'"),
        ),
        "o.kind = 'template'",
    ),
    "waba_template": (
        (
            ("waba_id", "c.waba_id"),
            ("name", "o.payload #>> '{template,name}'"),
            ("language", "o.payload #>> '{template,language,code}'"),
        ),
        "o.kind = 'template'",
    ),
    "chip": ((("chip", "o.chip"), ("waba_id", "c.waba_id")), "true"),
    "campaign": ((("campaign", "o.campaign_id"),), "o.campaign_id IS NOT NULL"),
    "marketing_messages": (
        (
            ("name", "o.payload #>> '{template,name}'"),
            ("language", "o.payload #>> '{template,language,code}'"),
        ),
        "o.decision ->> 'via' = 'marketing_messages'",
    ),
}


_REASON_CODE: Final = r"^[a-z_]+: ([0-9]+):"
"""The Graph code in a chip's failure reason (``fix_request: 132000: …``); a reason
without a code (``retry_backoff: timed out``) does not match."""

_FAIL_CODE: Final = (
    f"coalesce(s.error ->> 'code', substring(s.error ->> 'reason' from '{_REASON_CODE}'), 'none')"
)


def _sql(grouping: str) -> tuple[str, str, list[str]]:
    keys, where = _KEYS[grouping]
    names = [name for name, _ in keys]
    # Keys are aliased k_<name> so that none clashes with an outbox column (chip).
    select = ", ".join(f"{expr} AS k_{name}" for name, expr in keys)
    group = ", ".join(f"s.k_{name}" for name in names)
    sent = f"""
WITH sent AS (
    SELECT o.id, o.chip, o.wa_id, o.state, o.created_at, o.error, {select}
    FROM outbox o JOIN chips c ON c.phone_number_id = o.chip
    WHERE o.created_at >= $1 AND o.created_at < $2 AND {where}
      AND o.state NOT IN ('queued', 'cancelled')
)"""
    main = f"""{sent}
SELECT {group},
       count(*) AS sent,
       count(*) FILTER (WHERE s.state IN ('delivered', 'read')) AS delivered,
       count(*) FILTER (WHERE s.state = 'read') AS read,
       count(*) FILTER (WHERE s.state = 'failed') AS failed,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM windows w WHERE w.chip = s.chip AND w.wa_id = s.wa_id
             AND w.kind = 'service' AND w.opened_at > s.created_at)) AS replied,
       coalesce(sum(l.amount), 0)::float8 AS cost_usd
FROM sent s
LEFT JOIN LATERAL (
    SELECT amount_usd AS amount FROM budget_ledger b
    WHERE b.outbox_id = s.id AND b.kind = 'settlement' ORDER BY b.id DESC LIMIT 1
) l ON true
GROUP BY {group}
ORDER BY sent DESC, {group}
"""
    codes = f"""{sent}
SELECT {group}, {_FAIL_CODE} AS code, count(*) AS n
FROM sent s WHERE s.state = 'failed'
GROUP BY {group}, code
"""
    return main, codes, names


def _row(r: Row, names: list[str], codes: dict[tuple[Any, ...], dict[str, int]]) -> dict[str, Any]:
    sent, delivered, read = int(r["sent"]), int(r["delivered"]), int(r["read"])
    by_code = codes.get(tuple(r[f"k_{n}"] for n in names), {})
    return {
        **{n: r[f"k_{n}"] for n in names},
        "sent": sent,
        "delivered": delivered,
        "read": read,
        "replied": int(r["replied"]),
        "failed": int(r["failed"]),
        "delivery_rate": round(delivered / sent, 3) if sent else 0.0,
        "read_rate": round(read / sent, 3) if sent else 0.0,
        "cost_usd": round(float(r["cost_usd"]), 6),
        "fail_codes": sorted(c for c in by_code if c != "none"),
        "failed_by_code": dict(sorted(by_code.items())),
    }


async def _grouped(db: Queries, grouping: str, days: int, now: dt.datetime) -> list[dict[str, Any]]:
    main, code_sql, names = _sql(grouping)
    since = now - dt.timedelta(days=days)
    rows = await db.fetch(main, since, now)
    codes: dict[tuple[Any, ...], dict[str, int]] = {}
    for c in await db.fetch(code_sql, since, now):
        codes.setdefault(tuple(c[f"k_{n}"] for n in names), {})[str(c["code"])] = int(c["n"])
    return [_row(r, names, codes) for r in rows]


async def report(
    db: Queries, *, by: Grouping = "template", days: int, now: dt.datetime
) -> list[dict[str, Any]]:
    """Over the last ``days`` before ``now``, per template (name and language), chip (with
    its WABA) or campaign: sent, delivered, read, replied, failed (by code), cost."""
    if by not in GROUPINGS:
        raise ValueError(f"cannot group by {by!r}; one of {', '.join(GROUPINGS)}")
    return await _grouped(db, "template_language" if by == "template" else by, days, now)


async def template_report(db: Queries, *, days: int, now: dt.datetime) -> list[dict[str, Any]]:
    """Per template (name and language) over the last ``days``."""
    return await report(db, by="template", days=days, now=now)


async def waba_template_report(db: Queries, *, days: int, now: dt.datetime) -> list[dict[str, Any]]:
    """Per template of each WABA (a name may exist in several), for the recommendations."""
    return await _grouped(db, "waba_template", days, now)


async def marketing_messages_report(db: Queries, *, days: int, now: dt.datetime) -> dict[str, Any]:
    """Sends through the Marketing Messages API: totals and per template."""
    rows = await _grouped(db, "marketing_messages", days, now)
    total: dict[str, Any] = {
        key: sum(r[key] for r in rows) for key in ("sent", "delivered", "read", "failed")
    }
    total["cost_usd"] = round(sum(r["cost_usd"] for r in rows), 6)
    total["clicked"] = None
    return {"total": total, "templates": [{**r, "clicked": None} for r in rows]}
