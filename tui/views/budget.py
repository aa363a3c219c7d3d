"""Budget: a gauge per period (day, week, month) of spent plus reserved against the cap,
with the alert thresholds marked, and the alerts the ledger raised.

Fed by ``budget.status`` (on connect, every poll, and after each alert) and ``budget``
events. The gauge turns yellow past the first threshold and red past the last.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.widgets import Label, Static

from tui.budget import PERIODS, BudgetAlert, BudgetPeriod
from tui.screens import ConsoleScreen
from tui.tables import KeyedTable, Row, bar
from tui.widgets import Segment, fit_segments

__all__ = ["BudgetGauge", "BudgetScreen", "gauge_text"]

LEVEL_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red"}
GAUGE_WIDTH = 60
ALERT_COLUMNS = (
    ("time", "Time"),
    ("period", "Period"),
    ("scope", "Scope"),
    ("threshold", "At"),
    ("message", "Alert"),
)


def _usd(value: float) -> str:
    return f"${value:,.2f}"


INDENT = 7
"""The bar starts under the figures, after the period's name."""
MIN_GAUGE_WIDTH = 10


def gauge_text(period: BudgetPeriod | None, name: str, line_width: int = 0) -> Text:
    """Two lines, each fitted to ``line_width`` cells (0: unknown, the widest bar): the
    figures (spent and reserved left out first), then the bar with the thresholds marked
    and listed (the bar narrows so the list stays on its line)."""
    title = Text(f"{name.capitalize():<{INDENT - 1}} ", style="bold")
    if period is None:
        return Text.assemble(title, ("not reported by the daemon", "dim"))
    share = period.share
    marks = " · ".join(f"{t:.0%}" for t in period.thresholds)
    legend = Text(f"  alerts at {marks}" if marks else "", style="dim")
    width = GAUGE_WIDTH
    if line_width > 0:
        width = max(MIN_GAUGE_WIDTH, min(width, line_width - INDENT - legend.cell_len))
    gauge = Text(" " * INDENT)
    gauge.append_text(bar(share or 0.0, width, LEVEL_STYLE[period.level], period.thresholds))
    gauge.append_text(legend)
    return Text("\n").join([fit_segments(_figures(period, title), line_width), gauge])


def _figures(period: BudgetPeriod, title: Text) -> list[Segment]:
    """Used against the cap first; what is left, then spent + reserved, give way."""
    style = LEVEL_STYLE[period.level]
    if period.cap is None:
        return [(0, title), (0, Text(f"{_usd(period.used)} used · no cap", style="dim"))]
    out: list[Segment] = [
        (0, title),
        (0, Text(f"{_usd(period.used)} of {_usd(period.cap)}", style=style)),
        (0, Text(f" · {period.share or 0:.1%}", style=style)),
        (1, Text(f" · left {_usd(max(0.0, period.cap - period.used))}")),
    ]
    spent = f"   spent {_usd(period.spent)} + reserved {_usd(period.reserved)}"
    out.append((2, Text(spent, style="dim")))
    return out


class BudgetGauge(Static):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._shown: tuple[BudgetPeriod | None, str] | None = None

    def show(self, period: BudgetPeriod | None, name: str) -> None:
        self._shown = (period, name)
        self.update(gauge_text(period, name, self.content_size.width))

    def on_resize(self, _: events.Resize) -> None:
        if self._shown is not None:
            self.show(*self._shown)


def alert_cells(alert: BudgetAlert) -> tuple[Text, ...]:
    level = "bold red" if alert.threshold >= 1 else "yellow"
    return (
        Text(datetime.fromtimestamp(alert.at).strftime("%Y-%m-%d %H:%M:%S"), style="dim"),
        Text(alert.period),
        Text(alert.scope),
        Text(f"{alert.threshold:.0%}", style=level, justify="right"),
        Text(alert.message, style=level),
    )


class BudgetScreen(ConsoleScreen):
    AUTO_FOCUS = "#budget-alerts"
    HAS_FILTER = False

    def compose_body(self) -> ComposeResult:
        for period in PERIODS:
            yield BudgetGauge(id=f"gauge-{period}", classes="gauge")
        yield Label("Alerts (newest first)", id="budget-alerts-title")
        yield KeyedTable(ALERT_COLUMNS, id="budget-alerts")

    def redraw(self) -> None:
        super().redraw()
        state = self.console.state
        periods = {p.period: p for p in state.budget}
        for name in PERIODS:
            self.query_one(f"#gauge-{name}", BudgetGauge).show(periods.get(name), name)
        alerts = list(state.budget_alerts)
        rows: list[Row] = [(str(i), alert_cells(a)) for i, a in enumerate(reversed(alerts))]
        self.query_one(KeyedTable).show_rows(rows[::-1])
        available = state.available.get("budget.status")
        if available is False:
            info = "budget: not available (this daemon has no budget.status)"
        elif not state.budget:
            info = "budget: waiting for the daemon …"
        else:
            worst = max(state.budget, key=lambda p: p.share or 0.0)
            info = f"budget · {len(alerts)} alerts · fullest: {worst.period}"
            if worst.share is not None:
                info += f" at {worst.share:.0%}"
        self.query_one("#info", Static).update(info, layout=False)

    def budget_changed(self) -> None:
        self.redraw()
