"""The chip quality journal, property style: over random walks of polls, webhooks, error
codes and ticks, a rebuild from the journal is the live state and the tick cadence does
not change the journal.

The transitions one at a time are in test_quality_transitions.py (shared builders:
quality_builders.py).
"""

from __future__ import annotations

import random

import pytest

from actors.chip.quality import (
    Mode,
    QualityObservation,
    QualityState,
    QualityTransition,
    from_error,
    is_blocked,
    observation_from_poll,
    observation_from_webhook,
    observe,
    rebuild,
    target_mode,
    tick,
)
from config.model import QualityConfig
from tests.unit.actors.chip.quality_builders import CFG, T0, H, Y, st

# ----------------------------------------------------------------- rebuild (property style)

RATINGS = ["GREEN", "GREEN", "YELLOW", "RED", "UNKNOWN", "NA"]
STATUSES = ["CONNECTED"] * 6 + ["FLAGGED", "RESTRICTED", "BANNED", "PENDING", "WEIRD", None]
TIERS = [None, None, "TIER_250", "TIER_1K", "TIER_10K"]
EVENTS = ["FLAGGED", "UNFLAGGED", "DOWNGRADE", "UPGRADE", "SOMETHING"]
CODES = [131048, 368, 133010, 130429]

Step = tuple[float, str, object]


def _random_steps(rng: random.Random, n: int) -> list[Step]:
    t = T0
    steps: list[Step] = []
    for _ in range(n):
        t += rng.choice([rng.uniform(0, 900), rng.uniform(0, 3 * H), rng.uniform(0, 14 * H), 0.0])
        kind = rng.choice(["poll", "poll", "poll", "hook", "error", "tick"])
        if kind == "poll":
            body: dict[str, object] = {"quality_rating": rng.choice(RATINGS)}
            status = rng.choice(STATUSES)
            if status is not None:
                body["status"] = status
            tier = rng.choice(TIERS)
            if tier is not None:
                body["messaging_limit_tier"] = tier
            steps.append((t, "obs", observation_from_poll(body)))
        elif kind == "hook":
            value = {"event": rng.choice(EVENTS), "current_limit": rng.choice(TIERS)}
            steps.append((t, "obs", observation_from_webhook(value)))
        elif kind == "error":
            steps.append((t, "error", rng.choice(CODES)))
        else:
            steps.append((t, "tick", None))
    return steps


def _run(
    steps: list[Step], cfg: QualityConfig, *, check: bool
) -> tuple[QualityState, list[QualityTransition]]:
    state = QualityState()
    journal: list[QualityTransition] = []
    for now, kind, arg in steps:
        if kind == "obs":
            assert isinstance(arg, QualityObservation)
            state, trs = observe(state, arg, now, cfg)
        elif kind == "error":
            assert isinstance(arg, int)
            state, trs = from_error(state, arg, now, cfg)
        else:
            state, trs = tick(state, now, cfg)
        journal += trs
        if check:
            _check_invariants(state, trs, now, cfg)
            # A restart right now rebuilds exactly the live state.
            assert rebuild(journal, now, cfg) == state
    return state, journal


def _check_invariants(
    state: QualityState, trs: list[QualityTransition], now: float, cfg: QualityConfig
) -> None:
    assert tick(state, now, cfg) == (state, [])  # nothing left due
    assert [t.at for t in trs] == sorted(t.at for t in trs)
    assert all(t.at <= now for t in trs)
    target = target_mode(state.rating, state.status, state.hold)
    if state.mode is Mode.RAMPING:
        assert target is Mode.FULL
        assert state.ramp_step is not None
        assert state.ramp_since is not None
    else:
        assert (state.ramp_step, state.ramp_since) == (None, None)
    if target is not Mode.FULL and state.mode is not target:
        # Only anti-flap may keep a chip in a worse mode than the facts call for.
        assert is_blocked(state, now)
        assert state.mode.value in ("SLOWED", "PAUSED_BUSINESS", "PAUSED_ALL")
    if target is Mode.FULL and state.mode not in (Mode.FULL, Mode.RAMPING):
        assert is_blocked(state, now)
    if trs:
        last = trs[-1]
        assert (last.to_rating, last.to_status, last.to_mode, last.to_tier) == (
            state.rating,
            state.status,
            state.mode,
            state.tier,
        )


CONFIGS = [
    CFG,
    QualityConfig(ramp_hours=[1.0], flap_max_changes=1, flap_window_h=6, flap_block_h=2),
    QualityConfig(ramp_hours=[0.5, 0.5, 0.5, 0.5], flap_max_changes=5, poll_interval_s=60),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=["default", "tight", "long-ramp"])
def test_rebuild_from_journal_equals_live_state(cfg: QualityConfig) -> None:
    rng = random.Random(20260509)
    modes_seen: set[Mode] = set()
    blocks = 0
    for _ in range(300):
        steps = _random_steps(rng, rng.randint(1, 40))
        state, journal = _run(steps, cfg, check=True)
        modes_seen |= {t.to_mode for t in journal}
        blocks += any(t.blocked_until is not None for t in journal)
        # Later restarts: time passed while down is applied by the rebuild's tick.
        for later in (1.0, 3 * H, 30 * H):
            now = steps[-1][0] + later
            assert rebuild(journal, now, cfg) == tick(state, now, cfg)[0]
    assert modes_seen == set(Mode)  # the generator reaches every mode
    assert blocks > 10  # and anti-flap blocks


@pytest.mark.parametrize("cfg", CONFIGS, ids=["default", "tight", "long-ramp"])
def test_tick_cadence_does_not_change_the_journal(cfg: QualityConfig) -> None:
    rng = random.Random(77)
    for _ in range(200):
        steps = _random_steps(rng, rng.randint(1, 40))
        with_ticks = _run(steps, cfg, check=False)
        without = _run([s for s in steps if s[1] != "tick"], cfg, check=False)
        end = steps[-1][0]
        assert tick(with_ticks[0], end, cfg)[0] == tick(without[0], end, cfg)[0]
        assert with_ticks[1] + tick(with_ticks[0], end, cfg)[1] == (
            without[1] + tick(without[0], end, cfg)[1]
        )


def test_rebuild_of_empty_journal_is_the_initial_state() -> None:
    assert rebuild([], T0, CFG) == QualityState()
    start = st(Y, Mode.SLOWED, tier="TIER_1K")
    assert rebuild([], T0, CFG, initial=start) == start
