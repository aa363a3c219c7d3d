"""Shared budget caps, three daemons on one database (short mode: 150 recipients, three
``kill -9`` s and a clean stop): the journal, its checkpoints and every daemon agree,
the cap holds, nothing is sent twice or lost. See :mod:`tests.reliability.shared_budget`
for why; ``bench/reliability.py --only shared`` runs it long."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.shared_budget import shared_budget

pytestmark = pytest.mark.slow


def test_three_daemons_share_the_caps_through_kills_and_a_clean_stop(
    tmp_path: Path, pg_admin_dsn: str
) -> None:
    res = shared_budget(tmp_path, pg_admin_dsn, recipients=150, kills=3, rate=6)
    assert res.failed_checks == [], res
    assert (res.lost, res.duplicates, res.crashes) == (0, 0, 0), res
