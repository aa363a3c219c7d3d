"""Meta's quality webhooks and polls as observations (actors/chip/quality_observations.py)."""

from __future__ import annotations

import json

import pytest

from actors.chip.quality import observe
from actors.chip.quality_observations import (
    normalize_status,
    observation_from_poll,
    observation_from_webhook,
    parse_rating,
)
from actors.chip.quality_state import Mode, QualityObservation, Rating
from tests.unit.actors.chip.quality_builders import CFG, FIXTURES, T0, G, R, U, Y, poll, st

# ----------------------------------------------------------------- parsing and fixtures


def _fixture_value(name: str) -> dict[str, object]:
    body = json.loads((FIXTURES / name).read_text())
    change = body["entry"][0]["changes"][0]
    assert change["field"] == "phone_number_quality_update"
    value: dict[str, object] = change["value"]
    return value


FIXTURE_CASES = [
    # (file, observation, resulting mode from GREEN FULL TIER_10K, resulting status)
    (
        "phone_quality_downgrade.json",
        QualityObservation(source="webhook", tier="TIER_1K", event="DOWNGRADE"),
        Mode.FULL,
        "CONNECTED",
    ),
    (
        "phone_quality_flagged.json",
        QualityObservation(source="webhook", flagged=True, tier="TIER_1K", event="FLAGGED"),
        Mode.PAUSED_BUSINESS,
        "FLAGGED",
    ),
]


@pytest.mark.parametrize(("name", "expected", "mode", "status"), FIXTURE_CASES)
def test_webhook_fixture_maps_to_observation(
    name: str, expected: QualityObservation, mode: Mode, status: str
) -> None:
    obs = observation_from_webhook(_fixture_value(name))
    assert obs == expected
    state, trs = observe(st(G, tier="TIER_10K"), obs, T0, CFG)
    assert (state.mode, state.status, state.tier) == (mode, status, "TIER_1K")
    assert len(trs) == 1


POLL_BODIES = [
    (
        {"quality_rating": "GREEN", "status": "CONNECTED", "messaging_limit_tier": "TIER_1K"},
        poll(G, "CONNECTED", "TIER_1K"),
    ),
    ({"quality_rating": "yellow", "status": " flagged "}, poll(Y, "FLAGGED")),
    ({"quality_rating": "NA", "status": ""}, poll(U, "UNKNOWN")),
    ({"messaging_limit_tier": "TIER_250"}, poll(None, None, "TIER_250")),
]


@pytest.mark.parametrize(("body", "expected"), POLL_BODIES)
def test_observation_from_poll(body: dict[str, object], expected: QualityObservation) -> None:
    assert observation_from_poll(body) == expected


@pytest.mark.parametrize(
    ("raw", "rating"),
    [("GREEN", G), ("red", R), (" Yellow ", Y), ("UNKNOWN", U), ("NA", U), (None, U), (3, U)],
)
def test_parse_rating(raw: object, rating: Rating) -> None:
    assert parse_rating(raw) is rating


@pytest.mark.parametrize(
    ("raw", "status"),
    [("connected", "CONNECTED"), (" BANNED", "BANNED"), ("", "UNKNOWN"), (None, "UNKNOWN")],
)
def test_normalize_status(raw: object, status: str) -> None:
    assert normalize_status(raw) == status
