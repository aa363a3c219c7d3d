"""Campaigns: one row each with a progress bar, counts, cost and ETA; pause, resume and
cancel the selected one (each asks first). Below the table, the selected one's reason,
what it waits for, its taps, and its messages in doubt past their hold, the oldest of
which the operator resends or drops (each asks first; metad never re-sends one itself).

Fed by ``campaign.list`` (on connect and every poll) and ``campaign.progress`` events.
A daemon without ``campaign.list`` gets "not available", not an error.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, Static

from tui.campaigns import Campaign
from tui.screens import ConsoleScreen
from tui.tables import KeyedTable, Row, bar
from tui.widgets import fmt_duration

__all__ = ["CampaignsScreen", "campaign_cells", "campaign_detail"]

COLUMNS = (
    ("name", "Campaign"),
    ("state", "State"),
    ("progress", "Progress"),
    ("done", "Done"),
    ("sent", "Sent"),
    ("delivered", "Deliv"),
    ("read", "Read"),
    ("replied", "Repl"),
    ("failed", "Fail"),
    ("skipped", "Skip"),
    ("in_doubt", "Doubt"),
    ("cost", "Cost"),
    ("eta", "ETA"),
)
STATE_STYLE = {
    "running": "bold green",
    "paused": "bold yellow",
    "draft": "dim",
    "cancelled": "red",
    "finished": "cyan",
}
BAR_WIDTH = 10
STATE_ORDER = {"running": 0, "paused": 1, "draft": 2, "finished": 3, "cancelled": 4}


def _num(value: int, style: str = "") -> Text:
    return Text(f"{value:,}", style=style, justify="right")


def campaign_cells(c: Campaign) -> tuple[Text, ...]:
    style = STATE_STYLE.get(c.state, "")
    progress = bar(c.progress, BAR_WIDTH, style or "green")
    progress.append(f" {c.progress:4.0%}")
    if c.state == "finished":
        eta = "done"
    elif c.state == "running" and c.eta_s is not None:
        eta = fmt_duration(c.eta_s)
    else:
        eta = "—"
    return (
        Text(c.name),
        Text(c.state or "?", style=style),
        progress,
        Text(f"{c.done:,}/{c.total:,}", justify="right"),
        _num(c.sent),
        _num(c.delivered),
        _num(c.read),
        _num(c.replied),
        _num(c.failed, "red" if c.failed else ""),
        _num(c.skipped),
        _num(c.in_doubt, "yellow" if c.in_doubt else ""),
        Text(f"${c.cost_usd:,.2f}", justify="right"),
        Text(eta, justify="right"),
    )


DOUBT_SHOWN = 2
"""Messages in doubt listed below the table (the count says how many more)."""


def campaign_detail(c: Campaign) -> Text:
    """The selected campaign below the table: what the row has no room for."""
    text = Text(c.name, style="bold")
    text.append(f"  {c.state}", style=STATE_STYLE.get(c.state, ""))
    text.append(f"  taps {c.taps:,}", style="dim")
    given_up = [f"{label} {n:,}" for label, n in (("refused", c.refused), ("dropped", c.dropped))
                if n]  # fmt: skip
    if given_up:
        text.append(f"  {' · '.join(given_up)}", style="dim")
    if c.reason:
        text.append(f"\n{c.reason}", style="yellow")
    if c.waiting:
        text.append(f"\nwaiting: {c.waiting}", style="dim")
    if c.overdue:
        text.append(
            f"\n{len(c.overdue)} in doubt past the hold (s resend · d drop the first; each asks):",
            style="bold yellow",
        )
        for item in c.overdue[:DOUBT_SHOWN]:
            text.append(f"\n  {item.recipient}  outbox {item.outbox_id}  chip {item.chip}")
        if len(c.overdue) > DOUBT_SHOWN:
            text.append(f"  … {len(c.overdue) - DOUBT_SHOWN} more", style="dim")
    return text


def _matches(c: Campaign, query: str) -> bool:
    hay = f"{c.name} {c.id} {c.state}".lower()
    for term in query.lower().split():
        name, sep, value = term.partition(":")
        if sep and name == "state":
            if value not in c.state:
                return False
        elif term not in hay:
            return False
    return True


class CampaignsScreen(ConsoleScreen):
    AUTO_FOCUS = "#campaigns-table"
    FILTER_HINT = "/ filter: name, state:running …  (Esc leaves)"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "campaign('pause')", "Pause", id="campaigns.pause"),
        Binding("r", "campaign('resume')", "Resume", id="campaigns.resume"),
        Binding("x", "campaign('cancel')", "Cancel", id="campaigns.cancel"),
        Binding("s", "resolve('resend')", "Resend", id="campaigns.resend"),
        Binding("d", "resolve('drop')", "Drop", id="campaigns.drop"),
    ]

    def compose_body(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="campaigns-table")
        yield Static(id="campaign-detail")

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)

    def shown_campaigns(self) -> list[Campaign]:
        query = self.filter_text
        chosen = [c for c in self.console.state.campaigns.values() if _matches(c, query)]
        return sorted(chosen, key=lambda c: (STATE_ORDER.get(c.state, 9), c.name, c.id))

    def redraw(self) -> None:
        super().redraw()
        shown = self.shown_campaigns()
        rows: list[Row] = [(c.id, campaign_cells(c)) for c in shown]
        self.table.show_rows(rows)
        self.console.selected_campaign_id = self.table.selected_key
        self._show_info(shown)
        self._show_detail()

    def _show_detail(self) -> None:
        found = self.console.state.campaigns.get(self.table.selected_key or "")
        self.query_one("#campaign-detail", Static).update(
            campaign_detail(found) if found is not None else Text()
        )

    def _show_info(self, shown: list[Campaign]) -> None:
        state = self.console.state
        available = state.available.get("campaign.list")
        if available is False:
            text = "campaigns: not available (this daemon has no campaign.list)"
        elif available is None and not state.campaigns:
            text = "campaigns: waiting for the daemon …"
        else:
            campaigns = list(state.campaigns.values())
            running = sum(1 for c in campaigns if c.state == "running")
            paused = sum(1 for c in campaigns if c.state == "paused")
            cost = sum(c.cost_usd for c in campaigns)
            parts = [f"{len(campaigns)} campaigns", f"{len(shown)} shown"]
            if self.filter_text:
                parts.append(f"filter: {self.filter_text!r}")
            parts += [f"running {running}", f"paused {paused}", f"cost ${cost:,.2f}"]
            text = " · ".join(parts)
        self.query_one("#info", Static).update(text, layout=False)

    def campaigns_changed(self) -> None:
        self.redraw()

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self.redraw()

    @on(DataTable.RowHighlighted, "#campaigns-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.console.selected_campaign_id = event.row_key.value
        self._show_detail()

    def action_campaign(self, verb: str) -> None:
        if (selected := self._selected()) is not None:
            self.console.request_campaign(verb, selected)

    def action_resolve(self, action: str) -> None:
        if (selected := self._selected()) is not None:
            self.console.request_resolve(action, selected)

    def _selected(self) -> str | None:
        selected = self.table.selected_key
        if selected is None:
            self.notify("No campaign selected", severity="warning")
        return selected
