"""The send policy of each quality mode (actors/chip/quality_policy.py), and which
transitions are for the worse."""

from __future__ import annotations

import pytest

from actors.chip.quality import observe
from actors.chip.quality_policy import policy
from actors.chip.quality_state import Mode, QualityObservation, QualityState, SendPolicy
from tests.unit.actors.chip.quality_builders import CFG, T0, G, R, U, Y, hook, poll, ramping, st

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


@pytest.mark.parametrize(
    ("start", "obs", "worse"),
    [
        (st(G), poll(Y), True),  # rated lower, and slowed
        (st(Y, Mode.SLOWED), poll(R), True),
        (st(G), hook("FLAGGED"), True),  # same rating, sends less
        (st(G, Mode.PAUSED_ALL, "BANNED"), poll(R, "BANNED"), True),  # rated lower only
        (st(R, Mode.PAUSED_BUSINESS), poll(G), False),  # recovering: the ramp
        (st(G), poll(U), False),  # UNKNOWN is as GREEN for sending
        (ramping(), poll(G, tier="TIER_10K"), False),
    ],
)
def test_a_transition_is_worse_when_the_chip_may_send_less_or_is_rated_lower(
    start: QualityState, obs: QualityObservation, worse: bool
) -> None:
    """What the chip logs as a warning (so the console's log and backlog carry it)."""
    _, transitions = observe(start, obs, T0, CFG)
    assert transitions
    assert [t.worse for t in transitions] == [worse] * len(transitions)
