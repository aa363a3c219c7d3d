"""The tables that re-render only changed cells: what they draw stays right."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets.data_table import CellDoesNotExist

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
        write_rows = table.write_rows

        def counted(rows: Mapping[str, Mapping[str, Text]]) -> None:
            written.extend(column for cells in rows.values() for column in cells)
            write_rows(rows)

        table.write_rows = counted  # type: ignore[method-assign]
        chip = snapshot.chips[0]
        changed = dataclasses.replace(chip, queued=99, paused=True, accepted=5)
        table.update_chip(changed, wabas[chip.waba_id])
        assert written == ["state", "queue"]  # accepted is not shown
        row = [c.plain for c in table.get_row(PNIDS[0])]
        assert row[5] == "PAUSED"
        assert row[8] == "99+1"
        await pilot.pause()
        assert "99+1" in _line(table, 1)


async def test_a_cell_write_repaints_its_row_alone_and_only_when_in_view() -> None:
    async with _Host(lambda: KeyedTable([("a", "A"), ("b", "B")])).run_test(size=(40, 6)) as pilot:
        table = pilot.app.query_one(KeyedTable)
        rows = [(str(n), [Text(f"r{n}"), Text("x")]) for n in range(20)]
        table.show_rows(rows)
        await pilot.pause()
        repainted: list[Region] = []
        refresh = table.refresh

        def spy(*regions: Region, **kwargs: Any) -> Any:
            repainted.extend(regions or [Region(0, 0, 0, 0)])
            return refresh(*regions, **kwargs)

        table.refresh = spy  # type: ignore[method-assign]
        table.set_cells("2", {"a": Text("two")})
        assert [(r.y, r.height) for r in repainted] == [(3, 1)]  # header, rows 0 and 1
        assert table.get_row("2")[0].plain == "two"
        repainted.clear()
        table.set_cells("15", {"b": Text("y")})  # below the fold: nothing to repaint
        assert repainted == []
        await pilot.pause()
        assert "two" in _line(table, 3)
        table.sort("a", key=lambda cell: cell.plain, reverse=True)  # rows move: the map follows
        await pilot.pause()
        assert table.get_row_index("2") == 0  # "two" sorts first, descending
        repainted.clear()
        table.set_cells("2", {"a": Text("dos")})
        assert [(r.y, r.height) for r in repainted] == [(1, 1)]
        await pilot.pause()
        assert "dos" in _line(table, 1)
        with pytest.raises(CellDoesNotExist):
            table.set_cells("nope", {"a": Text("x")})


async def test_rows_written_together_repaint_once_and_an_unknown_key_writes_nothing() -> None:
    async with _Host(lambda: KeyedTable([("a", "A"), ("b", "B")])).run_test(size=(40, 6)) as pilot:
        table = pilot.app.query_one(KeyedTable)
        table.show_rows([(str(n), [Text(f"r{n}"), Text("x")]) for n in range(20)])
        await pilot.pause()
        calls: list[tuple[Region, ...]] = []
        refresh = table.refresh

        def spy(*regions: Region, **kwargs: Any) -> Any:
            calls.append(regions)
            return refresh(*regions, **kwargs)

        table.refresh = spy  # type: ignore[method-assign]
        with pytest.raises(CellDoesNotExist):
            table.write_rows({"0": {"a": Text("r0!")}, "1": {"nope": Text("x")}})
        assert table.get_row("0")[0].plain == "r0"
        assert calls == []
        table.write_rows({"0": {"a": Text("s0")}, "18": {"a": Text("s18")}, "1": {"b": Text("z")}})
        assert [[(r.y, r.height) for r in regions] for regions in calls] == [[(1, 1), (2, 1)]]
        await pilot.pause()
        assert "s0" in _line(table, 1)
        assert "z" in _line(table, 2)
        assert table.get_row("18")[0].plain == "s18"
        table.remove_column("b")
        with pytest.raises(CellDoesNotExist):
            table.write_rows({"0": {"b": Text("gone")}})
