"""Part 2: Graph API faults (10 % 5xx, timeouts, latency, 130429/131056 bursts, a 131049
wave, one WABA's token revoked) during a campaign: each error meets its reaction from
the error table, nothing is sent twice, the campaign ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.scenarios import graph_faults

pytestmark = pytest.mark.slow


def test_graph_faults_follow_the_error_table(tmp_path: Path, pg_admin_dsn: str) -> None:
    res = graph_faults(tmp_path, pg_admin_dsn, recipients=240, rate=30)
    print(res)
    assert res.failed_checks == [], res
    assert (res.lost, res.duplicates, res.crashes) == (0, 0, 0), res
