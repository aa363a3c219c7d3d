"""Part 5: injected crashes across chip and coordinator actors (short mode: 40)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.actor_crashes import actor_crash_storm

pytestmark = pytest.mark.slow


async def test_injected_actor_crashes_restart_fast_with_their_state(
    db_dsn: str, tmp_path: Path
) -> None:
    res = await actor_crash_storm(db_dsn, tmp_path, crashes=40, recipients=60)
    print(res)
    assert res.failed_checks == [], res
    assert (res.lost, res.duplicates, res.crashes) == (0, 0, 0), res
