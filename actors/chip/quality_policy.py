"""What a chip may send in its current quality mode: the :class:`SendPolicy`.

Why a module of its own: the state machine (:mod:`actors.chip.quality`) decides the mode;
this turns a mode into permissions and a throughput fraction for the send path (the chip's
send plan, the cost decision, routing), with a reason naming the cause. The WABA kill
switch and the operator's pause are further layers on top of it (see
:mod:`actors.waba.killswitch`).
"""

from __future__ import annotations

from actors.chip.quality_state import (
    CONNECTED,
    DEGRADED,
    ERROR_HOLDS,
    SEVERITY,
    Mode,
    QualityState,
    Rating,
    SendPolicy,
    target_mode,
    utc_text,
)
from config.model import QualityConfig

__all__ = ["policy", "ramp_fraction"]


def ramp_fraction(step: int, cfg: QualityConfig) -> float:
    """The share of the chip's throughput ramp step ``step`` allows (25/50/75 % with three
    steps)."""
    n = len(cfg.ramp_hours)
    return min((step + 1) / (n + 1), 1.0)


def _why(state: QualityState) -> str:
    causes: list[str] = []
    if state.hold is not None and state.hold in ERROR_HOLDS:
        causes.append(ERROR_HOLDS[state.hold].text)
    if state.status != CONNECTED:
        causes.append(f"status {state.status}")
    if state.rating in (Rating.RED, Rating.YELLOW):
        causes.append(f"rating {state.rating}")
    target = target_mode(state.rating, state.status, state.hold)
    if state.mode in DEGRADED and SEVERITY[target] < SEVERITY[state.mode]:
        until = utc_text(state.blocked_until) if state.blocked_until is not None else "?"
        causes.append(f"recovery held by anti-flap until {until}")
    return ", ".join(causes) or "healthy"


def policy(state: QualityState, cfg: QualityConfig) -> SendPolicy:
    """What the chip may send in its current mode.

    SLOWED keeps ``yellow_throughput_fraction`` and stops marketing (utility and
    authentication templates still go). PAUSED_BUSINESS allows only answers inside open
    windows, at that same reduced rate. PAUSED_ALL allows nothing. RAMPING allows
    everything at the step's fraction (25/50/75 % with three steps).
    """
    match state.mode:
        case Mode.FULL:
            note = " (UNKNOWN rating treated as GREEN)" if state.rating is Rating.UNKNOWN else ""
            return SendPolicy(
                business_initiated_allowed=True,
                marketing_allowed=True,
                free_form_allowed=True,
                throughput_fraction=1.0,
                reason=f"full speed{note}",
            )
        case Mode.RAMPING:
            frac = ramp_fraction(state.ramp_step or 0, cfg)
            return SendPolicy(
                business_initiated_allowed=True,
                marketing_allowed=True,
                free_form_allowed=True,
                throughput_fraction=frac,
                reason=f"recovery ramp at {round(frac * 100)}%",
            )
        case Mode.SLOWED:
            return SendPolicy(
                business_initiated_allowed=True,
                marketing_allowed=False,
                free_form_allowed=True,
                throughput_fraction=cfg.yellow_throughput_fraction,
                reason=f"slowed, no marketing: {_why(state)}",
            )
        case Mode.PAUSED_BUSINESS:
            return SendPolicy(
                business_initiated_allowed=False,
                marketing_allowed=False,
                free_form_allowed=True,
                throughput_fraction=cfg.yellow_throughput_fraction,
                reason=f"business-initiated paused: {_why(state)}",
            )
        case Mode.PAUSED_ALL:
            return SendPolicy(
                business_initiated_allowed=False,
                marketing_allowed=False,
                free_form_allowed=False,
                throughput_fraction=0.0,
                reason=f"all sends paused: {_why(state)}",
            )
