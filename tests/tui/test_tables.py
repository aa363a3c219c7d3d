"""The tables that re-render only changed cells: what they draw stays right."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from tests.tui.fakes import PNIDS, fleet_snapshot
from tui.model import Snapshot
from tui.tables import KeyedTable
from tui.widgets import FLEET_CELLS, FLEET_COLUMNS, FleetTable

pytestmark = pytest.mark.asyncio


class _Host(App[None]):
    """Builds the table inside the app (a data table measures with the app's console)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        super().__init__()
        self._make = make

    def compose(self) -> ComposeResult:
        yield self._make()


def _line(table: Any, y: int) -> str:
    return str(table.render_line(y).text)


async def test_a_changed_cell_is_drawn_anew_and_the_others_come_from_the_cache() -> None:
    async with _Host(lambda: KeyedTable([("a", "A"), ("b", "B")])).run_test(size=(40, 6)) as pilot:
        table = pilot.app.query_one(KeyedTable)
        table.show_rows([("1", [Text("one"), Text("x")]), ("2", [Text("two"), Text("y")])])
        await pilot.pause()
        assert "one" in _line(table, 1)
        assert "two" in _line(table, 2)
        cell = (table._row_locations.get_key(1), table._column_locations.get_key(0))
        cached_two = table._cells[cell]
        table.show_rows([("1", [Text("uno"), Text("x")]), ("2", [Text("two"), Text("y")])])
        await pilot.pause()
        assert "uno" in _line(table, 1)
        assert "two" in _line(table, 2)
        again = table._cells[cell]
        assert again is cached_two  # the unchanged cell was not rendered again
        table.move_cursor(row=1)  # the cursor restyles the row: drawn anew, still right
        await pilot.pause()
        assert "two" in _line(table, 2)


async def test_the_fleet_table_writes_only_the_cells_whose_fields_changed() -> None:
    assert [key for key, _, _ in FLEET_CELLS] == [key for key, _ in FLEET_COLUMNS]
    async with _Host(FleetTable).run_test(size=(160, 10)) as pilot:
        table = pilot.app.query_one(FleetTable)
        snapshot = Snapshot.from_wire(fleet_snapshot())
        wabas = {w.waba_id: w for w in snapshot.wabas}
        table.show(snapshot.chips, wabas)
        await pilot.pause()
        written: list[str] = []
        update_cell = table.update_cell

        def counted(row: Any, column: Any, value: Any, *, update_width: bool = False) -> None:
            written.append(str(column))
            update_cell(row, column, value, update_width=update_width)

        table.update_cell = counted  # type: ignore[method-assign,assignment]
        chip = snapshot.chips[0]
        changed = dataclasses.replace(chip, queued=99, paused=True, accepted=5)
        table.update_chip(changed, wabas[chip.waba_id])
        assert written == ["state", "queue"]  # accepted is not shown
        row = [c.plain for c in table.get_row(PNIDS[0])]
        assert row[5] == "PAUSED"
        assert row[8] == "99+1"
        await pilot.pause()
        assert "99+1" in _line(table, 1)
