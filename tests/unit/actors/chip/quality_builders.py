"""Quality states and observations for the chip quality tests (test_quality*.py)."""

from __future__ import annotations

from pathlib import Path

from actors.chip.quality_observations import observation_from_webhook
from actors.chip.quality_state import Mode, QualityObservation, QualityState, Rating
from config.model import QualityConfig

H = 3600.0
T0 = 1_760_000_000.0
CFG = QualityConfig()
FIXTURES = Path(__file__).resolve().parents[5] / "shared" / "fixtures" / "webhooks"

G, Y, R, U = Rating.GREEN, Rating.YELLOW, Rating.RED, Rating.UNKNOWN


def poll(
    rating: Rating | None = None, status: str | None = "CONNECTED", tier: str | None = None
) -> QualityObservation:
    return QualityObservation(source="poll", rating=rating, status=status, tier=tier)


def hook(event: str, tier: str | None = None) -> QualityObservation:
    return observation_from_webhook({"event": event, "current_limit": tier})


def st(
    rating: Rating = G,
    mode: Mode = Mode.FULL,
    status: str = "CONNECTED",
    *,
    ramp_step: int | None = None,
    ramp_since: float | None = None,
    tier: str | None = None,
    hold: int | None = None,
    hold_since: float | None = None,
) -> QualityState:
    return QualityState(
        rating=rating,
        status=status,
        mode=mode,
        ramp_step=ramp_step,
        ramp_since=ramp_since,
        tier=tier,
        hold=hold,
        hold_since=hold_since,
    )


def ramping(step: int = 0) -> QualityState:
    return st(G, Mode.RAMPING, ramp_step=step, ramp_since=T0)
