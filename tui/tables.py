"""A data table that is given whole rows and writes only what changed.

Why: the campaigns, templates and quality screens redraw from state every frame they are
told of a change; rebuilding a table moves the cursor and re-measures every column, so
when the rows are the same ones in the same order only the changed cells are written.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

__all__ = ["KeyedTable", "Row", "bar"]

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


class KeyedTable(DataTable[Text]):
    def __init__(self, columns: Sequence[tuple[str, str]], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
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
