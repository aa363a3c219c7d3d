"""The send policy of each quality mode (actors/chip/quality_policy.py)."""

from __future__ import annotations

import pytest

from actors.chip.quality_policy import policy
from actors.chip.quality_state import Mode, QualityState, SendPolicy
from tests.unit.actors.chip.quality_builders import CFG, T0, G, R, U, Y, st

# ----------------------------------------------------------------- policy

POLICIES = [
    # (state, business, marketing, free form, fraction)
    (st(G), True, True, True, 1.0),
    (st(U), True, True, True, 1.0),
    (st(G, Mode.RAMPING, ramp_step=0, ramp_since=T0), True, True, True, 0.25),
    (st(G, Mode.RAMPING, ramp_step=1, ramp_since=T0), True, True, True, 0.5),
    (st(G, Mode.RAMPING, ramp_step=2, ramp_since=T0), True, True, True, 0.75),
    (st(Y, Mode.SLOWED), True, False, True, 0.5),
    (st(R, Mode.PAUSED_BUSINESS), False, False, True, 0.5),
    (st(G, Mode.PAUSED_BUSINESS, "FLAGGED"), False, False, True, 0.5),
    (st(G, Mode.PAUSED_ALL, "BANNED"), False, False, False, 0.0),
]


@pytest.mark.parametrize(("state", "business", "marketing", "free_form", "fraction"), POLICIES)
def test_policy(
    state: QualityState, business: bool, marketing: bool, free_form: bool, fraction: float
) -> None:
    p = policy(state, CFG)
    assert (
        p.business_initiated_allowed,
        p.marketing_allowed,
        p.free_form_allowed,
        p.throughput_fraction,
    ) == (business, marketing, free_form, fraction)
    assert p.reason


def test_policy_reasons_name_the_cause() -> None:
    assert "UNKNOWN rating treated as GREEN" in policy(st(U), CFG).reason
    assert "rating YELLOW" in policy(st(Y, Mode.SLOWED), CFG).reason
    assert "status BANNED" in policy(st(G, Mode.PAUSED_ALL, "BANNED"), CFG).reason
    assert isinstance(policy(st(G), CFG), SendPolicy)
