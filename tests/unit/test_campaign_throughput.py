"""bench/campaign_throughput.py's sustained rate (no benchmark is run)."""

from __future__ import annotations

import pytest

from bench.campaign_throughput import sustained


def test_the_sustained_rate_leaves_out_the_start_and_the_stragglers() -> None:
    # Nothing for 2 s (the CLI starting, the first hand-over), then 100 a second, then a
    # slow tail: only the steady middle counts.
    samples = [(0.0, 0), (2.0, 0), (3.0, 100), (12.0, 1000), (20.0, 1000)]
    assert sustained(samples, 1000) == pytest.approx(100.0)


def test_polls_that_never_reach_the_mark_are_an_error() -> None:
    with pytest.raises(ValueError, match="never saw 900"):
        sustained([(0.0, 0), (1.0, 500)], 1000)
