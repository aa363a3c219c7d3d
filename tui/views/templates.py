"""Templates: Meta's status, category and quality of each, beside how it did (sent, read
rate, replies, failures, cost) and what the report recommends.

Fed by ``templates.list`` and ``templates.report`` (on connect, when this screen opens,
and every minute). Without ``templates.report`` (an older daemon) the figures show "—"
and the info line says the report is not available.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, Static

from tui.screens import ConsoleScreen
from tui.tables import KeyedTable, Row
from tui.templates import TemplateRow

__all__ = ["TemplatesScreen", "template_cells"]

COLUMNS = (
    ("name", "Template"),
    ("waba", "WABA"),
    ("language", "Lang"),
    ("category", "Category"),
    ("status", "Status"),
    ("quality", "Quality"),
    ("sent", "Sent"),
    ("read_rate", "Read"),
    ("replied", "Replied"),
    ("failed", "Failed"),
    ("cost", "Cost"),
    ("advice", "Recommendation"),
)
STATUS_STYLE = {
    "APPROVED": "green",
    "PENDING": "yellow",
    "IN_APPEAL": "yellow",
    "REJECTED": "bold red",
    "PAUSED": "bold red",
    "DISABLED": "bold red",
}
QUALITY_STYLE = {"GREEN": "bold green", "YELLOW": "bold yellow", "RED": "bold red"}
ADVICE_WIDTH = 24


def row_key(t: TemplateRow) -> str:
    return f"{t.waba_id}/{t.name}/{t.language}"


def _right(text: str, style: str = "") -> Text:
    return Text(text, style=style, justify="right")


def template_cells(t: TemplateRow, waba: str = "") -> tuple[Text, ...]:
    """``waba``: the WABA's name as the fleet shows it (its id when empty): a template
    name is often in several WABAs, each row with its own status and results."""
    reported = t.sent is not None
    advice = t.recommendations[0] if t.recommendations else ""
    more = f" (+{len(t.recommendations) - 1})" if len(t.recommendations) > 1 else ""
    if len(advice) + len(more) > ADVICE_WIDTH:
        advice = advice[: ADVICE_WIDTH - len(more) - 1] + "…"
    advice += more
    rate = "—" if t.read_rate is None else f"{t.read_rate:.0%}"
    return (
        Text(t.name),
        Text(waba or t.waba_id or "—"),
        Text(t.language),
        Text(t.category or "—"),
        Text(t.status or "—", style=STATUS_STYLE.get(t.status, "")),
        Text(t.quality or "—", style=QUALITY_STYLE.get(t.quality, "dim")),
        _right(f"{t.sent:,}" if reported else "—"),
        _right(rate),
        _right(f"{t.replied:,}" if reported else "—"),
        _right(f"{t.failed:,}" if reported else "—", "red" if t.failed else ""),
        _right(f"${t.cost_usd:,.2f}" if reported else "—"),
        Text(advice, style="italic"),
    )


def _matches(t: TemplateRow, query: str, waba: str = "") -> bool:
    hay = f"{t.name} {t.language} {t.category} {t.status} {t.quality} {t.waba_id} {waba}".lower()
    fields = {"status": t.status, "category": t.category, "quality": t.quality}
    for term in query.lower().split():
        name, sep, value = term.partition(":")
        if sep and name in fields:
            if value not in fields[name].lower():
                return False
        elif term not in hay:
            return False
    return True


class TemplatesScreen(ConsoleScreen):
    AUTO_FOCUS = "#templates-table"
    FILTER_HINT = "/ filter: name, status:rejected, category:marketing …  (Esc leaves)"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "app.sync_templates", "Sync", id="templates.sync"),
    ]

    def compose_body(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="templates-table")
        yield Static(id="template-detail")

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)

    def redraw(self) -> None:
        super().redraw()
        state = self.console.state
        query = self.filter_text
        wabas = {w.waba_id: w.label for w in state.wabas.values()}
        shown = [t for t in state.templates if _matches(t, query, wabas.get(t.waba_id, ""))]
        rows: list[Row] = [(row_key(t), template_cells(t, wabas.get(t.waba_id, ""))) for t in shown]
        self.table.show_rows(rows)
        parts = [f"{len(state.templates)} templates", f"{len(shown)} shown"]
        if query:
            parts.append(f"filter: {query!r}")
        if state.available.get("templates.list") is False:
            parts = ["templates: not available (this daemon has no templates.list)"]
        if state.available.get("templates.report") is False:
            parts.append("report: not available (no templates.report)")
        elif state.available.get("templates.report"):
            parts.append("report: last 7 days")
        self.query_one("#info", Static).update(" · ".join(parts), layout=False)
        self._show_detail()

    def _show_detail(self) -> None:
        key = self.table.selected_key
        found = next((t for t in self.console.state.templates if row_key(t) == key), None)
        detail = Text()
        if found is not None:
            detail.append(f"{found.name} ({found.language})", style="bold")
            if found.waba_id:
                detail.append(f"  WABA {found.waba_id}", style="dim")
            if found.reason:
                detail.append(f"\n{found.status.lower()}: {found.reason}", style="red")
            if found.sent is not None:
                detail.append(
                    f"\nsent {found.sent:,} · delivered {found.delivered:,} · read "
                    f"{found.read:,} · replied {found.replied:,} · failed {found.failed:,}"
                )
            for advice in found.recommendations:
                detail.append(f"\n→ {advice}", style="italic")
        self.query_one("#template-detail", Static).update(detail)

    def templates_changed(self) -> None:
        self.redraw()

    def on_screen_resume(self, _: events.ScreenResume) -> None:
        self.console.fetch("templates")

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self.redraw()

    @on(DataTable.RowHighlighted, "#templates-table")
    def _row_highlighted(self) -> None:
        self._show_detail()
