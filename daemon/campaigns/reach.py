"""How far a campaign's money goes: what its plan says of the caps it will meet.

Why in the plan: the estimate alone ($12,486 against a campaign cap of $1) leaves the
reader to do the division, and a campaign that stops after 16 messages, or that the
fleet's daily cap spreads over months, is a surprise found only while it runs. Pure:
the estimate and the caps in, lines of text out.
"""

from __future__ import annotations

from config.model import CapsConfig

__all__ = ["budget_notes", "span_text"]


def budget_notes(
    cost_usd: float, paid: int, *, campaign_cap: float | None, caps: CapsConfig
) -> list[str]:
    """One line per cap the estimate exceeds: how many of the ``paid`` messages it covers
    at their average estimated price."""
    if paid <= 0 or cost_usd <= 0:
        return []
    each = cost_usd / paid
    notes: list[str] = []
    if campaign_cap is not None and cost_usd > campaign_cap:
        notes.append(
            f"the campaign cap ${campaign_cap:,.2f} covers about {int(campaign_cap // each):,}"
            f" of its {paid:,} paid messages (~${each:.4f} each): it stops there"
        )
    for period, cap in (
        ("day", caps.daily_usd),
        ("week", caps.weekly_usd),
        ("month", caps.monthly_usd),
    ):
        if cap is not None and cost_usd > cap:
            notes.append(
                f"the {period} cap ${cap:,.2f} allows about {int(cap // each):,} of them"
                f" a {period}, less what else is spent that {period}"
            )
    return notes


def span_text(seconds: float) -> str:
    """``39957`` → ``11h 05m 57s``; ``75`` → ``1m 15s``; days past 48 hours."""
    total = round(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days >= 2:
        return f"{days}d {hours:02d}h"
    hours += days * 24
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
