"""The console's screens. Each draws from :class:`tui.state.ConsoleState` and asks the app
to act; the app tells every mounted screen what changed.

``AUTO_FOCUS`` points at the table: were the filter ``Input`` focused on mount, it would
swallow the single-letter bindings (``p`` would be typed into the filter).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from tui.model import SORT_BY_COLUMN, SORT_KEYS, Chip, Waba, chip_matches, sort_chips
from tui.state import LogEntry, entry_matches
from tui.widgets import ConsoleFooter, EventTable, FleetTable, HeaderBar, StatusLine

if TYPE_CHECKING:
    from tui.app import MetadConsole

__all__ = ["ConsoleScreen", "EventsScreen", "FleetScreen"]


class ConsoleScreen(Screen[None]):
    """Header, a body, the connection line and the footer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "app.next_screen", "Next screen", show=False, id="screen.next"),
        Binding("slash", "focus_filter", "Filter", id="screen.filter"),
        Binding("escape", "leave_filter", "Leave filter", show=False, id="screen.leave-filter"),
    ]
    FILTER_HINT = "filter"
    HAS_FILTER = True
    """Screens with nothing to filter (the budget) leave the box and its key out."""

    @property
    def console(self) -> MetadConsole:
        return cast("MetadConsole", self.app)

    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        if self.HAS_FILTER:
            yield Input(placeholder=self.FILTER_HINT, id="filter", compact=True)
        yield Static(id="info")
        yield from self.compose_body()
        yield StatusLine(id="status")
        yield ConsoleFooter()

    def compose_body(self) -> ComposeResult:
        raise NotImplementedError

    def on_mount(self) -> None:
        self.console.attach(self)
        self.redraw()

    def on_unmount(self) -> None:
        self.console.detach(self)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The filter's keys only where there is a filter (the footer leaves them out)."""
        return self.HAS_FILTER or action not in ("focus_filter", "leave_filter")

    @property
    def filter_text(self) -> str:
        if not self.HAS_FILTER:
            return ""
        return self.query_one("#filter", Input).value

    def refresh_chrome(self) -> None:
        # The app's clock tick can fall between a screen switch and the new screen's
        # mount: nothing to refresh yet, the mount draws it.
        headers, lines = self.query(HeaderBar), self.query(StatusLine)
        if not headers or not lines:
            return
        now = self.console.now()
        headers.first().show(self.console.state, now)
        lines.first().show(self.console.state, now)
        self.set_class(not self.console.state.connected, "-stale")

    def redraw(self) -> None:
        """Everything from state (on mount, and after every snapshot)."""
        self.refresh_chrome()

    def chips_changed(self, changes: Mapping[str, tuple[Chip | None, Chip]]) -> None:
        """Chips changed since the last frame: per chip (the version before, the newest);
        state already holds the newest."""

    def entries_added(self, entries: list[LogEntry]) -> None:
        """New lines are in the event log."""

    def log_cleared(self) -> None:
        """The event log was emptied."""

    def campaigns_changed(self) -> None:
        """``state.campaigns`` (or whether the daemon has campaigns) changed."""

    def budget_changed(self) -> None:
        """``state.budget`` or its alerts changed."""

    def templates_changed(self) -> None:
        """``state.templates`` (or whether the daemon has a report) changed."""

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_leave_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus:
            self.focus_body()
        elif box.value:
            box.value = ""

    def clear_filter(self) -> None:
        if self.HAS_FILTER:
            self.query_one("#filter", Input).value = ""

    def focus_body(self) -> None:
        self.query_one(DataTable).focus()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.focus_body()


