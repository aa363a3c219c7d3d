"""Events screen, connection state, screen switching and the command palette (pilot, fake)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.command import CommandList, CommandPalette
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from tests.tui.fakes import (
    EPOCH,
    PNIDS,
    FakeControlClient,
    column,
    fleet_snapshot,
    make_console,
    screen_text,
    wait_until,
)
from tui.app import MetadConsole
from tui.confirm import ConfirmScreen
from tui.screens import EventsScreen, FleetScreen
from tui.views.budget import BudgetScreen
from tui.views.campaigns import CampaignsScreen
from tui.views.quality import QualityScreen
from tui.views.templates import TemplatesScreen
from tui.widgets import EventTable, FleetTable, HeaderBar, StatusLine

pytestmark = pytest.mark.asyncio

SIZE = (120, 40)


def _connected(app: MetadConsole) -> bool:
    return app.state.connected and len(app.state.chips) == 5


def _shows(app: MetadConsole, screen: type) -> Callable[[], bool]:
    return lambda: isinstance(app.screen, screen)


def _status(app: MetadConsole) -> str:
    return str(app.screen.query_one(StatusLine).render())


async def test_pushed_events_appear_in_the_events_screen() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _connected(app))
        fake.push("actor", {"kind": "crashed", "actor_id": "chip:100000000000003",
                            "error": "boom", "restarts": 2})  # fmt: skip
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen))
        table = app.screen.query_one(EventTable)
        await wait_until(pilot, lambda: "crashed: boom (restarts 2)" in column(table, "message"))
        fake.push("log", {"level": "WARNING", "logger": "metad.webhook", "message": "slow"})
        await wait_until(pilot, lambda: column(table, "message")[-1] == "slow")
        assert column(table, "level")[-1] == "warning"
        assert column(table, "source")[-1] == "metad.webhook"
        assert table.cursor_row == table.row_count - 1  # follows the newest line


async def test_the_kind_column_shows_every_kind_whole() -> None:
    """It was 7 wide: ``campaign`` showed as ``campaig``."""
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _connected(app))
        await wait_until(pilot, lambda: len(app.state.campaigns) == 3)
        fake.push("campaign.progress", dict(fake.campaigns[1], state="running"))
        fake.push("flow.completed", {"flow": "signup"})
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen))
        table = app.screen.query_one(EventTable)
        await wait_until(
            pilot, lambda: column(table, "kind")[-2:] == ["campaign", "flow.completed"]
        )
        rows = screen_text(app)
        assert any(" campaign " in row and "paused → running" in row for row in rows), rows
        assert any(" flow.completed " in row for row in rows), rows


async def test_what_happened_before_the_console_connected_is_logged_once() -> None:
    """The daemon's kept happenings (``events.recent``) come after a line saying so, in
    time order, and a budget alert among them reaches the budget screen's list; after a
    reconnection only the newer ones come."""
    fake = FakeControlClient()
    fake.backlog = [
        {"kind": "log", "at": 1_700_000_002.0,
         "data": {"level": "WARNING", "logger": "metad.graph", "message": "slow answers"}},
        {"kind": "actor", "at": 1_700_000_001.0,
         "data": {"kind": "crashed", "actor_id": "chip:1", "error": "boom"}},
        {"kind": "budget", "at": 1_700_000_003.0,
         "data": {"period": "day", "threshold": 0.8, "spent": 40, "cap": 50}},
    ]  # fmt: skip
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _connected(app))
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen))
        table = app.screen.query_one(EventTable)
        await wait_until(pilot, lambda: table.row_count == 5)
        messages = column(table, "message")
        assert messages[1].startswith("3 earlier events from the daemon, since ")
        assert messages[2:4] == ["crashed: boom", "slow answers"]
        assert len(app.state.budget_alerts) == 1
        fake.disconnect()
        fake.backlog.append({"kind": "config", "at": 1_700_000_009.0, "data": {"applied": True}})
        fake.connect()
        await wait_until(
            pilot, lambda: "1 earlier event from" in " ".join(column(table, "message"))
        )
        assert fake.sent("events.recent")[-1] == {"after": 1_700_000_003.0}
        assert sum("crashed" in m for m in column(table, "message")) == 1


async def test_what_happened_while_away_is_logged_though_a_live_event_came_first() -> None:
    """A live event applied with the snapshot (before the backlog was asked for) made the
    console ask only for what came after it: what happened while it was away was lost."""
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _connected(app))
        fake.push("log", {"level": "WARNING", "logger": "metad.graph", "message": "before"},
                  at=EPOCH + 10)  # fmt: skip
        await wait_until(pilot, lambda: any(e.message == "before" for e in app.state.entries))
        fake.disconnect()
        away = {"kind": "actor", "at": EPOCH + 20,
                "data": {"kind": "crashed", "actor_id": "chip:1", "error": "boom"}}  # fmt: skip
        fake.backlog = [away]
        fake.connect()
        # Applied with the snapshot, before the backlog is asked for:
        fake.push("log", {"level": "WARNING", "logger": "metad.graph", "message": "after"},
                  at=EPOCH + 30)  # fmt: skip
        await wait_until(pilot, lambda: any(e.message == "after" for e in app.state.entries))
        await wait_until(pilot, lambda: bool(fake.sent("events.recent")[1:]))
        await pilot.pause(0.1)
        assert fake.sent("events.recent")[-1] == {"after": EPOCH + 10}
        messages = [e.message for e in app.state.entries]
        assert messages.count("crashed: boom") == 1
        assert messages.count("after") == 1


async def test_the_events_filter_narrows_the_log() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _connected(app))
        fake.push("actor", {"kind": "restarted", "actor_id": "chip:1", "restarts": 1})
        fake.push("log", {"level": "error", "logger": "metad.graph", "message": "HTTP 500"})
        fake.push("log", {"level": "info", "logger": "metad.graph", "message": "ok"})
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen))
        table = app.screen.query_one(EventTable)
        await wait_until(pilot, lambda: table.row_count == 4)  # with "connected"
        await pilot.press("slash", "l")
        app.screen.query_one("#filter", Input).value = "level:error"
        await wait_until(pilot, lambda: table.row_count == 1)
        assert column(table, "message") == ["HTTP 500"]
        app.screen.query_one("#filter", Input).value = "kind:actor"
        await wait_until(pilot, lambda: column(table, "message") == ["restarted (restarts 1)"])
        await pilot.press("escape", "x")  # leave the box; x clears the log
        await wait_until(pilot, lambda: table.row_count == 0)
        assert len(app.state.entries) == 0


async def test_sends_events_update_the_header() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _connected(app))
        fake.push("sends", {"accepted": 42, "failed": 3, "statuses": 17})
        header = app.screen.query_one(HeaderBar)
        await wait_until(pilot, lambda: "42 ok · 3 failed · 17 statuses" in str(header.render()))


async def test_disconnect_shows_retrying_and_a_reconnect_restores() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _connected(app))
        fake.disconnect("the daemon closed the connection", retry_in=3.0)
        await wait_until(pilot, lambda: "disconnected — retrying in 3s" in _status(app))
        assert "the daemon closed the connection" in _status(app)
        assert "(stale)" in str(app.screen.query_one(HeaderBar).render())
        assert app.screen.query_one(StatusLine).has_class("-down")
        await pilot.press("p")  # no daemon, no dialog
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("ctrl+r")
        assert fake.reconnects == 1
        fake.connecting()
        await wait_until(pilot, lambda: "disconnected — reconnecting" in _status(app))
        # The daemon comes back with one chip fewer: the table follows the new snapshot.
        fake.snapshot = fleet_snapshot()
        fake.snapshot["chips"].pop()
        fake.connect()
        await wait_until(pilot, lambda: "● connected" in _status(app))
        table = app.screen.query_one(FleetTable)
        await wait_until(pilot, lambda: table.row_count == 4)
        assert PNIDS[4] not in table.rows
        messages = [e.message for e in app.state.entries if e.kind == "console"]
        assert messages == [
            "connected to /run/metad/metad.sock",
            "disconnected: the daemon closed the connection",
            "connected to /run/metad/metad.sock",
        ]


async def test_starting_without_a_daemon_shows_retrying() -> None:
    fake = FakeControlClient(connected=False)
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "retrying in 1s" in _status(app))
        assert "no daemon socket" in _status(app)
        assert app.screen.query_one(FleetTable).row_count == 0
        fake.connect()
        await wait_until(pilot, lambda: app.screen.query_one(FleetTable).row_count == 5)


async def test_letters_and_tab_switch_screens() -> None:
    app = make_console(FakeControlClient())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _connected(app))
        for key, screen in [("e", EventsScreen), ("c", CampaignsScreen), ("b", BudgetScreen),
                            ("t", TemplatesScreen), ("g", QualityScreen),
                            ("f", FleetScreen)]:  # fmt: skip
            await pilot.press(key)
            await wait_until(pilot, _shows(app, screen))
        for screen in [CampaignsScreen, BudgetScreen, TemplatesScreen, QualityScreen,
                       EventsScreen, FleetScreen]:  # fmt: skip
            await pilot.press("tab")
            await wait_until(pilot, _shows(app, screen))


async def test_the_footer_shows_the_keys_of_each_screen() -> None:
    app = make_console(FakeControlClient())
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_until(pilot, lambda: _connected(app))
        expected = {
            "f": ["p", "r", "d", "s", "slash"],
            "c": ["p", "r", "x", "s", "d", "slash"],
            "b": [],
            "t": ["s", "slash"],
            "g": ["slash"],
            "e": ["x", "slash"],
        }
        for key, own in expected.items():
            await pilot.press(key)
            await pilot.pause()
            shown = [k.key for k in app.screen.query(FooterKey)]
            assert shown[-8:] == ["f", "c", "b", "t", "g", "e", "q", "ctrl+p"], key
            assert sorted(shown[:-8]) == sorted(own), key


async def test_the_palette_offers_every_action() -> None:
    app = make_console(FakeControlClient())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _connected(app))
        await wait_until(pilot, lambda: len(app.state.campaigns) == 3)
        titles = [c.title for c in app.palette_commands() if c.discover]
        assert titles[:9] == ["Show fleet", "Show campaigns", "Show budget", "Show templates",
                              "Show quality timeline", "Show events", "Pause +1 555 010 0001",
                              "Resume +1 555 010 0001", "Drain +1 555 010 0001"]  # fmt: skip
        for title in ("Sort fleet by quality", "Reverse fleet sort", "Filter fleet",
                      "Clear fleet filter", "Filter events", "Clear event log",
                      "Refresh budget", "Refresh campaigns", "Refresh templates",
                      "Sync templates from Meta", "Reconnect now", "Quit"):  # fmt: skip
            assert title in titles
        searchable = [c.title for c in app.palette_commands()]
        assert "Drain +1 555 010 0004" in searchable
        # Each campaign, with what its state allows.
        assert "Pause campaign Spring sale" in searchable
        assert "Resume campaign Spring sale" not in searchable
        assert "Resume campaign Win-back" in searchable
        assert not [t for t in searchable if t.endswith("campaign Welcome series")]


async def test_the_palette_runs_a_command() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _connected(app))
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        palette.query_one(Input).value = "pause 0003"
        await wait_until(pilot, lambda: palette.query_one(CommandList).option_count > 0)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(fake.sent("chip.pause")))
        assert fake.sent("chip.pause") == [{"phone_number_id": PNIDS[2], "reason": "operator"}]


async def test_webhook_counters_are_polled() -> None:
    fake = FakeControlClient()
    app = make_console(fake, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _connected(app))
        fake.snapshot["webhooks"]["received"] = 2000
        header = app.screen.query_one(HeaderBar)
        await wait_until(pilot, lambda: "received 2,000" in str(header.render()))
        assert fake.sent("webhooks.stats")
