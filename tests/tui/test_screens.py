"""The campaigns, budget, templates and quality screens with the pilot (fake daemon)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Input, Static

from tests.tui.fakes import EPOCH, PNIDS, FakeControlClient, cells, column, make_console, wait_until
from tui.app import MetadConsole
from tui.confirm import ConfirmScreen
from tui.screens import EventsScreen
from tui.tables import KeyedTable
from tui.views.budget import BudgetGauge, BudgetScreen
from tui.views.campaigns import CampaignsScreen
from tui.views.quality import QualityScreen
from tui.views.templates import TemplatesScreen
from tui.widgets import EventTable

pytestmark = pytest.mark.asyncio

SIZE = (140, 40)


def _info(app: MetadConsole) -> str:
    return str(app.screen.query_one("#info", Static).render())


async def _open(pilot: Any, key: str, screen: type[Any], rows: int | None = None) -> KeyedTable:
    app: MetadConsole = pilot.app
    await wait_until(pilot, lambda: app.state.connected and len(app.state.chips) == 5)
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, screen))
    table = app.screen.query_one(KeyedTable)
    if rows is not None:
        await wait_until(pilot, lambda: table.row_count == rows)
    return table


# -- campaigns -----------------------------------------------------------------------


async def test_campaign_rows_show_progress_counts_cost_and_eta() -> None:
    app = make_console(FakeControlClient())
    async with app.run_test(size=SIZE) as pilot:
        table = await _open(pilot, "c", CampaignsScreen, rows=3)
        assert column(table, "name") == ["Spring sale", "Win-back", "Welcome series"]
        spring = cells(table, "c-spring")
        assert spring[1] == "running"
        assert spring[2].endswith(" 48%")  # (2340 sent, 40 of them failed, + 60 + 2) / 5000
        assert spring[3] == "2,402/5,000"
        assert spring[4:11] == ["2,340", "2,100", "1,500", "120", "40", "60", "2"]
        assert spring[11:] == ["$34.50", "21m 00s"]
        assert cells(table, "c-welcome")[12] == "done"
        assert "running 1 · paused 1 · cost $47.24" in _info(app)


async def test_pause_asks_then_pauses_the_selected_campaign() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        table = await _open(pilot, "c", CampaignsScreen, rows=3)
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")  # changed my mind
        await wait_until(pilot, lambda: isinstance(app.screen, CampaignsScreen))
        assert fake.sent("campaign.pause") == []
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(fake.sent("campaign.pause")))
        assert fake.sent("campaign.pause") == [{"id": "c-spring"}]
        await wait_until(pilot, lambda: cells(table, "c-spring")[1] == "paused")


async def test_cancel_and_resume_act_on_the_row_under_the_cursor() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        table = await _open(pilot, "c", CampaignsScreen, rows=3)
        await pilot.press("down", "r")  # Win-back is paused
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await wait_until(pilot, lambda: cells(table, "c-winback")[1] == "running")
        assert fake.sent("campaign.resume") == [{"id": "c-winback"}]
        target = table.get_row_index("c-winback")
        table.move_cursor(row=target, animate=False)
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(fake.sent("campaign.cancel")))
        assert fake.sent("campaign.cancel") == [{"id": "c-winback"}]


async def test_a_message_in_doubt_is_shown_and_resolved_from_the_console() -> None:
    """The selected campaign's messages in doubt past their hold are listed below the
    table; s resends (d drops) the oldest once confirmed, and says when there is none."""
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, "c", CampaignsScreen, rows=3)
        detail = app.screen.query_one("#campaign-detail", Static)
        await wait_until(pilot, lambda: "r7  outbox 42" in str(detail.render()))
        assert "taps 75" in str(detail.render())
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(fake.sent("campaign.resolve")))
        assert fake.sent("campaign.resolve") == [
            {"id": "c-spring", "recipient": "r7", "action": "resend"}
        ]
        await wait_until(pilot, lambda: "r7" not in str(detail.render()))  # refetched
        await pilot.press("d")  # none left: nothing asked
        await pilot.pause()
        assert isinstance(app.screen, CampaignsScreen)
        assert len(fake.sent("campaign.resolve")) == 1


async def test_an_action_the_state_does_not_allow_is_not_asked() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, "c", CampaignsScreen, rows=3)
        await pilot.press("r")  # Spring sale is running already
        await pilot.pause()
        assert isinstance(app.screen, CampaignsScreen)
        assert fake.sent("campaign.resume") == []


async def test_progress_events_move_the_row_and_log_state_changes() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        table = await _open(pilot, "c", CampaignsScreen, rows=3)
        spring = dict(fake.campaigns[0], pending=450, in_flight=50, sent=4100, failed=100,
                      skipped=400, in_doubt=0, cost_usd=60.0, eta_s=90.0)  # fmt: skip
        fake.push("campaign.progress", spring)
        await wait_until(pilot, lambda: cells(table, "c-spring")[3] == "4,500/5,000")
        assert cells(table, "c-spring")[2].endswith(" 90%")
        assert cells(table, "c-spring")[11:] == ["$60.00", "1m 30s"]
        fake.push("campaign.progress", dict(spring, state="finished", eta_s=0))
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen))
        events = app.screen.query_one(EventTable)
        await wait_until(pilot, lambda: "running → finished" in column(events, "message"))


async def test_without_campaign_methods_the_screen_says_not_available() -> None:
    fake = FakeControlClient(missing=("campaign.list", "campaign.pause"))
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        table = await _open(pilot, "c", CampaignsScreen)
        await wait_until(pilot, lambda: "not available" in _info(app))
        assert table.row_count == 0
        await pilot.press("p")  # nothing selected: nothing asked
        await pilot.pause()
        assert isinstance(app.screen, CampaignsScreen)
        # A progress event from a daemon that has them after all still shows up.
        fake.push("campaign.progress", fake.campaigns[0])
        await wait_until(pilot, lambda: table.row_count == 1)


# -- budget --------------------------------------------------------------------------


def _gauge(app: MetadConsole, period: str) -> str:
    return str(app.screen.query_one(f"#gauge-{period}", BudgetGauge).render())


async def test_budget_gauges_show_use_against_the_caps() -> None:
    app = make_console(FakeControlClient())
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, "b", BudgetScreen)
        await wait_until(pilot, lambda: "$42.50 of $50.00" in _gauge(app, "day"))
        assert "85.0%" in _gauge(app, "day")
        assert "alerts at 50% · 80% · 95%" in _gauge(app, "day")
        assert "$121.30 of $250.00 · 48.5%" in _gauge(app, "week")
        assert "98.0%" in _gauge(app, "month")
        assert "fullest: month at 98%" in _info(app)


async def test_a_budget_alert_is_listed_and_the_gauges_are_asked_again() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        table = await _open(pilot, "b", BudgetScreen)
        await wait_until(pilot, lambda: len(fake.sent("budget.status")) == 1)
        fake.budget["day"]["spent"] = "48.70"
        fake.push("budget", {"scope": "global", "period": "day", "threshold": "0.95",
                             "used": "48.70", "cap": "50", "at": EPOCH + 90,
                             "message": "budget: global day cap at 95%"})  # fmt: skip
        await wait_until(pilot, lambda: table.row_count == 1)
        assert column(table, "threshold") == ["95%"]
        await wait_until(pilot, lambda: "$50.00 of $50.00" in _gauge(app, "day"))
        assert len(fake.sent("budget.status")) == 2


async def test_without_budget_status_the_gauges_say_so() -> None:
    app = make_console(FakeControlClient(missing=("budget.status",)))
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, "b", BudgetScreen)
        await wait_until(pilot, lambda: "not available" in _info(app))
        assert "not reported by the daemon" in _gauge(app, "day")


async def test_the_budget_has_no_filter_key() -> None:
    app = make_console(FakeControlClient())
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, "b", BudgetScreen)
        assert not app.screen.query(Input)
        await pilot.press("slash", "f")  # "/" does nothing here; "f" still switches
        await wait_until(pilot, lambda: not isinstance(app.screen, BudgetScreen))


# -- templates -----------------------------------------------------------------------


async def test_templates_join_the_list_and_the_report() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        table = await _open(pilot, "t", TemplatesScreen, rows=4)
        assert fake.sent("templates.report")[0] == {"per_waba": True}
        key = "200000000000001/spring_promo/pt_BR"
        expected = ["spring_promo", "Acme Sales", "pt_BR", "MARKETING", "APPROVED", "YELLOW",
                    "2,300", "65%", "120", "40", "$34.50"]  # fmt: skip
        assert cells(table, key)[:11] == expected
        assert cells(table, key)[11].startswith("quality YELLOW")
        assert cells(table, key)[11].endswith("(+1)")
        assert cells(table, "200000000000001/order_update/en_US")[6] == "—"
        await pilot.press("down", "down")
        detail = app.screen.query_one("#template-detail", Static)
        await wait_until(pilot, lambda: "131049" in str(detail.render()))
        await pilot.press("slash")
        app.screen.query_one("#filter", Input).value = "status:rejected"
        await wait_until(pilot, lambda: table.row_count == 1)
        assert column(table, "name") == ["winback_offer"]


async def test_the_detail_shows_a_reason_only_when_meta_gave_one() -> None:
    """Meta's reason for an approved template is "NONE": the detail said ``approved:
    NONE`` in red for every one of them."""
    app = make_console(FakeControlClient())
    async with app.run_test(size=SIZE) as pilot:
        table = await _open(pilot, "t", TemplatesScreen, rows=4)
        detail = app.screen.query_one("#template-detail", Static)
        await wait_until(pilot, lambda: "hello_world (en_US)" in str(detail.render()))
        assert "NONE" not in str(detail.render())
        assert str(detail.render()).splitlines()[1].startswith("sent 1,200")
        table.move_cursor(row=table.get_row_index("200000000000001/winback_offer/es"))
        await wait_until(pilot, lambda: "winback_offer (es)" in str(detail.render()))
        assert "rejected: INVALID_FORMAT" in str(detail.render())


async def test_without_the_report_templates_still_show() -> None:
    fake = FakeControlClient(missing=("templates.report",))
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        table = await _open(pilot, "t", TemplatesScreen, rows=4)
        await wait_until(pilot, lambda: "report: not available" in _info(app))
        assert column(table, "sent") == ["—"] * 4
        assert column(table, "status") == ["APPROVED", "PENDING", "APPROVED", "REJECTED"]


async def test_s_syncs_the_templates_from_meta() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=SIZE) as pilot:
        table = await _open(pilot, "t", TemplatesScreen, rows=4)
        fake.templates.append(dict(fake.templates[0], name="new_one"))
        await pilot.press("s")
        await wait_until(pilot, lambda: table.row_count == 5)
        assert fake.sent("templates.sync") == [{}]


# -- quality timeline ----------------------------------------------------------------


async def test_the_timeline_shows_rating_changes_and_sends_per_minute() -> None:
    fake = FakeControlClient()
    app = make_console(fake, wall_clock=lambda: EPOCH + 5 * 60 + 10)
    async with app.run_test(size=SIZE) as pilot:
        table = await _open(pilot, "g", QualityScreen, rows=5)
        chip = fake.chip(PNIDS[0])
        for minute, (sent, quality) in enumerate(
            [(5, "GREEN"), (10, "GREEN"), (0, "YELLOW"), (20, "YELLOW"), (40, "RED"), (8, "RED")]
        ):
            chip["accepted"] += sent
            fake.push("chip", dict(chip, quality_rating=quality), at=EPOCH + minute * 60 + 1)
        await wait_until(pilot, lambda: cells(table, PNIDS[0])[6] == "2")
        row = cells(table, PNIDS[0])
        assert row[1] == "RED"
        assert row[2].endswith("██▆▆▃▃")  # GREEN, GREEN, YELLOW, YELLOW, RED, RED
        assert row[3].endswith("▁▂ ▄█▂")  # 5, 10, 0, 20, 40, 8 sends (eighths, rounded up)
        assert row[4:6] == ["8", "40"]
        assert column(table, "number")[0] == "+1 555 010 0001"  # RED sorts first now


async def test_the_timeline_starts_with_the_changes_from_before_connecting() -> None:
    fake = FakeControlClient()  # the third chip is RED now; it was GREEN until minute 2
    fake.quality_history = [
        {"chip": PNIDS[2], "at": EPOCH + 2 * 60 + 5, "from_rating": "GREEN", "to_rating": "RED"}
    ]
    app = make_console(fake, wall_clock=lambda: EPOCH + 5 * 60 + 10)
    async with app.run_test(size=SIZE) as pilot:
        table = await _open(pilot, "g", QualityScreen, rows=5)
        await wait_until(pilot, lambda: cells(table, PNIDS[2])[6] == "1")
        assert cells(table, PNIDS[2])[2].endswith("██▃▃▃▃")  # GREEN, RED from minute 2 on
        assert fake.sent("quality.history") == [{"minutes": 60}]


async def test_the_quality_filter_narrows_the_chips() -> None:
    app = make_console(FakeControlClient())
    async with app.run_test(size=SIZE) as pilot:
        table = await _open(pilot, "g", QualityScreen, rows=5)
        await pilot.press("slash")
        app.screen.query_one("#filter", Input).value = "quality:green"
        await wait_until(pilot, lambda: table.row_count == 2)