class FleetScreen(ConsoleScreen):
    AUTO_FOCUS = "#fleet-table"
    FILTER_HINT = "/ filter: number, WABA, quality:red, state:paused …  (Esc leaves)"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause", id="fleet.pause"),
        Binding("r", "resume", "Resume", id="fleet.resume"),
        Binding("d", "drain", "Drain", id="fleet.drain"),
        Binding("s", "cycle_sort", "Sort", id="fleet.sort"),
        Binding("S", "reverse_sort", "Reverse sort", show=False, id="fleet.reverse"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sort_column = SORT_KEYS[0].column
        self.sort_reverse = False
        self._rebuild_pending = False
        self._info_pending = False

    def compose_body(self) -> ComposeResult:
        yield FleetTable(id="fleet-table")

    @property
    def table(self) -> FleetTable:
        return self.query_one(FleetTable)

    def visible_chips(self) -> list[Chip]:
        state = self.console.state
        query = self.filter_text
        chips = [
            c for c in state.chips.values() if chip_matches(c, state.wabas.get(c.waba_id), query)
        ]
        return sort_chips(chips, state.wabas, self.sort_column, self.sort_reverse)

    def redraw(self) -> None:
        super().redraw()
        self._rebuild_pending = False
        self.table.show(self.visible_chips(), self.console.state.wabas)
        self._show_info()
        self.console.selected_chip_id = self.table.selected_id

    def _show_info(self) -> None:
        state = self.console.state
        chips = state.chips.values()
        paused = sum(1 for c in chips if c.paused)
        sent = sum(c.sent_today for c in chips)
        cost = sum(c.cost_today_usd for c in chips)
        arrow = "▼" if self.sort_reverse else "▲"
        parts = [
            f"{len(state.chips)} chips",
            f"{self.table.row_count} shown",
            f"sort: {SORT_BY_COLUMN[self.sort_column].label} {arrow}",
        ]
        if self.filter_text:
            parts.append(f"filter: {self.filter_text!r}")
        parts += [f"paused {paused}", f"today {sent:,} sent · ${cost:,.2f}"]
        self.query_one("#info", Static).update(" · ".join(parts), layout=False)

    def chips_changed(self, changes: Mapping[str, tuple[Chip | None, Chip]]) -> None:
        """Rewrite the changed cells of rows that stay where they are; a chip that moves
        (its sort key changed) or enters or leaves the filter rebuilds the table soon."""
        state = self.console.state
        spec = SORT_BY_COLUMN[self.sort_column]
        query = self.filter_text
        table = self.table
        rows = table.rows
        stay: list[tuple[Chip, Waba | None]] = []
        for old, chip in changes.values():
            waba = state.wabas.get(chip.waba_id)
            shown = chip.phone_number_id in rows
            moved = old is None or spec.key(old, state.wabas) != spec.key(chip, state.wabas)
            if moved or shown != chip_matches(chip, waba, query):
                self._schedule_rebuild()
            else:
                stay.append((chip, waba))
        table.update_chips(stay)
        self._schedule_info()

    def _schedule_info(self) -> None:
        """The summary line sums the whole fleet and forces a layout: at most 4 times/s."""
        if not self._info_pending:
            self._info_pending = True
            self.set_timer(0.25, self._info_if_pending)

    def _info_if_pending(self) -> None:
        if self._info_pending:
            self._info_pending = False
            self._show_info()

    def _schedule_rebuild(self) -> None:
        if not self._rebuild_pending:
            self._rebuild_pending = True
            self.set_timer(0.2, self._rebuild_if_pending)

    def _rebuild_if_pending(self) -> None:
        if self._rebuild_pending:
            self.redraw()

    def set_sort(self, column: str, reverse: bool | None = None) -> None:
        if reverse is None:
            reverse = SORT_BY_COLUMN[column].descending_first
        self.sort_column, self.sort_reverse = column, reverse
        self.redraw()

    def action_cycle_sort(self) -> None:
        columns = [s.column for s in SORT_KEYS]
        self.set_sort(columns[(columns.index(self.sort_column) + 1) % len(columns)])

    def action_reverse_sort(self) -> None:
        self.set_sort(self.sort_column, not self.sort_reverse)

    @on(DataTable.HeaderSelected, "#fleet-table")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        if column == self.sort_column:
            self.action_reverse_sort()
        elif column in SORT_BY_COLUMN:
            self.set_sort(column)

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self.redraw()

    @on(DataTable.RowHighlighted, "#fleet-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.console.selected_chip_id = event.row_key.value

    def _selected(self) -> str | None:
        selected = self.table.selected_id
        if selected is None:
            self.notify("No chip selected", severity="warning")
        return selected

    def action_pause(self) -> None:
        if (pnid := self._selected()) is not None:
            self.console.request_pause(pnid)

    def action_resume(self) -> None:
        if (pnid := self._selected()) is not None:
            self.console.request_resume(pnid)

    def action_drain(self) -> None:
        if (pnid := self._selected()) is not None:
            self.console.request_drain(pnid)


class EventsScreen(ConsoleScreen):
    AUTO_FOCUS = "#events-table"
    FILTER_HINT = "/ filter: text, kind:actor, level:error, source:…  (Esc leaves)"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "app.clear_log", "Clear log", id="events.clear"),
        Binding("G", "follow", "Follow", show=False, id="events.follow"),
    ]

    def compose_body(self) -> ComposeResult:
        yield EventTable(id="events-table")

    @property
    def table(self) -> EventTable:
        return self.query_one(EventTable)

    def _matching(self, entries: list[LogEntry]) -> list[LogEntry]:
        query = self.filter_text
        return [e for e in entries if entry_matches(e, query)] if query else entries

    def redraw(self) -> None:
        super().redraw()
        self.table.show(self._matching(list(self.console.state.entries)))
        self._show_info()

    def _show_info(self) -> None:
        total = len(self.console.state.entries)
        parts = [f"{total} events", f"{self.table.row_count} shown"]
        if self.filter_text:
            parts.append(f"filter: {self.filter_text!r}")
        parts.append("newest at the bottom")
        self.query_one("#info", Static).update(" · ".join(parts), layout=False)

    def entries_added(self, entries: list[LogEntry]) -> None:
        remembered = self.console.state.entries
        if remembered:
            self.table.forget_before(remembered[0].seq)
        self.table.append(self._matching(entries))
        self._show_info()

    def log_cleared(self) -> None:
        self.table.show([])
        self._show_info()

    def action_follow(self) -> None:
        if self.table.row_count:
            self.table.move_cursor(row=self.table.row_count - 1, animate=False)

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self.redraw()
