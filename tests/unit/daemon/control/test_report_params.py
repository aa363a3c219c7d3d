"""``templates.report``'s parameters are checked before the store is asked anything."""

from __future__ import annotations

from typing import Any, cast

import pytest

from daemon.control.methods import MethodError, templates_report
from daemon.store.analytics import MAX_REPORT_DAYS


@pytest.mark.parametrize(
    "params",
    [
        {"days": MAX_REPORT_DAYS + 1},  # a billion days overflowed the date arithmetic
        {"days": 0},
        {"days": True},
        {"days": "7"},
        {"by": "nope"},
    ],
)
async def test_bad_parameters_are_refused(params: dict[str, Any]) -> None:
    ctx = cast(Any, None)  # refused before the store (or anything else) is asked
    with pytest.raises(MethodError, match=f"days 1..{MAX_REPORT_DAYS}"):
        await templates_report(ctx, params)
