"""The console's widgets. Each shows what it is given; none of them talks to the daemon."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from operator import attrgetter

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.coordinate import Coordinate
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Static
from textual.widgets._footer import FooterKey, FooterLabel
from textual.widgets.data_table import ColumnKey

from tui.client import LinkState
from tui.model import Chip, Waba, chip_state
from tui.state import ENTRY_KINDS, ConsoleState, LogEntry
from tui.tables import CellCachedTable

__all__ = [
    "ConsoleFooter",
    "EventTable",
    "FittedChrome",
    "FleetTable",
    "HeaderBar",
    "Segment",
    "StatusLine",
    "fit_segments",
    "fitting",
    "fleet_cells",
    "fmt_duration",
    "fmt_rate",
]

QUALITY_STYLE = {"GREEN": "bold green", "YELLOW": "bold yellow", "RED": "bold red"}
STATE_STYLE = {
    "PAUSED": "bold magenta",
    "DRAINING": "yellow",
    "FULL": "green",
    "RAMPING": "cyan",
    "SLOWED": "yellow",
    "PAUSED_BUSINESS": "bold red",
    "PAUSED_ALL": "bold red",
}
LEVEL_STYLE = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red"}

FLEET_COLUMNS: tuple[tuple[str, str], ...] = (
    ("number", "Number"),
    ("waba", "WABA"),
    ("quality", "Quality"),
    ("status", "Status"),
    ("tier", "Tier"),
    ("state", "State"),
    ("windows", "Win"),
    ("mps", "Msg/s"),
    ("queue", "Queue"),
    ("sent", "Sent"),
    ("cost", "Cost"),
)
"""Column key and label; widths follow the content (numbers are formatted per country)."""
EVENT_COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("time", "Time", 8),
    ("level", "Level", 7),
    ("kind", "Kind", max(len(kind) for kind in ENTRY_KINDS)),
    ("source", "Source", 22),
    ("message", "Message", None),
)


def fmt_duration(seconds: float) -> str:
    total = int(max(0.0, seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def fmt_rate(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


Segment = tuple[int, Text]
"""Part of a one-line display, with its priority: 0 is always shown; on a narrow
terminal the highest are left out first."""


def fit_segments(segments: Sequence[Segment], width: int) -> Text:
    """The segments in order, leaving out the least important (the rightmost first among
    equals) until they fit in ``width`` cells (0: unknown, all kept).

    Why leave items out rather than let the line wrap or cut: the header and gauges have
    a fixed height, so a wrapped line pushed the next one out of sight, and a cut one
    lost whatever came last (the webhook backlog, the budget's alert marks). What still
    does not fit is cut with an ellipsis by the widget's ``text-overflow``."""
    kept = fitting([(priority, text.cell_len) for priority, text in segments], width)
    return Text.assemble(*(segments[i][1] for i in kept))


def fitting(items: Sequence[tuple[int, int]], width: int) -> list[int]:
    """Of (priority, cells) items in a row, the indices kept within ``width`` cells (0:
    unknown, all kept): the highest priority left out first, the rightmost among equals;
    priority 0 always stays."""
    kept = list(range(len(items)))
    while width > 0 and sum(items[i][1] for i in kept) > width:
        optional = [i for i in kept if items[i][0] > 0]
        if not optional:
            break
        kept.remove(max(optional, key=lambda i: (items[i][0], i)))
    return kept


def _tier(tier: str) -> str:
    short = tier.removeprefix("TIER_")
    return "∞" if short == "UNLIMITED" else short


def _right(text: str, style: str = "") -> Text:
    return Text(text, style=style, justify="right")


def _state_cell(chip: Chip, _: Waba | None) -> Text:
    state = chip_state(chip)
    return Text(state, style=STATE_STYLE.get(state, ""))


def _mps_cell(chip: Chip, _: Waba | None) -> Text:
    throttled = chip.mps_limit > 0 and chip.mps < chip.mps_limit
    return _right(f"{fmt_rate(chip.mps)}/{chip.mps_limit}", "yellow" if throttled else "")


def _queue_cell(chip: Chip, _: Waba | None) -> Text:
    return _right(f"{chip.queued}+{chip.in_flight}" if chip.in_flight else str(chip.queued))


def _waba_cell(chip: Chip, waba: Waba | None) -> Text:
    restricted = waba is not None and waba.restricted
    return Text(waba.label if waba is not None else chip.waba_id, "bold red" if restricted else "")


CellFn = Callable[[Chip, Waba | None], Text]

FLEET_CELLS: tuple[tuple[str, tuple[str, ...], CellFn], ...] = (
    ("number", ("display_number",), lambda c, _: Text(c.display_number)),
    ("waba", ("waba_id",), _waba_cell),
    (
        "quality",
        ("quality_rating",),
        lambda c, _: Text(c.quality_rating, style=QUALITY_STYLE.get(c.quality_rating, "dim")),
    ),
    (
        "status",
        ("status",),
        lambda c, _: Text(c.status, style="" if c.status in ("CONNECTED", "") else "bold red"),
    ),
    ("tier", ("tier",), lambda c, _: Text(_tier(c.tier))),
    ("state", ("paused", "draining", "mode"), _state_cell),
    ("windows", ("open_windows",), lambda c, _: _right(str(c.open_windows))),
    ("mps", ("mps", "mps_limit"), _mps_cell),
    ("queue", ("queued", "in_flight"), _queue_cell),
    ("sent", ("sent_today",), lambda c, _: _right(f"{c.sent_today:,}")),
    ("cost", ("cost_today_usd",), lambda c, _: _right(f"${c.cost_today_usd:,.2f}")),
)
"""Per column, in :data:`FLEET_COLUMNS` order: the chip fields it shows, and its cell.
A WABA's name or restriction changes with a snapshot, which redraws the whole table."""


_FLEET_GETTERS = tuple((key, attrgetter(*fields), make) for key, fields, make in FLEET_CELLS)
"""As :data:`FLEET_CELLS`, the fields read by one C call per column (a chip event compares
eleven columns)."""


def fleet_cells(chip: Chip, waba: Waba | None) -> tuple[Text, ...]:
    """One fleet row, in :data:`FLEET_COLUMNS` order."""
    return tuple(cell(chip, waba) for _, _, cell in FLEET_CELLS)


class FleetTable(CellCachedTable):
    """One row per chip, keyed by ``phone_number_id``."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        for key, label in FLEET_COLUMNS:
            self.add_column(label, key=key)
        self._shown: dict[str, Chip] = {}
        """The chip each row was last written from."""

    @property
    def selected_id(self) -> str | None:
        if self.row_count == 0:
            return None
        row_key = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key
        return row_key.value

    def show(self, chips: Iterable[Chip], wabas: Mapping[str, Waba]) -> None:
        """Replace every row, keeping the cursor on the same chip where it is still shown."""
        selected = self.selected_id
        self.clear()
        self._shown.clear()
        for chip in chips:
            self.add_row(*fleet_cells(chip, wabas.get(chip.waba_id)), key=chip.phone_number_id)
            self._shown[chip.phone_number_id] = chip
        if selected is not None and selected in self.rows:
            self.move_cursor(row=self.get_row_index(selected), animate=False)

    def update_chip(self, chip: Chip, waba: Waba | None) -> None:
        """One chip: see :meth:`update_chips`."""
        self.update_chips([(chip, waba)])

    def update_chips(self, chips: Iterable[tuple[Chip, Waba | None]]) -> None:
        """Rewrite the cells whose fields changed since each row was last written (a chip
        without a row is skipped), in one write that repaints only the rows in view.

        Only those cells are built, and a column is re-measured only when a cell outgrows
        it: re-measuring walks every row, which at thousands of events/s stalls the console.
        """
        rows: dict[str, dict[str, Text]] = {}
        shown, present = self._shown, self.rows
        for chip, waba in chips:
            pnid = chip.phone_number_id
            before = shown.get(pnid)
            if before is None or pnid not in present:
                continue
            shown[pnid] = chip
            changed: dict[str, Text] = {}
            for key, fields, make in _FLEET_GETTERS:
                if fields(before) != fields(chip):
                    cell = make(chip, waba)
                    if cell.cell_len > self.columns[ColumnKey(key)].content_width:
                        self.update_cell(pnid, key, cell, update_width=True)
                    else:
                        changed[key] = cell
            if changed:
                rows[pnid] = changed
        if rows:
            self.write_rows(rows)


class EventTable(DataTable[Text]):
    """The event log, oldest first; it follows new lines while the cursor is on the last."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        for key, label, width in EVENT_COLUMNS:
            self.add_column(label, width=width, key=key)
        self._seqs: deque[int] = deque()

    def show(self, entries: Iterable[LogEntry]) -> None:
        self.clear()
        self._seqs.clear()
        self.append(entries)

    def append(self, entries: Iterable[LogEntry]) -> None:
        follow = self.row_count == 0 or self.cursor_row >= self.row_count - 1
        added = False
        for entry in entries:
            if self._seqs and entry.seq <= self._seqs[-1]:
                continue
            style = LEVEL_STYLE.get(entry.level, "")
            self.add_row(
                Text(datetime.fromtimestamp(entry.at).strftime("%H:%M:%S"), style="dim"),
                Text(entry.level, style=style),
                Text(entry.kind),
                Text(entry.source),
                Text(entry.message, style=style),
                key=str(entry.seq),
            )
            self._seqs.append(entry.seq)
            added = True
        if added and follow:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def forget_before(self, seq: int) -> None:
        """Drop the rows the console no longer remembers (the log is bounded)."""
        while self._seqs and self._seqs[0] < seq:
            self.remove_row(str(self._seqs.popleft()))


class FittedChrome(Static):
    """A fixed-height part of every screen's frame, drawn from state and fitted to its
    width (see :func:`fit_segments`): drawn again when the terminal is resized."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[ConsoleState, float] | None = None

    def show(self, state: ConsoleState, now: float) -> None:
        self._shown = (state, now)
        self.update(self.fitted(state, now, self.content_size.width), layout=False)

    def fitted(self, state: ConsoleState, now: float, width: int) -> Text:
        raise NotImplementedError

    def on_resize(self, _: events.Resize) -> None:
        if self._shown is not None:
            self.show(*self._shown)


class HeaderBar(FittedChrome):
    """Daemon identity, uptime and webhook and send counters, a line each."""

    def fitted(self, state: ConsoleState, now: float, width: int) -> Text:
        lines = (_identity(state, now), _webhooks(state), _sends(state))
        return Text("\n").join(fit_segments(line, width) for line in lines)


def _identity(state: ConsoleState, now: float) -> list[Segment]:
    """metad's version and uptime come first; the sim's URL goes first on a narrow
    terminal, then the webhook's; "(stale)" always shows."""
    daemon = state.daemon
    if daemon is None:
        return [(0, Text("metad", style="bold")),
                (1, Text("  waiting for the daemon …", style="dim"))]  # fmt: skip
    out: list[Segment] = [(0, Text(f"metad {daemon.version}".rstrip(), style="bold"))]
    uptime = state.uptime(now)
    if uptime is not None:
        out.append((1, Text(f" │ up {fmt_duration(uptime)}")))
    if daemon.webhook_url:
        out.append((2, Text(f" │ webhook {daemon.webhook_url}")))
    if daemon.sim_url:
        out.append((3, Text(f" │ sim {daemon.sim_url}")))
    if not state.connected:
        out.append((0, Text("  (stale)", style="bold red")))
    return out


def _webhooks(state: ConsoleState) -> list[Segment]:
    """What the operator watches (received, pending, bad signatures) stays longest."""
    hooks = state.webhooks
    if hooks is None:
        return []
    counters = [
        (0, f"received {hooks.received:,}"),
        (4, f"dup {hooks.duplicates:,}"),
        (3, f"parsed {hooks.parsed:,}"),
        (2, f"unparsed {hooks.unparsed:,}"),
        (3, f"unknown {hooks.unknown_number:,}"),
        (1, f"bad sig {hooks.rejected_signature:,}"),
        (0, f"pending {hooks.pending:,}"),
    ]
    out: list[Segment] = [(0, Text("webhooks ", style="bold"))]
    for n, (priority, text) in enumerate(counters):
        out.append((priority, Text(f" · {text}" if n else text)))
    return out


def _sends(state: ConsoleState) -> list[Segment]:
    out: list[Segment] = [(0, Text("sends/s ", style="bold"))]
    sends = state.sends
    if sends is None:
        out.append((0, Text("—", style="dim")))
    else:
        out += [(0, Text(f"{sends.accepted} ok · {sends.failed} failed")),
                (2, Text(f" · {sends.statuses} statuses"))]  # fmt: skip
    if state.wabas:
        out.append((1, Text(f" │ WABAs {len(state.wabas)}")))
    restricted = [w.label for w in state.wabas.values() if w.restricted]
    if restricted:
        out.append((0, Text.assemble(" · restricted: ", (", ".join(restricted), "bold red"))))
    return out


class StatusLine(FittedChrome):
    """Connected, connecting, or disconnected with the seconds until the next attempt."""

    def show(self, state: ConsoleState, now: float) -> None:
        super().show(state, now)
        self.set_class(state.connection.state is not LinkState.CONNECTED, "-down")

    def fitted(self, state: ConsoleState, now: float, width: int) -> Text:
        """What the link is doing always shows; the socket's path goes first when narrow."""
        status = state.connection
        target = (3, Text(f"  {status.target}"))
        if status.state is LinkState.CONNECTED:
            segments = [(0, Text("● connected", "bold green")), target]
        elif status.state is LinkState.CONNECTING and state.reconnecting:
            segments = [(0, Text("○ disconnected — reconnecting …", "bold red")), target]
        elif status.state is LinkState.CONNECTING:
            segments = [(0, Text("◌ connecting …", "bold yellow")), target]
        else:
            remaining = 0.0 if state.retry_deadline is None else state.retry_deadline - now
            when = f"retrying in {math.ceil(remaining)}s" if remaining > 0 else "retrying now"
            segments = [
                (0, Text(f"○ disconnected — {when}", "bold red")),
                target,
                (1, Text(f"  {status.error}" if status.error else "", "dim")),
                (2, Text("  (ctrl+r: retry now)", "dim")),
            ]
        return fit_segments(segments, width)


class ConsoleFooter(Footer):
    """The keys, as many as fit beside the command palette's (docked on the right).

    Why: at 80 columns every key did not fit, and the last ones ran under the palette's
    (``b Budge▏^p palettee``). When they do not all fit, the screen switches are shown
    without their names (``f c b t g e screens``), then left out (tab and the palette
    reach every screen), then the screen's own keys from the right; q Quit stays. The
    palette lists every action anyway."""

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._width = 0

    def compose(self) -> ComposeResult:
        self._width = self.size.width or self.app.size.width
        widgets = list(super().compose())
        docked = [w for w in widgets if w.has_class("-command-palette")]
        row = [w for w in widgets if w not in docked]
        yield from _fit_footer(row, self._width - _cells(docked))
        yield from docked

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width:
            self.call_after_refresh(self.recompose)


SCREENS_LABEL = "screens"


def _fit_footer(row: list[Widget], room: int) -> list[Widget]:
    """The footer's keys that fit in ``room`` cells, in order (see :class:`ConsoleFooter`)."""
    screens = [w for w in row if _is_screen_key(w)]
    if _cells(row) <= room or not screens:
        return [row[i] for i in fitting([(_priority(w), _cells([w])) for w in row], room)]
    others = [w for w in row if w not in screens]
    if _cells(others) + 2 * len(screens) + len(SCREENS_LABEL) + 1 <= room:
        at = row.index(screens[0])
        return [*row[:at], *_unnamed(screens), *[w for w in row[at:] if w not in screens]]
    return _fit_footer(others, room)


def _unnamed(screens: list[Widget]) -> list[Widget]:
    """The screen keys without their names (a tooltip keeps each), then one label."""
    for key in screens:
        assert isinstance(key, FooterKey)
        key.tooltip, key.description = key.description, ""
    return [*screens, FooterLabel(SCREENS_LABEL, classes="-screens")]


def _cells(widgets: list[Widget]) -> int:
    """Compact keys' width: each key, a space and its description, then its margin (the
    palette's: a border)."""
    total = 0
    for widget in widgets:
        if isinstance(widget, FooterKey):
            described = 1 + Text(widget.description).cell_len if widget.description else 0
            total += Text(widget.key_display).cell_len + described + 1
    return total


def _is_screen_key(widget: Widget) -> bool:
    return isinstance(widget, FooterKey) and widget.action.startswith("show_screen")


def _priority(widget: Widget) -> int:
    """q Quit always shows; the screen's own keys give way from the right."""
    if not isinstance(widget, FooterKey) or widget.action == "quit":
        return 0
    return 1
