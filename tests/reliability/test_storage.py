"""Part 4: the daemon's PostgreSQL (external server mode, a throwaway cluster) stopped
mid-campaign and started again (short mode: 6 s down): the daemon stays up, answers
webhooks 503 meanwhile, resumes, and loses nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.scenarios import storage_outage

pytestmark = pytest.mark.slow


def test_postgres_down_and_back_mid_run(tmp_path: Path) -> None:
    res = storage_outage(tmp_path, recipients=150, rate=20, down_s=6)
    print(res)
    assert res.failed_checks == [], res
    assert (res.lost, res.duplicates, res.crashes) == (0, 0, 0), res
