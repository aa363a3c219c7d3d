"""What a campaign's plan says of the caps its estimate meets, and its durations."""

from __future__ import annotations

import pytest

from config.model import CapsConfig
from daemon.campaigns.cli import format_plan
from daemon.campaigns.reach import budget_notes, span_text


def test_each_cap_the_estimate_exceeds_says_how_many_messages_it_covers() -> None:
    notes = budget_notes(
        100.0, 1600, campaign_cap=1.0, caps=CapsConfig(daily_usd=50, monthly_usd=900)
    )
    assert notes == [
        "the campaign cap $1.00 covers about 16 of its 1,600 paid messages (~$0.0625 each):"
        " it stops there",
        "the day cap $50.00 allows about 800 of them a day, less what else is spent that day",
    ]  # the month cap is above the estimate: nothing to say


@pytest.mark.parametrize(
    ("cost", "paid", "cap"),
    [(0.0, 10, 1.0), (5.0, 0, 1.0), (5.0, 80, None), (5.0, 80, 5.0)],
    ids=["free", "nothing-paid", "no-cap", "within-the-cap"],
)
def test_nothing_is_said_when_no_cap_is_met(cost: float, paid: int, cap: float | None) -> None:
    assert budget_notes(cost, paid, campaign_cap=cap, caps=CapsConfig(daily_usd=5.0)) == []


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.6, "1m 00s"), (75, "1m 15s"), (39_957, "11h 05m 57s"),
     (47 * 3600, "47h 00m 00s"), (3 * 86_400 + 7_200, "3d 02h")],
)  # fmt: skip
def test_span_text(seconds: float, text: str) -> None:
    assert span_text(seconds) == text


def test_the_plan_text_ends_with_the_budget_notes() -> None:
    plan = {
        "campaign": "big", "recipients": 3, "messages": 3, "valid": 3, "skipped": 0,
        "skipped_by_reason": {}, "free_in_window": 0, "need_template": 3,
        "by_category": {"marketing": {"messages": 3, "cost_usd": 0.1875}},
        "estimated_cost_usd": 0.1875, "unknown_price": 0, "by_chip": {"1": 3},
        "template_problems": {}, "cards": [], "rate_per_s": 5.0, "send_seconds": 3700.0,
        "expected_end": "2026-11-26T23:23-03:00", "budget_usd": 0.1,
        "budget_notes": ["the campaign cap $0.10 covers about 1 of its 3 paid messages"],
    }  # fmt: skip
    lines = format_plan(plan).splitlines()
    assert lines[-2].startswith("  duration         1h 01m 40s of sending at 5/s;")
    assert lines[-1] == "  budget: the campaign cap $0.10 covers about 1 of its 3 paid messages"
