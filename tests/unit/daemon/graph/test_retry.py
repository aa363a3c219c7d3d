"""The backoff policy is a pure function of (attempt, rng)."""

from __future__ import annotations

import random

import pytest

from daemon.graph import RetryPolicy


def test_ceiling_grows_then_caps() -> None:
    p = RetryPolicy(base_s=0.5, cap_s=4.0, multiplier=2.0)
    assert [p.ceiling(a) for a in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert p.ceiling(10_000) == 4.0


def test_delay_is_jittered_within_the_ceiling_and_repeatable() -> None:
    p = RetryPolicy()
    delays = [p.delay(3, random.Random(1)) for _ in range(3)]
    assert delays[0] == delays[1] == delays[2]
    rng = random.Random(2)
    assert all(0 <= p.delay(a, rng) <= p.ceiling(a) for a in range(1, 20))


def test_attempt_budget() -> None:
    p = RetryPolicy(max_attempts=3)
    assert [p.should_retry(a) for a in (1, 2, 3)] == [True, True, False]


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"base_s": 2.0, "cap_s": 1.0}, {"multiplier": 0.5}]
)
def test_nonsense_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must be|need"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="attempt starts at 1"):
        RetryPolicy().ceiling(0)
