"""The send decision's budget gate: a paid method must fit what is left under every cap
(refused naming the cap), a free one always goes; the snapshot read from the ledger.
"""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from actors.budget.ledger import Ledger
from actors.budget.values import Caps, Reservation
from actors.policy.cost import BudgetState, Intent
from tests.unit.actors.policy.cost_builders import D, req, run


@pytest.mark.parametrize(
    ("remaining", "service", "content", "method", "reason"),
    [
        ({"daily": D("0.005")}, False, True, "refuse", "budget: daily cap would be crossed"),
        (
            {"daily": D("1"), "WABA 1 weekly": D("0")},
            False,
            False,
            "refuse",
            "budget: WABA 1 weekly cap would be crossed",
        ),
        ({"daily": D("0.0068")}, False, False, "utility_template", ""),  # exactly fits
        ({"daily": D("-3")}, True, True, "free_form", ""),  # overrun: free still goes
        ({"daily": D("-3")}, True, False, "utility_template", ""),  # free utility in window
    ],
)
def test_budget_gate(
    remaining: dict[str, Decimal], service: bool, content: bool, method: str, reason: str
) -> None:
    d = run(
        req(Intent.FOLLOW_UP, content=content, names=("followup_v2",)),
        service=service,
        budget=BudgetState.from_remaining(remaining),
    )
    assert d.method == method, d.reason
    assert reason in d.reason


def test_budget_gate_from_ledger() -> None:
    tz = ZoneInfo("America/Sao_Paulo")
    now = 1_790_000_000.0
    ledger = Ledger(tz=tz, caps=Caps(daily=D("0.10")))
    assert isinstance(ledger.reserve("m1", D("0.0625"), now), Reservation)
    budget = BudgetState.from_remaining(ledger.remaining(now))
    assert run(req(Intent.FOLLOW_UP), budget=budget).method == "utility_template"
    d = run(req(Intent.MARKETING), budget=budget)
    assert d.reason.startswith("budget: daily cap would be crossed"), d.reason


@pytest.mark.parametrize(
    ("remaining", "cost", "crossed"),
    [
        ((), D("100"), None),
        ((("daily", D("1")),), D("1"), None),
        ((("daily", D("1")),), D("1.0001"), ("daily", D("1"))),
        ((("daily", D("5")), ("weekly", D("0.5"))), D("1"), ("weekly", D("0.5"))),
        ((("daily", D("-1")),), D("0"), None),
    ],
)
def test_budget_state_crossed_by(
    remaining: tuple[tuple[str, Decimal], ...], cost: Decimal, crossed: tuple[str, Decimal] | None
) -> None:
    b = BudgetState(remaining)
    assert b.crossed_by(cost) == crossed
    assert b.allows(cost) is (crossed is None)
