"""Data tables that re-render only the cells that changed.

Why: Textual's ``DataTable`` keys its render caches on a table-wide update counter, so one
``update_cell`` makes the next frame render every visible cell again through Rich (about
600 cells on a 200-column screen, most of a frame's 100 ms at thousands of events a
second). :class:`CellCachedTable` keeps each body cell's rendered lines beside the value
they were rendered from, and reuses them while the value (the same object: ``update_cell``
stores a new one), its row position, width, style and cursor state are unchanged.

:class:`KeyedTable` is given whole rows and writes only the cells that changed (the
campaigns, templates and quality screens redraw from state; rebuilding a table would move
the cursor and re-measure every column).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

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
        super().__init__(id=id, cursor_type="row", zebra_stripes=zebra_stripes)
        self._cells: dict[tuple[Any, Any], tuple[object, tuple[Any, ...], Any]] = {}

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
        return super().clear(columns)

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
        for column, before, cell in zip(self.columns, old, cells, strict=True):
            if (before.plain, before.style, before.spans) != (cell.plain, cell.style, cell.spans):
                width = self.columns[column].content_width
                self.update_cell(key, column, cell, update_width=cell.cell_len > width)
