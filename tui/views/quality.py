"""Quality timeline: per chip, its quality rating minute by minute and its sends per
minute over the last half hour, and the rating changes seen.

Fed by ``chip`` events (the console keeps the history: see :mod:`tui.timeline`). At a
thousand chips and thousands of events a second, redrawing on every frame would cost
the fleet table its frames: this screen redraws at most once a second, and only while
it is the one shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, Sparkline, Static

from tui.model import QUALITY_RANK, Chip, chip_matches
from tui.screens import ConsoleScreen
from tui.tables import KeyedTable, Row
from tui.timeline import QualityTimeline, spark
from tui.widgets import QUALITY_STYLE

__all__ = ["QualityScreen", "quality_cells"]

WINDOW_MIN = 30
COLUMNS = (
    ("number", "Number"),
    ("quality", "Quality"),
    ("ratings", f"Rating, last {WINDOW_MIN} min"),
    ("sends", f"Sends/min, last {WINDOW_MIN} min"),
    ("now", "This min"),
    ("peak", "Peak"),
    ("changes", "Changes"),
)
RATING_CHAR = {"GREEN": "█", "YELLOW": "▆", "RED": "▃"}
REDRAW_S = 1.0


def stretched(values: list[int], cells: int = 4) -> list[float]:
    """Each minute as ``cells`` samples: Textual's Sparkline buckets its data into its
    width and skips empty buckets, so fewer samples than cells would squeeze the chart."""
    return [float(v) for v in values for _ in range(cells)]


def rating_strip(ratings: list[str]) -> Text:
    out = Text()
    for rating in ratings:
        out.append(RATING_CHAR.get(rating, "·"), style=QUALITY_STYLE.get(rating, "dim"))
    return out


def quality_cells(chip: Chip, timeline: QualityTimeline, now: float) -> tuple[Text, ...]:
    pnid = chip.phone_number_id
    sends = timeline.sends_per_minute(pnid, now, WINDOW_MIN)
    changes = timeline.changes_of(pnid)
    return (
        Text(chip.display_number),
        Text(chip.quality_rating, style=QUALITY_STYLE.get(chip.quality_rating, "dim")),
        rating_strip(timeline.ratings_per_minute(pnid, now, WINDOW_MIN)),
        Text(spark(sends), style="cyan"),
        Text(f"{sends[-1]:,}", justify="right"),
        Text(f"{max(sends):,}", justify="right"),
        Text(str(len(changes)), justify="right", style="yellow" if changes else "dim"),
    )


class QualityScreen(ConsoleScreen):
    AUTO_FOCUS = "#quality-table"
    FILTER_HINT = "/ filter: number, WABA, quality:red …  (Esc leaves)"

    def __init__(self) -> None:
        super().__init__()
        self._dirty = False

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="fleet-sends-row"):
            yield Label("fleet sends/min ", id="fleet-sends-label")
            yield Sparkline([], id="fleet-sends")
        yield KeyedTable(COLUMNS, id="quality-table")
        with Vertical(id="quality-detail"):
            yield Static(id="quality-detail-title")
            yield Sparkline([], id="chip-sends")
            yield Static(id="quality-changes")

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(REDRAW_S, self._redraw_if_dirty)

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)

    def shown_chips(self) -> list[Chip]:
        state = self.console.state
        query = self.filter_text
        chips = [
            c for c in state.chips.values() if chip_matches(c, state.wabas.get(c.waba_id), query)
        ]
        return sorted(
            chips, key=lambda c: (QUALITY_RANK.get(c.quality_rating, 9), c.display_number)
        )

    def redraw(self) -> None:
        super().redraw()
        self._dirty = False
        state = self.console.state
        now = self.console.wall_now()
        timeline = state.timeline
        shown = self.shown_chips()
        rows: list[Row] = [(c.phone_number_id, quality_cells(c, timeline, now)) for c in shown]
        self.table.show_rows(rows)
        fleet = timeline.fleet_per_minute(now, WINDOW_MIN)
        self.query_one("#fleet-sends", Sparkline).data = stretched(fleet)
        self.query_one("#fleet-sends-label", Label).update(
            f"fleet sends/min (last {WINDOW_MIN} min, peak {max(fleet):,}) "
        )
        parts = [
            f"{len(state.chips)} chips",
            f"{len(shown)} shown",
            f"{len(timeline.changes)} rating changes seen",
            "worst first",
        ]
        if self.filter_text:
            parts.insert(2, f"filter: {self.filter_text!r}")
        self.query_one("#info", Static).update(" · ".join(parts), layout=False)
        self._show_detail()

    def _show_detail(self) -> None:
        state = self.console.state
        chip = state.chips.get(self.table.selected_key or "")
        title = self.query_one("#quality-detail-title", Static)
        changes_box = self.query_one("#quality-changes", Static)
        sparkline = self.query_one("#chip-sends", Sparkline)
        if chip is None:
            title.update("")
            changes_box.update("")
            sparkline.data = []
            return
        now = self.console.wall_now()
        sends = state.timeline.sends_per_minute(chip.phone_number_id, now, WINDOW_MIN)
        sparkline.data = stretched(sends)
        title.update(
            Text.assemble(
                (chip.display_number, "bold"),
                f"  sends/min over the last {WINDOW_MIN} min (peak {max(sends):,})",
            )
        )
        changes = state.timeline.changes_of(chip.phone_number_id)[-5:]
        text = Text()
        if not changes:
            text.append("no rating change seen since the console started", style="dim")
        for change in reversed(changes):
            when = datetime.fromtimestamp(change.at).strftime("%H:%M:%S")
            text.append(f"{when}  ", style="dim")
            text.append(change.old, style=QUALITY_STYLE.get(change.old, "dim"))
            text.append(" → ")
            text.append(change.new, style=QUALITY_STYLE.get(change.new, "dim"))
            text.append("\n")
        text.rstrip()
        changes_box.update(text)

    def chips_changed(self, changes: Mapping[str, tuple[Chip | None, Chip]]) -> None:
        self._dirty = True

    def _redraw_if_dirty(self) -> None:
        if self._dirty and self.is_current:
            self.redraw()

    def on_screen_resume(self, _: events.ScreenResume) -> None:
        self.redraw()

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self.redraw()

    @on(DataTable.RowHighlighted, "#quality-table")
    def _row_highlighted(self) -> None:
        self._show_detail()
