"""Part 1: ``kill -9`` during a campaign (short mode: a small campaign, 3 kills)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.scenarios import crash_campaign

pytestmark = pytest.mark.slow


def test_kill_9_during_a_campaign_loses_and_duplicates_nothing(
    tmp_path: Path, pg_admin_dsn: str
) -> None:
    res = crash_campaign(tmp_path, pg_admin_dsn, recipients=150, kills=3, rate=25)
    assert res.failed_checks == [], res
    assert (res.lost, res.duplicates, res.crashes) == (0, 0, 0), res
