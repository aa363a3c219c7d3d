"""Part 3: every webhook of a campaign delivered 2-3 times and out of order (counts
exact), and fuzzed bodies at the running daemon's endpoint (short mode: 2,000)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.scenarios import webhook_fuzz, webhook_storm

pytestmark = pytest.mark.slow


def test_duplicated_reordered_webhooks_keep_counts_exact(tmp_path: Path, pg_admin_dsn: str) -> None:
    res = webhook_storm(tmp_path, pg_admin_dsn, recipients=120, rate=30)
    print(res)
    assert res.failed_checks == [], res
    assert (res.lost, res.duplicates, res.crashes) == (0, 0, 0), res


def test_fuzzed_webhooks_crash_nothing_and_accept_nothing_unsigned(
    tmp_path: Path, pg_admin_dsn: str
) -> None:
    res = webhook_fuzz(tmp_path, pg_admin_dsn, examples=2000)
    print(res)
    assert res.failed_checks == [], res
    assert (res.crashes, res.accepted_unsigned) == (0, 0), res
