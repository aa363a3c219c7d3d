"""Which budget pauses end with their period (actors/campaign/rollover.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from actors.budget.periods import PeriodKind
from actors.budget.values import CapRef, Refusal, Scope
from actors.campaign.rollover import period_over

SP = ZoneInfo("America/Sao_Paulo")
# 2026-11-27 00:30 in São Paulo: a new day (and still the same week and month).
NOW = dt.datetime(2026, 11, 27, 0, 30, tzinfo=SP).timestamp()


def _refused(cap: str, key: str) -> str:
    """The reason text the budget's refusal gives (actors.budget.values.Refusal)."""
    return f"budget: {cap} cap would be crossed (0.0625 USD needed, 0 of 50 USD left, {key})"


@pytest.mark.parametrize(
    ("reason", "over"),
    [
        (_refused("daily", "day:2026-11-26"), "day:2026-11-26"),  # yesterday's
        (_refused("WABA 100 daily", "day:2026-11-26"), "day:2026-11-26"),
        (_refused("campaign other daily", "day:2026-11-26"), "day:2026-11-26"),
        (_refused("daily", "day:2026-11-27"), None),  # today's: it goes on
        (_refused("weekly", "week:2026-W48"), None),  # 2026-11-27 is in week 48
        (_refused("weekly", "week:2026-W47"), "week:2026-W47"),
        (_refused("monthly", "month:2026-10"), "month:2026-10"),
        (_refused("campaign c1 monthly", "month:2026-10"), None),  # its own budget_usd
        ("budget unavailable", None),
        ("night", None),  # the operator's
        (None, None),
        ("budget: something else", None),
    ],
)
def test_period_over(reason: str | None, over: str | None) -> None:
    assert period_over("c1", reason, NOW, SP) == over


@pytest.mark.parametrize(
    ("scope", "period", "key", "over"),
    [
        (Scope("global"), "day", "day:2026-11-26", True),
        (Scope.waba("100"), "week", "week:2026-W47", True),
        (Scope("campaign", "c1"), "day", "day:2026-11-26", True),
        (Scope("campaign", "c1"), "month", "month:2026-10", False),  # its budget_usd
    ],
)
def test_the_budgets_own_refusal_is_read(
    scope: Scope, period: PeriodKind, key: str, over: bool
) -> None:
    """The reason is the budget's text (actors.budget.values.Refusal): this pins the two
    together."""
    refusal = Refusal(
        id="o:1",
        amount=Decimal("0.0625"),
        cap=CapRef(scope, period),
        cap_amount=Decimal(50),
        used=Decimal(50),
        period_key=key,
    )
    assert period_over("c1", refusal.reason, NOW, SP) == (key if over else None)
