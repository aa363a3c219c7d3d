"""The chip quality state machine, one observation at a time: transitions, idempotent
polls, ramp timing, anti-flap, error holds and the target mode.

The rebuild from the journal (random walks) is in test_quality_rebuild.py, the policy per
mode in test_quality_policy.py, the reading of Meta's webhooks and polls in
test_quality_observations.py (shared builders: quality_builders.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from actors.chip.quality import (
    Mode,
    QualityObservation,
    QualityState,
    QualityTransition,
    Rating,
    from_error,
    is_blocked,
    observe,
    policy,
    target_mode,
    tick,
)
from config.model import QualityConfig
from tests.unit.actors.chip.quality_builders import CFG, T0, G, H, R, U, Y, hook, poll, ramping, st

# ----------------------------------------------------------------- single transitions

TRANSITIONS = [
    # (id, start, observation, mode, rating, status)
    ("green-yellow", st(G), poll(Y), Mode.SLOWED, Y, "CONNECTED"),
    ("green-red", st(G), poll(R), Mode.PAUSED_BUSINESS, R, "CONNECTED"),
    ("yellow-red", st(Y, Mode.SLOWED), poll(R), Mode.PAUSED_BUSINESS, R, "CONNECTED"),
    ("red-yellow", st(R, Mode.PAUSED_BUSINESS), poll(Y), Mode.SLOWED, Y, "CONNECTED"),
    ("red-green ramps", st(R, Mode.PAUSED_BUSINESS), poll(G), Mode.RAMPING, G, "CONNECTED"),
    ("yellow-green ramps", st(Y, Mode.SLOWED), poll(G), Mode.RAMPING, G, "CONNECTED"),
    ("unknown-green", st(U), poll(G), Mode.FULL, G, "CONNECTED"),
    ("unknown-yellow", st(U), poll(Y), Mode.SLOWED, Y, "CONNECTED"),
    ("unknown-red", st(U), poll(R), Mode.PAUSED_BUSINESS, R, "CONNECTED"),
    ("green-unknown stays full", st(G), poll(U), Mode.FULL, U, "CONNECTED"),
    ("red-unknown ramps", st(R, Mode.PAUSED_BUSINESS), poll(U), Mode.RAMPING, U, "CONNECTED"),
    ("flagged", st(G), hook("FLAGGED"), Mode.PAUSED_BUSINESS, G, "FLAGGED"),
    (
        "unflagged ramps",
        st(G, Mode.PAUSED_BUSINESS, "FLAGGED"),
        hook("UNFLAGGED"),
        Mode.RAMPING,
        G,
        "CONNECTED",
    ),
    (
        "unflagged while red",
        st(R, Mode.PAUSED_BUSINESS, "FLAGGED"),
        hook("UNFLAGGED"),
        Mode.PAUSED_BUSINESS,
        R,
        "CONNECTED",
    ),
    (
        "unflagged while yellow",
        st(Y, Mode.PAUSED_BUSINESS, "FLAGGED"),
        hook("UNFLAGGED"),
        Mode.SLOWED,
        Y,
        "CONNECTED",
    ),
    ("polled flagged", st(G), poll(G, "FLAGGED"), Mode.PAUSED_BUSINESS, G, "FLAGGED"),
    ("restricted", st(G), poll(G, "RESTRICTED"), Mode.PAUSED_ALL, G, "RESTRICTED"),
    ("banned", st(Y, Mode.SLOWED), poll(Y, "BANNED"), Mode.PAUSED_ALL, Y, "BANNED"),
    ("disconnected", st(G), poll(G, "DISCONNECTED"), Mode.PAUSED_ALL, G, "DISCONNECTED"),
    ("pending", st(U), poll(U, "PENDING"), Mode.PAUSED_ALL, U, "PENDING"),
    ("rate limited", st(G), poll(G, "rate_limited"), Mode.PAUSED_BUSINESS, G, "RATE_LIMITED"),
    ("unknown status", st(G), poll(G, "SOMETHING_NEW"), Mode.PAUSED_ALL, G, "SOMETHING_NEW"),
    (
        "restricted back green",
        st(G, Mode.PAUSED_ALL, "RESTRICTED"),
        poll(G),
        Mode.RAMPING,
        G,
        "CONNECTED",
    ),
    (
        "restricted back yellow",
        st(Y, Mode.PAUSED_ALL, "RESTRICTED"),
        poll(Y),
        Mode.SLOWED,
        Y,
        "CONNECTED",
    ),
    (
        "restricted back red",
        st(R, Mode.PAUSED_ALL, "RESTRICTED"),
        poll(R),
        Mode.PAUSED_BUSINESS,
        R,
        "CONNECTED",
    ),
    (
        "pending to connected",
        st(U, Mode.PAUSED_ALL, "PENDING"),
        poll(U),
        Mode.RAMPING,
        U,
        "CONNECTED",
    ),
    (
        "flag never hides a ban",
        st(G, Mode.PAUSED_ALL, "BANNED"),
        hook("FLAGGED"),
        Mode.PAUSED_ALL,
        G,
        "BANNED",
    ),
    ("ramp drops to yellow", ramping(), poll(Y), Mode.SLOWED, Y, "CONNECTED"),
    (
        "ramp drops to red",
        ramping(),
        poll(R),
        Mode.PAUSED_BUSINESS,
        R,
        "CONNECTED",
    ),
    (
        "ramp drops on flag",
        ramping(),
        hook("FLAGGED"),
        Mode.PAUSED_BUSINESS,
        G,
        "FLAGGED",
    ),
]


@pytest.mark.parametrize(
    ("start", "obs", "mode", "rating", "status"),
    [t[1:] for t in TRANSITIONS],
    ids=[t[0] for t in TRANSITIONS],
)
def test_transition(
    start: QualityState, obs: QualityObservation, mode: Mode, rating: Rating, status: str
) -> None:
    state, trs = observe(start, obs, T0, CFG)
    assert (state.mode, state.rating, state.status) == (mode, rating, status)
    changed = (start.mode, start.rating, start.status) != (mode, rating, status)
    assert len(trs) == int(changed)
    if trs:
        (tr,) = trs
        assert tr.at == T0
        assert tr.cause == obs.source
        assert (tr.from_mode, tr.to_mode) == (start.mode, mode)
        assert (tr.from_rating, tr.to_rating) == (start.rating, rating)
        assert (tr.from_status, tr.to_status) == (start.status, status)
        assert tr.reason.startswith(obs.source)
    if mode is Mode.RAMPING and start.mode is not Mode.RAMPING:
        assert (state.ramp_step, state.ramp_since) == (0, T0)
    if mode is not Mode.RAMPING:
        assert (state.ramp_step, state.ramp_since) == (None, None)


def test_ramp_needs_no_transition_when_already_ramping() -> None:
    start = ramping()
    assert observe(start, poll(G), T0 + 60, CFG) == (start, [])


def test_tier_change_alone_is_journaled_without_mode_change() -> None:
    start = st(G, tier="TIER_10K")
    state, trs = observe(start, hook("DOWNGRADE", "TIER_1K"), T0, CFG)
    assert state == dataclasses.replace(start, tier="TIER_1K")
    (tr,) = trs
    assert (tr.from_tier, tr.to_tier, tr.from_mode, tr.to_mode) == (
        "TIER_10K",
        "TIER_1K",
        Mode.FULL,
        Mode.FULL,
    )
    assert "tier TIER_10K→TIER_1K" in tr.reason


def test_unknown_webhook_event_changes_nothing() -> None:
    start = st(G, tier="TIER_1K")
    assert observe(start, hook("SOMETHING_ELSE"), T0, CFG) == (start, [])


# ----------------------------------------------------------------- idempotent polls

IDEMPOTENT = [
    ("full green", st(G, tier="TIER_1K"), poll(G, tier="TIER_1K")),
    ("full unknown", st(U), poll(U)),
    ("slowed", st(Y, Mode.SLOWED), poll(Y)),
    ("paused red", st(R, Mode.PAUSED_BUSINESS), poll(R)),
    ("flagged", st(G, Mode.PAUSED_BUSINESS, "FLAGGED"), poll(G, "FLAGGED")),
    ("flagged twice", st(G, Mode.PAUSED_BUSINESS, "FLAGGED"), hook("FLAGGED")),
    ("banned", st(G, Mode.PAUSED_ALL, "BANNED"), poll(G, "BANNED")),
    ("no status in poll", st(Y, Mode.SLOWED), poll(Y, None)),
    ("unflagged while connected", st(G), hook("UNFLAGGED")),
]


@pytest.mark.parametrize(
    ("start", "obs"), [t[1:] for t in IDEMPOTENT], ids=[t[0] for t in IDEMPOTENT]
)
def test_repeated_poll_produces_no_transition(start: QualityState, obs: QualityObservation) -> None:
    once, _ = observe(start, obs, T0, CFG)
    again, trs = observe(once, obs, T0 + 900, CFG)
    assert trs == []
    assert again == once
    for k in range(1, 50):  # a day of polls: no samples accumulate
        again, trs = observe(again, obs, T0 + 900 * k, CFG)
        assert trs == []
    assert again.changes == once.changes


def test_a_day_of_yellow_samples_is_one_change_not_a_flap() -> None:
    """The old system wrote a row per poll and counted samples as oscillations."""
    state, _ = observe(st(G), poll(Y), T0, CFG)
    for k in range(1, 80):  # 20 h of YELLOW polls
        state, _ = observe(state, poll(Y), T0 + 900 * k, CFG)
    state, _ = observe(state, poll(G), T0 + 80 * 900, CFG)
    assert state.changes == (T0, T0 + 80 * 900)
    assert state.mode is Mode.RAMPING
    assert not is_blocked(state, T0 + 80 * 900)


# ----------------------------------------------------------------- ramp timing

RAMP_TIMES = [
    # (offset from recovery, mode, step, throughput fraction)
    (0.0, Mode.RAMPING, 0, 0.25),
    (2 * H - 1, Mode.RAMPING, 0, 0.25),
    (2 * H, Mode.RAMPING, 1, 0.5),
    (6 * H - 1, Mode.RAMPING, 1, 0.5),
    (6 * H, Mode.RAMPING, 2, 0.75),
    (12 * H - 1, Mode.RAMPING, 2, 0.75),
    (12 * H, Mode.FULL, None, 1.0),
    (100 * H, Mode.FULL, None, 1.0),
]


@pytest.mark.parametrize(("offset", "mode", "step", "fraction"), RAMP_TIMES)
def test_ramp_steps_at_exact_boundaries(
    offset: float, mode: Mode, step: int | None, fraction: float
) -> None:
    recovering, _ = observe(st(R, Mode.PAUSED_BUSINESS), poll(G), T0, CFG)
    state, trs = tick(recovering, T0 + offset, CFG)
    assert (state.mode, state.ramp_step) == (mode, step)
    assert policy(state, CFG).throughput_fraction == fraction
    boundaries = [T0 + 2 * H, T0 + 6 * H, T0 + 12 * H]
    assert [t.at for t in trs] == [b for b in boundaries if b <= T0 + offset]


def test_ramp_transitions_are_stamped_at_boundaries_not_tick_time() -> None:
    recovering, _ = observe(st(Y, Mode.SLOWED), poll(G), T0, CFG)
    state, trs = tick(recovering, T0 + 7 * H, CFG)
    assert [(t.at, t.to_mode, t.ramp_step, t.ramp_since) for t in trs] == [
        (T0 + 2 * H, Mode.RAMPING, 1, T0 + 2 * H),
        (T0 + 6 * H, Mode.RAMPING, 2, T0 + 6 * H),
    ]
    assert all(t.cause == "tick" for t in trs)
    assert tick(state, T0 + 7 * H, CFG) == (state, [])


def test_ramp_follows_configured_hours() -> None:
    cfg = QualityConfig(ramp_hours=[1.0, 1.0])
    state, _ = observe(st(R, Mode.PAUSED_BUSINESS), poll(G), T0, cfg)
    assert policy(state, cfg).throughput_fraction == pytest.approx(1 / 3)
    state, _ = tick(state, T0 + H, cfg)
    assert policy(state, cfg).throughput_fraction == pytest.approx(2 / 3)
    state, _ = tick(state, T0 + 2 * H, cfg)
    assert state.mode is Mode.FULL


def test_no_ramp_configured_recovers_at_once() -> None:
    cfg = QualityConfig(ramp_hours=[])
    state, _ = observe(st(R, Mode.PAUSED_BUSINESS), poll(G), T0, cfg)
    assert state.mode is Mode.FULL


def test_observation_after_boundaries_journals_them_first() -> None:
    recovering, _ = observe(st(R, Mode.PAUSED_BUSINESS), poll(G), T0, CFG)
    state, trs = observe(recovering, poll(Y), T0 + 3 * H, CFG)
    assert [(t.at, t.cause, t.to_mode) for t in trs] == [
        (T0 + 2 * H, "tick", Mode.RAMPING),
        (T0 + 3 * H, "poll", Mode.SLOWED),
    ]
    assert state.mode is Mode.SLOWED


# ----------------------------------------------------------------- anti-flap

# (hours after T0, observation or None for a tick, mode, rating, blocked)
FLAP = [
    (1, poll(Y), Mode.SLOWED, Y, False),  # change 1
    (2, poll(G), Mode.RAMPING, G, False),  # change 2
    (3, poll(Y), Mode.SLOWED, Y, False),  # change 3
    (4, poll(G), Mode.SLOWED, G, True),  # change 4 > 3: blocked until 10 h, rating recorded
    (5, poll(G), Mode.SLOWED, G, True),  # same poll: nothing
    (9.99, None, Mode.SLOWED, G, True),
    (10, None, Mode.RAMPING, G, False),  # block over: ramp starts at 10 h
    (12, None, Mode.RAMPING, G, False),  # step 1 at 12 h
]


def test_anti_flap_blocks_recovery_then_allows_it() -> None:
    state = st(G)
    journal: list[QualityTransition] = []
    for hours, obs, mode, rating, blocked in FLAP:
        now = T0 + hours * H
        if obs is None:
            state, trs = tick(state, now, CFG)
        else:
            state, trs = observe(state, obs, now, CFG)
        journal += trs
        assert (state.mode, state.rating, is_blocked(state, now)) == (mode, rating, blocked), hours
    assert state.blocked_until == T0 + 10 * H
    assert (state.ramp_step, state.ramp_since) == (1, T0 + 12 * H)
    first_block = next(t for t in journal if t.blocked_until is not None)
    assert first_block.at == T0 + 4 * H
    assert "anti-flap" in first_block.reason
    end = next(t for t in journal if t.cause == "tick")
    assert (end.at, end.from_mode, end.to_mode) == (T0 + 10 * H, Mode.SLOWED, Mode.RAMPING)


def test_degrade_during_block_is_immediate_and_improvement_waits() -> None:
    state = st(G)
    for hours, rating in [(1, Y), (2, G), (3, Y), (4, G)]:
        state, _ = observe(state, poll(rating), T0 + hours * H, CFG)
    assert state.blocked_until == T0 + 10 * H
    state, trs = observe(state, poll(R), T0 + 5 * H, CFG)  # change 5: worse, at once
    assert state.mode is Mode.PAUSED_BUSINESS
    assert state.blocked_until == T0 + 11 * H  # measured from the last change
    state, trs = observe(state, poll(Y), T0 + 6 * H, CFG)  # change 6: better, waits
    assert state.mode is Mode.PAUSED_BUSINESS
    assert state.blocked_until == T0 + 12 * H
    assert "anti-flap" in trs[0].reason
    until = dt.datetime.fromtimestamp(T0 + 12 * H, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert policy(state, CFG).reason.endswith(f"recovery held by anti-flap until {until}")
    state, trs = tick(state, T0 + 12 * H, CFG)
    assert state.mode is Mode.SLOWED  # the target, not a ramp: YELLOW is still degraded
    assert [t.at for t in trs] == [T0 + 12 * H]


def test_changes_older_than_the_window_do_not_count() -> None:
    state = st(G)
    for hours, rating in [(0, Y), (1, G), (2, Y)]:
        state, _ = observe(state, poll(rating), T0 + hours * H, CFG)
    # Exactly 24 h after the first change, it leaves the window: 3 changes, no block.
    state, _ = observe(state, poll(G), T0 + 24 * H, CFG)
    assert state.changes == (T0 + 1 * H, T0 + 2 * H, T0 + 24 * H)
    assert state.mode is Mode.RAMPING


def test_green_unknown_is_no_flap() -> None:
    state = st(G)
    for k in range(10):
        state, trs = observe(state, poll(U if k % 2 == 0 else G), T0 + k * H, CFG)
        assert len(trs) == 1
    assert state.changes == ()
    assert state.mode is Mode.FULL


def test_green_while_blocked_is_recorded_with_the_hold_in_the_reason() -> None:
    state = st(G)
    for hours, rating in [(1, Y), (2, G), (3, Y), (4, G)]:
        state, _ = observe(state, poll(rating), T0 + hours * H, CFG)
    state, _ = observe(state, poll(G, "FLAGGED"), T0 + 5 * H, CFG)  # worse: at once
    state, trs = observe(state, poll(G), T0 + 6 * H, CFG)  # better: held
    assert (state.mode, state.status) == (Mode.PAUSED_BUSINESS, "CONNECTED")
    (tr,) = trs
    assert "recovery held in PAUSED_BUSINESS until" in tr.reason


# ----------------------------------------------------------------- error codes

ERRORS = [
    # (id, start, code, mode, hold)
    ("131048 green", st(G), 131048, Mode.PAUSED_BUSINESS, 131048),
    ("368 green", st(G), 368, Mode.PAUSED_ALL, 368),
    ("133010 green", st(G), 133010, Mode.PAUSED_ALL, 133010),
    ("131048 while yellow", st(Y, Mode.SLOWED), 131048, Mode.PAUSED_BUSINESS, 131048),
    ("131048 mid-ramp", ramping(), 131048, Mode.PAUSED_BUSINESS, 131048),
    ("368 while banned", st(G, Mode.PAUSED_ALL, "BANNED"), 368, Mode.PAUSED_ALL, 368),
    (
        "milder does not replace",
        st(G, Mode.PAUSED_ALL, hold=368, hold_since=T0 - 1),
        131048,
        Mode.PAUSED_ALL,
        368,
    ),
    (
        "severer replaces",
        st(G, Mode.PAUSED_BUSINESS, hold=131048, hold_since=T0 - 1),
        368,
        Mode.PAUSED_ALL,
        368,
    ),
    ("not a quality code", st(G), 130429, Mode.FULL, None),
    ("not a quality code either", st(Y, Mode.SLOWED), 131026, Mode.SLOWED, None),
]


@pytest.mark.parametrize(
    ("start", "code", "mode", "hold"), [t[1:] for t in ERRORS], ids=[t[0] for t in ERRORS]
)
def test_error_reaction(start: QualityState, code: int, mode: Mode, hold: int | None) -> None:
    state, trs = from_error(start, code, T0, CFG)
    assert (state.mode, state.hold) == (mode, hold)
    assert bool(trs) == (state != start)
    if trs:
        assert trs[-1].cause == "error"
        assert str(code) in trs[-1].reason
    again, trs = from_error(state, code, T0 + 1, CFG)
    assert (again, trs) == (state, [])


# (seconds after the error, observation, mode, still held)
HOLD_CLEARING = [
    (60, poll(G), Mode.PAUSED_ALL, True),  # too soon: less than one poll period
    (900, hook("UNFLAGGED"), Mode.PAUSED_ALL, True),  # webhooks never clear a hold
    (900, poll(R), Mode.PAUSED_ALL, True),  # RED
    (900, poll(G, "FLAGGED"), Mode.PAUSED_ALL, True),  # not CONNECTED
    (900, poll(G, None), Mode.PAUSED_ALL, True),  # status not shown
    (900, poll(G), Mode.RAMPING, False),
    (900, poll(U), Mode.RAMPING, False),
    (900, poll(Y), Mode.SLOWED, False),
]


@pytest.mark.parametrize(("after", "obs", "mode", "held"), HOLD_CLEARING)
def test_error_hold_clears_only_by_a_later_healthy_poll(
    after: float, obs: QualityObservation, mode: Mode, held: bool
) -> None:
    state, _ = from_error(st(G), 368, T0, CFG)
    state, _ = observe(state, obs, T0 + after, CFG)
    assert state.mode is mode
    assert (state.hold is not None) == held


def test_spam_hold_allows_replies_then_ramps() -> None:
    state, _ = from_error(st(G), 131048, T0, CFG)
    p = policy(state, CFG)
    assert (p.business_initiated_allowed, p.free_form_allowed) == (False, True)
    assert "131048" in p.reason
    state, trs = observe(state, poll(G), T0 + CFG.poll_interval_s, CFG)
    assert state.mode is Mode.RAMPING
    assert "cleared" in trs[-1].reason


# ----------------------------------------------------------------- target mode


@pytest.mark.parametrize(
    ("rating", "status", "hold", "mode"),
    [
        (G, "CONNECTED", None, Mode.FULL),
        (U, "CONNECTED", None, Mode.FULL),
        (Y, "CONNECTED", None, Mode.SLOWED),
        (R, "FLAGGED", None, Mode.PAUSED_BUSINESS),
        (Y, "FLAGGED", None, Mode.PAUSED_BUSINESS),
        (G, "CONNECTED", 131048, Mode.PAUSED_BUSINESS),
        (G, "CONNECTED", 133010, Mode.PAUSED_ALL),
        (R, "RESTRICTED", None, Mode.PAUSED_ALL),
    ],
)
def test_target_mode_is_the_worst_demand(
    rating: Rating, status: str, hold: int | None, mode: Mode
) -> None:
    assert target_mode(rating, status, hold) is mode
