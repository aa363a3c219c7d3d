"""The budget as the console shows it: spent and reserved against each period's cap.

``budget.status`` answers per period (day, week, month) ``spent``, ``reserved`` and
``cap`` as decimal strings, and ``alert_at`` (the configured alert thresholds, fractions
of the cap); ``budget`` events on the subscription are the alerts the ledger raised.
Plain Python, so the gauge levels are tested without a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tui.wire import as_float, as_optional_float, as_str

__all__ = ["DEFAULT_THRESHOLDS", "PERIODS", "BudgetAlert", "BudgetPeriod", "parse_budget"]

PERIODS = ("day", "week", "month")
DEFAULT_THRESHOLDS: tuple[float, ...] = (0.5, 0.8, 0.95)
"""metad's default ``[budget] alert_at``, for a daemon that does not send its own."""


@dataclass(frozen=True, slots=True)
class BudgetPeriod:
    period: str
    spent: float = 0.0
    reserved: float = 0.0
    cap: float | None = None
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS

    @property
    def used(self) -> float:
        """Spent plus reserved: what a cap refuses against (a reservation is a promise)."""
        return self.spent + self.reserved

    @property
    def share(self) -> float | None:
        """Used over cap; None without a cap (and a zero cap with spending is over it)."""
        if self.cap is None:
            return None
        if self.cap <= 0:
            return 1.0 if self.used > 0 else 0.0
        return self.used / self.cap

    @property
    def crossed(self) -> int:
        """How many thresholds the usage has reached (100 % always counts as one more)."""
        share = self.share
        if share is None:
            return 0
        return sum(1 for t in self.thresholds if share >= t) + (1 if share >= 1.0 else 0)

    @property
    def level(self) -> str:
        """ok, warning (past the first threshold), critical (past the last, or the cap)."""
        share = self.share
        if share is None or not self.thresholds or share < self.thresholds[0]:
            return "ok" if share is None or share < 1.0 else "critical"
        return "critical" if share >= self.thresholds[-1] else "warning"

    @classmethod
    def from_wire(cls, period: str, doc: Mapping[str, Any]) -> BudgetPeriod:
        raw = doc.get("alert_at")
        thresholds = DEFAULT_THRESHOLDS
        if isinstance(raw, list):
            read = [as_optional_float({"t": t}, "t") for t in raw]
            thresholds = tuple(sorted(t for t in read if t is not None and 0 < t <= 1))
        return cls(
            period=period,
            spent=as_float(doc, "spent"),
            reserved=as_float(doc, "reserved"),
            cap=as_optional_float(doc, "cap"),
            thresholds=thresholds,
        )


def parse_budget(doc: object) -> tuple[BudgetPeriod, ...]:
    """The periods of a ``budget.status`` answer, day first; unknown keys are ignored."""
    if not isinstance(doc, dict):
        return ()
    return tuple(
        BudgetPeriod.from_wire(period, doc[period])
        for period in PERIODS
        if isinstance(doc.get(period), dict)
    )


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    """One ``budget`` event: a cap's usage reached a threshold."""

    at: float
    scope: str
    period: str
    threshold: float
    used: float
    cap: float
    message: str

    @classmethod
    def from_wire(cls, at: float, doc: Mapping[str, Any]) -> BudgetAlert:
        return cls(
            at=as_float(doc, "at") or at,
            scope=as_str(doc, "scope"),
            period=as_str(doc, "period"),
            threshold=as_float(doc, "threshold"),
            used=as_float(doc, "used"),
            cap=as_float(doc, "cap"),
            message=as_str(doc, "message"),
        )
