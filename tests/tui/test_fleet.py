"""The fleet screen, driven with Textual's pilot against the fake client."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from daemon.control import protocol
from tests.tui.fakes import PNIDS, FakeControlClient, cells, column, make_console, wait_until
from tui.app import MetadConsole
from tui.client import RpcError
from tui.confirm import ConfirmScreen
from tui.screens import FleetScreen
from tui.widgets import FleetTable, HeaderBar, StatusLine

pytestmark = pytest.mark.asyncio

SIZE = (120, 40)


def _loaded(app: MetadConsole) -> bool:
    tables = app.screen.query(FleetTable)
    return bool(tables) and tables.first().row_count == 5


async def test_rows_show_the_chips_with_their_values() -> None:
    app = make_console(FakeControlClient())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _loaded(app))
        table = app.screen.query_one(FleetTable)
        assert cells(table, PNIDS[0]) == [
            "+1 555 010 0001", "Acme Sales", "GREEN", "CONNECTED", "1K", "FULL",
            "12", "12.5/80", "3+1", "1,234", "$3.20",
        ]  # fmt: skip
        assert cells(table, PNIDS[2])[2:6] == ["RED", "FLAGGED", "250", "PAUSED_BUSINESS"]
        assert cells(table, PNIDS[4])[5] == "PAUSED"
        quality = {pnid: table.get_row(pnid)[2].style for pnid in PNIDS}
        assert quality[PNIDS[0]] == "bold green"
        assert quality[PNIDS[1]] == "bold yellow"
        assert quality[PNIDS[2]] == "bold red"
        assert quality[PNIDS[3]] == "dim"
        header = str(app.screen.query_one(HeaderBar).render())
        assert "metad 0.1.0" in header
        assert "up 2h 03m" in header
        assert "received 1,520" in header
        assert "bad sig 1" in header
        assert "● connected" in str(app.screen.query_one(StatusLine).render())


async def test_pause_asks_first_then_pauses_the_selected_chip() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _loaded(app))
        await pilot.press("down", "p")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")  # cancelled: nothing is sent
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen))
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert fake.sent("chip.pause") == []
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(fake.sent("chip.pause")))
        assert fake.sent("chip.pause") == [{"phone_number_id": PNIDS[1], "reason": "operator"}]
        table = app.screen.query_one(FleetTable)
        await wait_until(pilot, lambda: cells(table, PNIDS[1])[5] == "PAUSED")
        assert app.state.chips[PNIDS[1]].pause_reason == "operator"
        assert any("paused (operator)" in e.message for e in app.state.entries)


async def test_pause_takes_a_typed_reason() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _loaded(app))
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(*"night", "enter")
        await wait_until(pilot, lambda: bool(fake.sent("chip.pause")))
        assert fake.sent("chip.pause") == [{"phone_number_id": PNIDS[0], "reason": "night"}]


async def test_resume_and_drain() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _loaded(app))
        table = app.screen.query_one(FleetTable)
        table.move_cursor(row=4)  # the paused chip
        await pilot.press("r")
        await wait_until(pilot, lambda: cells(table, PNIDS[4])[5] == "FULL")
        assert fake.sent("chip.resume") == [{"phone_number_id": PNIDS[4]}]
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await wait_until(pilot, lambda: cells(table, PNIDS[4])[5] == "DRAINING")
        assert fake.sent("chip.drain") == [{"phone_number_id": PNIDS[4]}]


async def test_a_refusal_is_shown_and_logged() -> None:
    fake = FakeControlClient()
    fake.errors["chip.resume"] = RpcError(protocol.REFUSED, "chip is not paused")
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _loaded(app))
        await pilot.press("r")
        await wait_until(pilot, lambda: any(e.level == "error" for e in app.state.entries))
        entry = next(e for e in app.state.entries if e.level == "error")
        assert entry.message == "resume failed: chip is not paused"
        assert entry.source == "+1 555 010 0001"


async def test_a_chip_event_updates_its_row_and_logs_the_change() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _loaded(app))
        changed = dict(fake.chip(PNIDS[0]), quality_rating="YELLOW", queued=9)
        fake.push("chip", changed)
        table = app.screen.query_one(FleetTable)
        await wait_until(pilot, lambda: cells(table, PNIDS[0])[2] == "YELLOW")
        assert cells(table, PNIDS[0])[8] == "9+1"
        entry = app.state.entries[-1]
        assert (entry.kind, entry.level, entry.source) == ("chip", "warning", "+1 555 010 0001")
        assert entry.message == "quality GREEN → YELLOW"


async def test_filter_narrows_the_rows_and_escape_gives_the_keys_back() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _loaded(app))
        table = app.screen.query_one(FleetTable)
        await pilot.press("slash", *"care")
        await wait_until(pilot, lambda: table.row_count == 2)
        assert column(table, "number") == ["+1 555 010 0003", "+1 555 010 0004"]
        assert fake.sent("chip.pause") == []  # "p" was never typed, but letters go to the box
        app.screen.query_one("#filter", Input).value = "quality:green state:paused"
        await wait_until(pilot, lambda: table.row_count == 1)
        assert column(table, "number") == ["+1 555 010 0005"]
        await pilot.press("escape", "p")  # back on the table: p is pause again
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen))
        await pilot.press("escape")  # on the table, Esc clears the filter
        await wait_until(pilot, lambda: table.row_count == 5)


async def test_letters_typed_in_the_filter_are_not_commands() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _loaded(app))
        await pilot.press("slash", "p", "e", "q")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)
        assert app.current_mode == "fleet"
        assert app.is_running


async def test_s_cycles_the_sort_and_shift_s_reverses_it() -> None:
    app = make_console(FakeControlClient())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _loaded(app))
        table = app.screen.query_one(FleetTable)
        assert column(table, "number")[0] == "+1 555 010 0001"
        await pilot.press("s")  # WABA: Acme Care before Acme Sales
        await wait_until(pilot, lambda: column(table, "waba")[0] == "Acme Care")
        await pilot.press("s")  # quality: worst first, UNKNOWN last
        await wait_until(pilot, lambda: column(table, "quality")[0] == "RED")
        assert column(table, "quality") == ["RED", "YELLOW", "GREEN", "GREEN", "UNKNOWN"]
        await pilot.press("S")
        await wait_until(pilot, lambda: column(table, "quality")[0] == "UNKNOWN")
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        screen.set_sort("sent")  # numbers: biggest first
        await wait_until(pilot, lambda: column(table, "sent")[0] == "1,234")
        assert column(table, "sent") == ["1,234", "560", "99", "12", "0"]


async def test_the_cursor_stays_on_its_chip_when_the_order_changes() -> None:
    app = make_console(FakeControlClient())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _loaded(app))
        table = app.screen.query_one(FleetTable)
        await pilot.press("down", "down")
        assert table.selected_id == PNIDS[2]
        await pilot.press("s", "s")
        await wait_until(pilot, lambda: column(table, "quality")[0] == "RED")
        assert table.selected_id == PNIDS[2]
        assert table.cursor_row == 0
