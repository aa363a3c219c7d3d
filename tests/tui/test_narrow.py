"""The console in an 80x24 terminal: what a narrow screen cuts, wraps or overlaps.

Read from the screen as the terminal shows it (:func:`tests.tui.fakes.screen_text`): a
widget's own text holds everything even when its fixed height hides a wrapped line.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.tui.fakes import EPOCH, FakeControlClient, make_console, screen_text, wait_until
from tui.app import MetadConsole
from tui.screens import ConsoleScreen
from tui.views.budget import BudgetScreen

pytestmark = pytest.mark.asyncio

NARROW = (80, 24)
SCREEN_KEYS = ("f", "c", "b", "t", "g", "e")


async def _loaded(pilot: Any, fake: FakeControlClient) -> MetadConsole:
    app: MetadConsole = pilot.app
    await wait_until(pilot, lambda: app.state.connected and len(app.state.chips) == 5)
    fake.push("sends", {"accepted": 42, "failed": 3, "statuses": 17}, at=EPOCH + 1)
    await wait_until(pilot, lambda: app.state.sends is not None)
    return app


async def _show(pilot: Any, key: str) -> list[str]:
    app: MetadConsole = pilot.app
    before = app.screen
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, ConsoleScreen))
    if app.screen is before and key != "f":
        raise AssertionError(f"{key} did not switch screens")
    await pilot.pause(0.1)
    return screen_text(app)


async def test_every_header_line_shows_at_80_columns() -> None:
    """The operator's report: line 1 (URLs) wrapped, pushing the sends/WABAs line out of
    the three-line header, and the webhook counters lost ``pending``."""
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=NARROW) as pilot:
        await _loaded(pilot, fake)
        for key in SCREEN_KEYS:
            rows = await _show(pilot, key)
            identity, hooks, sends = rows[:3]
            assert identity.startswith(" metad 0.1.0 │ up 2h 03m │ webhook "), (key, rows[:3])
            assert hooks.startswith(" webhooks received 1,520"), (key, rows[:3])
            assert "bad sig 1 · pending 0" in hooks, (key, rows[:3])
            assert sends.startswith(" sends/s 42 ok · 3 failed"), (key, rows[:3])
            assert "WABAs 2 · restricted: Acme Care" in sends, (key, rows[:3])


async def test_a_disconnected_console_keeps_its_lines_at_80_columns() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=NARROW) as pilot:
        await _loaded(pilot, fake)
        fake.disconnect("the daemon closed the connection", retry_in=3.0)
        await wait_until(pilot, lambda: not app.state.connected)
        await pilot.pause(0.1)
        rows = screen_text(app)
        assert rows[0].rstrip().endswith("(stale)")
        assert rows[1].startswith(" webhooks received")
        status = rows[-2]
        assert status.startswith(" ○ disconnected — retrying in 3s"), status
        assert "the daemon closed the connection" in status
        await pilot.resize_terminal(140, 24)  # room again: everything comes back
        await pilot.pause(0.1)
        rows = screen_text(app)
        assert "│ sim http://127.0.0.1:8089  (stale)" in rows[0]
        assert "dup 7 · parsed 1,509" in rows[1]
        assert "/run/metad/metad.sock  the daemon closed" in rows[-2]
        assert rows[-2].rstrip().endswith("(ctrl+r: retry now)")


async def test_the_budget_gauges_keep_their_alert_marks_on_their_line_at_80_columns() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=NARROW) as pilot:
        await _loaded(pilot, fake)
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, BudgetScreen))
        await wait_until(pilot, lambda: len(app.state.budget) == 3)
        await pilot.pause(0.1)
        rows = screen_text(app)
        for name, figures in [("Day", "$42.50 of $50.00 · 85.0%"),
                              ("Week", "$121.30 of $250.00 · 48.5%"),
                              ("Month", "$881.80 of $900.00 · 98.0%")]:  # fmt: skip
            at = next(n for n, row in enumerate(rows) if row.startswith(f" {name} "))
            assert figures in rows[at], rows[at]
            assert rows[at + 1].rstrip().endswith("alerts at 50% · 80% · 95%"), rows[at + 1]
            assert len(rows[at + 1].rstrip()) <= 80


SCREENS = "f Fleet c Campaigns b Budget t Templates g Quality e Events"
UNNAMED = "f c b t g e screens"
FOOTERS = {
    "f": f"/ Filter p Pause r Resume d Drain s Sort {UNNAMED} q Quit",
    "c": "/ Filter p Pause r Resume x Cancel s Resend d Drop q Quit",
    "b": f"{SCREENS} q Quit",
    "t": f"/ Filter s Sync {UNNAMED} q Quit",
    "g": f"/ Filter {UNNAMED} q Quit",
    "e": f"/ Filter x Clear log {UNNAMED} q Quit",
}
"""At 80 columns, left of ``▏^p palette``."""


async def test_the_footer_fits_beside_the_palette_key_at_80_columns() -> None:
    """The operator's report: the keys ran under ``^p palette`` (``b Budge▏^p palettee``).
    Narrow, the screen switches lose their names, then give way; each screen's own keys
    and q Quit stay."""
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=NARROW) as pilot:
        await _loaded(pilot, fake)
        for key in SCREEN_KEYS:
            footer = (await _show(pilot, key))[-1].rstrip()
            assert footer.endswith("▏^p palette"), (key, footer)
            assert footer.removesuffix("▏^p palette").rstrip() == FOOTERS[key], (key, footer)
        await pilot.press("f")
        await pilot.resize_terminal(140, 24)  # room again: the screens' names come back
        await wait_until(pilot, lambda: SCREENS in screen_text(app)[-1])
        assert screen_text(app)[-1].startswith(f"{FOOTERS['f'].split(' f c')[0]} {SCREENS}")
