"""SVG snapshots of each screen with a fixed fake state (pytest-textual-snapshot).

Update after an intended change of look: ``pytest tests/tui/test_snapshots.py
--snapshot-update``, then review the SVGs under ``__snapshots__/`` in the diff.
The clocks are fixed (see :func:`tests.tui.fakes.make_console`) and times print in UTC,
so the pictures do not depend on when or where the tests run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tests.tui.fakes import EPOCH, PNIDS, FakeControlClient, make_console, wait_until
from tui.app import MetadConsole
from tui.confirm import ConfirmScreen
from tui.screens import EventsScreen
from tui.tables import KeyedTable
from tui.views.budget import BudgetScreen
from tui.views.campaigns import CampaignsScreen
from tui.views.quality import QualityScreen
from tui.views.templates import TemplatesScreen
from tui.widgets import EventTable, FleetTable

pytest.importorskip("pytest_textual_snapshot")

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def _fleet_loaded(pilot: Pilot[Any]) -> None:
    await wait_until(pilot, lambda: pilot.app.screen.query_one(FleetTable).row_count == 5)


def test_fleet(snap_compare: Any) -> None:
    app = make_console(FakeControlClient())
    assert snap_compare(app, terminal_size=SIZE, run_before=_fleet_loaded)


def test_fleet_disconnected(snap_compare: Any) -> None:
    fake = FakeControlClient()
    app = make_console(fake)

    async def run_before(pilot: Pilot[Any]) -> None:
        await _fleet_loaded(pilot)
        fake.disconnect("the daemon closed the connection", retry_in=3.0)
        await wait_until(pilot, lambda: not app.state.connected)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_pause_confirmation(snap_compare: Any) -> None:
    app = make_console(FakeControlClient())

    async def run_before(pilot: Pilot[Any]) -> None:
        await _fleet_loaded(pilot)
        await pilot.press("down", "p")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        app.screen.query_one(Input).cursor_blink = False

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def _push_events(fake: FakeControlClient) -> None:
    fake.push("actor", {"kind": "crashed", "actor_id": "chip:100000000000003",
                        "error": "GraphError: 131056 pair rate limit", "restarts": 1},
              at=EPOCH + 61)  # fmt: skip
    fake.push("actor", {"kind": "restarted", "actor_id": "chip:100000000000003",
                        "restarts": 1}, at=EPOCH + 62)  # fmt: skip
    fake.push("chip", dict(fake.chip(PNIDS[1]), quality_rating="RED", mode="PAUSED_ALL"),
              at=EPOCH + 75)  # fmt: skip
    fake.push("log", {"level": "warning", "logger": "metad.webhook",
                      "message": "signature rejected from 203.0.113.9"}, at=EPOCH + 80)  # fmt: skip
    fake.push("log", {"level": "info", "logger": "metad.budget",
                      "message": "daily cap 80% used"}, at=EPOCH + 95)  # fmt: skip


def _events_app() -> tuple[MetadConsole, FakeControlClient]:
    fake = FakeControlClient()
    return make_console(fake), fake


def test_events(snap_compare: Any) -> None:
    app, fake = _events_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: len(app.state.chips) == 5)
        _push_events(fake)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen))
        await wait_until(pilot, lambda: app.screen.query_one(EventTable).row_count == 6)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def _on_screen(key: str, screen: type[Any], ready: Callable[[MetadConsole], bool]) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, MetadConsole)
        await wait_until(pilot, lambda: len(app.state.chips) == 5)
        await pilot.press(key)
        await wait_until(pilot, lambda: isinstance(app.screen, screen) and ready(app))
        await pilot.pause()

    return run_before


def test_campaigns(snap_compare: Any) -> None:
    app = make_console(FakeControlClient())
    ready = _on_screen(
        "c", CampaignsScreen, lambda a: a.screen.query_one(KeyedTable).row_count == 3
    )
    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_campaigns_not_available(snap_compare: Any) -> None:
    app = make_console(FakeControlClient(missing=("campaign.list",)))
    ready = _on_screen(
        "c", CampaignsScreen, lambda a: a.state.available.get("campaign.list") is False
    )
    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_budget(snap_compare: Any) -> None:
    fake = FakeControlClient()
    app = make_console(fake)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: len(app.state.chips) == 5)
        for at, threshold, period, used, cap in [
            (EPOCH + 30, "0.5", "day", "25.10", "50"),
            (EPOCH + 50, "0.8", "day", "40.05", "50"),
            (EPOCH + 55, "0.95", "month", "855.2", "900"),
        ]:
            fake.push("budget", {"scope": "global", "period": period, "period_key": "2026-01-01",
                                 "threshold": threshold, "used": used, "cap": cap, "at": at,
                                 "message": f"budget: global {period} cap at "
                                            f"{float(threshold):.0%} ({used} of {cap} USD)"},
                      at=at)  # fmt: skip
        await _on_screen("b", BudgetScreen, lambda a: len(a.state.budget) == 3)(pilot)
        await wait_until(pilot, lambda: app.screen.query_one(KeyedTable).row_count == 3)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_templates(snap_compare: Any) -> None:
    app = make_console(FakeControlClient())
    ready = _on_screen(
        "t", TemplatesScreen, lambda a: a.screen.query_one(KeyedTable).row_count == 4
    )

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("down", "down")  # spring_promo: its advice below
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_templates_without_the_report(snap_compare: Any) -> None:
    app = make_console(FakeControlClient(missing=("templates.report",)))
    ready = _on_screen(
        "t", TemplatesScreen, lambda a: a.state.available.get("templates.report") is False
    )
    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_quality_timeline(snap_compare: Any) -> None:
    fake = FakeControlClient()
    app = make_console(fake, wall_clock=lambda: EPOCH + 29 * 60 + 30)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: len(app.state.chips) == 5)
        first = fake.chip(PNIDS[0])
        for minute in range(30):  # chip 1 sends more each minute; YELLOW for minutes 10-19
            quality = "YELLOW" if 10 <= minute < 20 else "GREEN"
            first["accepted"] += 10 + minute * 3
            fake.push("chip", dict(first, quality_rating=quality), at=EPOCH + minute * 60 + 5)
        second = fake.chip(PNIDS[1])
        for minute in (25, 26, 27):
            second["accepted"] += 40
            fake.push("chip", dict(second, quality_rating="RED" if minute == 27 else "YELLOW"),
                      at=EPOCH + minute * 60 + 1)  # fmt: skip
        await _on_screen("g", QualityScreen, lambda a: len(a.state.timeline.changes) == 3)(pilot)
        info = app.screen.query_one("#info", Static)
        await wait_until(pilot, lambda: "3 rating changes" in str(info.render()))
        table = app.screen.query_one(KeyedTable)
        table.move_cursor(row=table.get_row_index(PNIDS[0]), animate=False)  # chip 1's detail
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_campaign_cancel_confirmation(snap_compare: Any) -> None:
    app = make_console(FakeControlClient())

    async def run_before(pilot: Pilot[Any]) -> None:
        await _on_screen(
            "c", CampaignsScreen, lambda a: a.screen.query_one(KeyedTable).row_count == 3
        )(pilot)
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
