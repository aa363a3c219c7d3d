"""Data tables that re-render only the cells that changed.

Why: Textual's ``DataTable`` keys its render caches on a table-wide update counter, so one
``update_cell`` makes the next frame render every visible cell again through Rich (about
600 cells on a 200-column screen, most of a frame's 100 ms at thousands of events a
second). :class:`CellCachedTable` keeps each body cell's rendered lines beside the value
they were rendered from, and reuses them while the value (the same object: ``update_cell``
stores a new one), its row position, width, style and cursor state are unchanged.

``update_cell`` also repaints the whole widget: every visible line is joined, cropped and
styled again, and the compositor redraws the table's whole region (at 1,000 chips and
2,000 events/s that was 40 % of the console's CPU and held it to a few frames a second).
:meth:`CellCachedTable.set_cells` writes a row's cells and marks that row's lines alone as
dirty (nothing when the row is scrolled out of view); the rest of the screen is reused.

:class:`KeyedTable` is given whole rows and writes only the cells that changed (the
campaigns, templates and quality screens redraw from state; rebuilding a table would move
the cursor and re-measure every column).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, Row as TableRow, RowKey

__all__ = ["CellCachedTable", "KeyedTable", "Row", "bar"]

Row = tuple[str, Sequence[Text]]
"""A row key and its cells, in column order."""


def bar(fraction: float, width: int, style: str, marks: Sequence[float] = ()) -> Text:
    """A horizontal gauge: ``fraction`` of ``width`` filled; ``marks`` (fractions) drawn
    as ticks where they fall (the budget's alert thresholds)."""
    fraction = max(0.0, min(1.0, fraction))
    filled = round(fraction * width)
    ticks = {min(width - 1, max(0, round(m * width) - 1)) for m in marks if 0 < m < 1}
    out = Text()
    for i in range(width):
        if i in ticks:
            out.append("┃", style="bold" if i < filled else "dim")
        elif i < filled:
            out.append("█", style=style)
        else:
            out.append("░", style="dim")
    return out


class CellCachedTable(DataTable[Text]):
    def __init__(self, *, id: str | None = None, zebra_stripes: bool = True) -> None:
        # Set first: DataTable.__init__ already asks for ordered_rows.
        self._cells: dict[tuple[Any, Any], tuple[object, tuple[Any, ...], Any]] = {}
        self._cell_writes = 0
        """How many of ``_update_count``'s steps were :meth:`set_cells` (no row moved)."""
        self._layout: tuple[int, int] | None = None
        """The row layout the three maps below were made for (None: make them again)."""
        self._ordered: list[TableRow] | None = None
        self._offsets: list[tuple[RowKey, int]] | None = None
        self._row_tops: dict[RowKey, int] | None = None
        self._column_keys: dict[str, ColumnKey] = {}
        super().__init__(id=id, cursor_type="row", zebra_stripes=zebra_stripes)

    def set_cells(self, row_key: str, cells: Mapping[str, Text]) -> None:
        """Write cells of one row and repaint that row only: see :meth:`write_rows`."""
        self.write_rows({row_key: cells})

    def write_rows(self, rows: Mapping[str, Mapping[str, Text]]) -> None:
        """Write cells of several rows (row key → column key → cell) and repaint those
        rows only, nothing for a row out of view. The cells must fit their columns: one
        that outgrows its column goes through ``update_cell(update_width=True)``, which
        re-measures the column. Raises ``CellDoesNotExist`` (writing nothing) for an
        unknown row or column."""
        data, columns = self._data, self._column_keys
        keys: list[RowKey] = []
        for row_key, cells in rows.items():
            key = RowKey(row_key)
            if key not in data or key not in self._row_locations:
                raise CellDoesNotExist(f"No row with key={row_key!r}.")
            for column in cells:
                if column not in columns:
                    if ColumnKey(column) not in self._column_locations:
                        raise CellDoesNotExist(f"No column with key={column!r}.")
                    columns[column] = ColumnKey(column)
            keys.append(key)
        dirty: list[RowKey] = []
        for key, cells in zip(keys, rows.values(), strict=True):
            if self.rows[key].auto_height:
                for column, value in cells.items():  # its height may change: the full path
                    self.update_cell(key, column, value)
                continue
            row = data[key]
            for column, value in cells.items():
                row[columns[column]] = value
            dirty.append(key)
        if not dirty:
            return
        # Textual's line caches are keyed on the update counter: step it, so the repainted
        # rows are drawn from the new values. Rows did not move: the layout maps stay.
        self._update_count += 1
        self._cell_writes += 1
        window = self.window_region  # in the table's virtual space, as the row tops
        width = max(self.size.width, self.virtual_size.width)
        regions: list[Region] = []
        for key in dirty:
            top = self._row_top(key)
            if top is None:
                continue
            region = Region(0, top, width, self.rows[key].height)
            if window.overlaps(region):
                regions.append(region.translate(-self.scroll_offset))
        if regions:
            self.refresh(*regions)

    def _check_layout(self) -> None:
        layout = (self._update_count - self._cell_writes, self.row_count)
        if layout != self._layout:
            self._layout, self._ordered, self._offsets, self._row_tops = layout, None, None, None

    def _forget_layout(self) -> None:
        self._layout = None

    @property
    def ordered_rows(self) -> list[TableRow]:
        """As Textual's, kept while only cells change (Textual's follows every update:
        1,000 rows walked again each frame)."""
        self._check_layout()
        if self._ordered is None:
            self._ordered = super().ordered_rows
        return self._ordered

    @property
    def _y_offsets(self) -> list[tuple[RowKey, int]]:
        self._check_layout()
        if self._offsets is None:
            self._offsets = super()._y_offsets
        return self._offsets

    def _row_top(self, key: RowKey) -> int | None:
        """The row's first line in the table's virtual space (below the header)."""
        self._check_layout()
        if self._row_tops is None:
            tops: dict[RowKey, int] = {}
            y = 0
            for row in self.ordered_rows:
                tops[row.key] = y
                y += row.height
            self._row_tops = tops
        top = self._row_tops.get(key)
        if top is None:
            return None
        return top + self.header_height if self.show_header else top

    def _update_dimensions(self, new_rows: Any) -> None:
        super()._update_dimensions(new_rows)
        self._forget_layout()  # an auto-height row may have changed height

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> Any:
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        if row_index < 0 or row_key is None or column_key is None:  # the header: as before
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        value = self._data[row_key][column_key]
        state = (
            row_index,
            base_style,
            width,
            cursor,
            hover,
            self.show_cursor,
            self._show_hover_cursor,
            self._pseudo_class_state,
        )
        cached = self._cells.get((row_key, column_key))
        if cached is not None and cached[0] is value and cached[1] == state:
            return cached[2]
        lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        self._cells[row_key, column_key] = (value, state, lines)
        return lines

    def clear(self, columns: bool = False) -> Any:
        self._cells.clear()
        self._forget_layout()
        self._column_keys.clear()
        result = super().clear(columns)
        self._forget_layout()
        return result

    def remove_column(self, column_key: Any) -> None:
        self._column_keys.clear()  # write_rows must not find the removed one
        super().remove_column(column_key)

    def notify_style_update(self) -> None:
        self._cells.clear()  # a theme or CSS change restyles every cell
        super().notify_style_update()


class KeyedTable(CellCachedTable):
    def __init__(self, columns: Sequence[tuple[str, str]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        for key, label in columns:
            self.add_column(label, key=key)
        self._keys: list[str] = []

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        return self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key.value

    def show_rows(self, rows: Sequence[Row]) -> None:
        keys = [key for key, _ in rows]
        if keys == self._keys:
            for key, cells in rows:
                self._update(key, cells)
            return
        selected = self.selected_key
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        self._keys = keys
        if selected is not None and selected in self.rows:
            self.move_cursor(row=self.get_row_index(selected), animate=False)

    def _update(self, key: str, cells: Sequence[Text]) -> None:
        old = self.get_row(key)
        changed: dict[str, Text] = {}
        for column, before, cell in zip(self.columns, old, cells, strict=True):
            if (before.plain, before.style, before.spans) != (cell.plain, cell.style, cell.spans):
                if cell.cell_len > self.columns[column].content_width:
                    self.update_cell(key, column, cell, update_width=True)
                else:
                    changed[str(column.value)] = cell
        if changed:
            self.set_cells(key, changed)
