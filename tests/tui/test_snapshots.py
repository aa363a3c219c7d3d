"""SVG snapshots of each screen with a fixed fake state (pytest-textual-snapshot).

Update after an intended change of look: ``pytest tests/tui/test_snapshots.py
--snapshot-update``, then review the SVGs under ``__snapshots__/`` in the diff.
The clocks are fixed (see :func:`tests.tui.fakes.make_console`) and times print in UTC,
so the pictures do not depend on when or where the tests run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.tui.fakes import EPOCH, PNIDS, FakeControlClient, make_console, wait_until
from tui.app import MetadConsole
from tui.confirm import ConfirmScreen
from tui.screens import EventsScreen
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
