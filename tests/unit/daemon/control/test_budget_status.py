"""``budget.status`` carries the configured alert thresholds for the console's gauges."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from daemon.bus import Bus
from daemon.control.methods import METHODS, ControlContext


class _Budget:
    async def call(self, build: Any, timeout: float = 2.0) -> dict[str, Any]:
        return {
            "day": {"spent": "1.00", "reserved": "0", "cap": "10"},
            "week": {"spent": "1.00", "reserved": "0", "cap": None},
        }


async def test_each_period_names_the_alert_thresholds() -> None:
    cfg = SimpleNamespace(budget=SimpleNamespace(alert_at=[0.5, 0.9]))
    fleet = SimpleNamespace(budget=_Budget())
    ctx = ControlContext(
        cfg=cast(Any, cfg), fleet=cast(Any, fleet), store=cast(Any, None), bus=Bus()
    )
    status = await METHODS["budget.status"](ctx, {})
    assert status["day"] == {
        "spent": "1.00",
        "reserved": "0",
        "cap": "10",
        "alert_at": ["0.5", "0.9"],
    }
    assert status["week"]["alert_at"] == ["0.5", "0.9"]
