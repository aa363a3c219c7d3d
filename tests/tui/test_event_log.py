"""One line per happening in the events log: no mirrored twins, campaigns that start.

The daemon mirrors its warnings onto the bus as ``log`` events; a budget alert and a
chip's falling rating come both as such a line and as a structured event (see
:mod:`tui.mirrors`). The fake pushes both, as the daemon does, live and in the backlog.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.tui.fakes import EPOCH, PNIDS, FakeControlClient, campaign, make_console, wait_until
from tui.app import MetadConsole
from tui.campaigns import Campaign, state_change
from tui.client import ControlEvent
from tui.mirrors import HeldMirrors, Mirror, mirror_of, without_paired
from tui.state import LogEntry

HOLD = 0.2
"""The console's wait for a mirrored line's twin, short for the tests."""

ALERT = "budget: global day cap at 80% (40.05 of 50 USD)"
QUALITY = (f"chip {PNIDS[0]} quality GREEN/FULL → YELLOW/SLOWED (webhook): "
           "phone_number_quality_update")  # fmt: skip


def _log(logger: str, message: str, level: str = "WARNING") -> dict[str, Any]:
    return {"level": level, "logger": logger, "message": message}


def _alert(message: str = ALERT) -> dict[str, Any]:
    return {"scope": "global", "period": "day", "period_key": "2026-01-01", "threshold": "0.8",
            "used": "40.05", "cap": "50", "message": message}  # fmt: skip


def _lines(app: MetadConsole, since: int = 0) -> list[LogEntry]:
    """The log's lines after the first ``since``, the console's own left out."""
    return [e for e in list(app.state.entries)[since:] if e.kind != "console"]


async def _connected(pilot: Any) -> MetadConsole:
    app: MetadConsole = pilot.app
    await wait_until(pilot, lambda: app.state.connected and len(app.state.chips) == 5)
    await wait_until(pilot, lambda: app.state.campaigns_listed)
    return app


# -- the rules, without a terminal -----------------------------------------------------


def test_the_mirrored_lines_are_recognised_and_others_are_not() -> None:
    def log(logger: str, message: str) -> ControlEvent:
        return ControlEvent("log", 1.0, _log(logger, message))

    assert mirror_of(log("metad.budget", f"budget alert: {ALERT}")) == Mirror(("budget", ALERT))
    assert mirror_of(log("metad.chip", QUALITY)) == Mirror(
        ("chip", PNIDS[0]), "(webhook): phone_number_quality_update"
    )
    assert mirror_of(log("metad.chip", f"chip {PNIDS[0]}: poll failed: 500")) is None
    assert mirror_of(log("metad.webhook", "budget alert: not the budget's")) is None
    assert mirror_of(ControlEvent("budget", 1.0, _alert())) is None


def test_a_backlog_batch_leaves_out_the_mirrors_whose_twin_it_has() -> None:
    mirrored = ControlEvent("log", 1.0, _log("metad.budget", f"budget alert: {ALERT}"))
    alert = ControlEvent("budget", 1.1, _alert())
    lonely = ControlEvent("log", 2.0, _log("metad.budget", "budget alert: another"))
    chip = ControlEvent("log", 3.0, _log("metad.chip", QUALITY))  # chip events: never kept
    assert without_paired([mirrored, alert, lonely, chip]) == [alert, lonely, chip]


def test_held_mirrors_pair_with_their_twin_once() -> None:
    held = HeldMirrors()
    first, second = (ControlEvent("log", at, {}) for at in (1.0, 2.0))
    key = ("chip", "1")
    assert held.hold(first, Mirror(key, "(a)")) is None
    assert held.hold(second, Mirror(key, "(b)")) is first  # displaced: logged at once
    assert not held.release(key, first)
    assert held.take(key) == Mirror(key, "(b)")
    assert not held.release(key, second)  # its twin came: nothing left to log
    assert len(held) == 0


def test_a_campaign_is_logged_when_it_starts_or_changes_state() -> None:
    running, paused = Campaign("c", state="running"), Campaign("c", state="paused")
    assert state_change(None, running, known=True) == "started"
    assert state_change(None, running, known=False) is None  # running before the console
    assert state_change(None, paused, known=True) is None
    assert state_change(paused, running, known=True) == "paused → running"
    assert state_change(running, running, known=True) is None


# -- the console -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_budget_alert_is_one_line() -> None:
    fake = FakeControlClient()
    app = make_console(fake, mirror_hold_s=HOLD)
    async with app.run_test(size=(120, 40)) as pilot:
        await _connected(pilot)
        before = len(app.state.entries)
        fake.push("log", _log("metad.budget", f"budget alert: {ALERT}"), at=EPOCH + 10)
        fake.push("budget", _alert(), at=EPOCH + 10.01)
        await wait_until(pilot, lambda: len(app.state.budget_alerts) == 1)
        await pilot.pause(HOLD * 2)  # past the hold: the mirror does not come back
        lines = _lines(app, before)
        assert [(e.kind, e.source, e.message) for e in lines] == [("budget", "global day", ALERT)]


@pytest.mark.asyncio
async def test_a_rating_change_is_one_line_with_its_cause() -> None:
    fake = FakeControlClient()
    app = make_console(fake, mirror_hold_s=HOLD)
    async with app.run_test(size=(120, 40)) as pilot:
        await _connected(pilot)
        before = len(app.state.entries)
        fake.push("log", _log("metad.chip", QUALITY), at=EPOCH + 10)
        fake.push("chip", dict(fake.chip(PNIDS[0]), quality_rating="YELLOW", mode="SLOWED"),
                  at=EPOCH + 10.5)  # fmt: skip
        await wait_until(pilot, lambda: app.state.chips[PNIDS[0]].quality_rating == "YELLOW")
        await pilot.pause(HOLD * 2)
        lines = _lines(app, before)
        assert [(e.level, e.kind, e.message) for e in lines] == [
            ("warning", "chip", "quality GREEN → YELLOW; mode FULL → SLOWED "
                                "(webhook): phone_number_quality_update"),
        ]  # fmt: skip


@pytest.mark.asyncio
async def test_log_only_warnings_and_unpaired_mirrors_still_show() -> None:
    """A warning with no event of its own shows at once; a mirror whose event never
    comes (another daemon announced the alert, or the connection ended before the chip
    event) shows once its hold ends."""
    fake = FakeControlClient()
    app = make_console(fake, mirror_hold_s=HOLD)
    async with app.run_test(size=(120, 40)) as pilot:
        await _connected(pilot)
        before = len(app.state.entries)
        fake.push("log", _log("metad.webhook", "signature rejected"), at=EPOCH + 10)
        fake.push("log", _log("metad.budget", "budget alert: announced elsewhere"),
                  at=EPOCH + 11)  # fmt: skip
        fake.push("log", _log("metad.chip", QUALITY), at=EPOCH + 12)
        await wait_until(pilot, lambda: len(_lines(app, before)) == 1)
        assert _lines(app, before)[0].message == "signature rejected"
        fake.disconnect()  # the chip event never comes
        await wait_until(pilot, lambda: len(_lines(app, before)) == 3)
        messages = [e.message for e in _lines(app, before)]
        assert messages == ["signature rejected", "budget alert: announced elsewhere", QUALITY]
        await pilot.pause(HOLD * 2)
        assert len(_lines(app, before)) == 3


@pytest.mark.asyncio
async def test_the_backlog_shows_each_happening_once() -> None:
    """Before the console connected: a budget alert's pair is one line; a rating change
    (whose chip event the daemon does not keep) is its mirrored line."""
    fake = FakeControlClient()
    fake.backlog = [
        {"kind": "log", "at": EPOCH - 30, "data": _log("metad.budget", f"budget alert: {ALERT}")},
        {"kind": "budget", "at": EPOCH - 29.9, "data": _alert()},
        {"kind": "log", "at": EPOCH - 20, "data": _log("metad.chip", QUALITY)},
    ]  # fmt: skip
    app = make_console(fake, mirror_hold_s=HOLD)
    async with app.run_test(size=(120, 40)) as pilot:
        await _connected(pilot)
        await wait_until(pilot, lambda: len(_lines(app)) == 2)
        await pilot.pause(HOLD * 2)
        assert [(e.kind, e.message) for e in _lines(app)] == [("budget", ALERT), ("log", QUALITY)]
        count = [e.message for e in app.state.entries if "earlier event" in e.message]
        assert count[0].startswith("2 earlier events from the daemon")


@pytest.mark.asyncio
async def test_a_mirror_held_when_the_connection_ended_meets_its_twin_in_the_backlog() -> None:
    fake = FakeControlClient()
    app = make_console(fake, mirror_hold_s=1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await _connected(pilot)
        before = len(app.state.entries)
        mirrored = {"kind": "log", "at": EPOCH + 10,
                    "data": _log("metad.budget", f"budget alert: {ALERT}")}  # fmt: skip
        fake.push(mirrored["kind"], mirrored["data"], at=mirrored["at"])
        await wait_until(pilot, lambda: len(app.state.mirrors) == 1)
        fake.disconnect()
        fake.backlog = [mirrored, {"kind": "budget", "at": EPOCH + 10.2, "data": _alert()}]
        fake.connect()  # the alert was published while the console was away
        await wait_until(pilot, lambda: len(app.state.budget_alerts) == 1)
        await pilot.pause(1.2)  # past the mirror's hold
        assert [(e.kind, e.message) for e in _lines(app, before)] == [("budget", ALERT)]
        assert fake.sent("events.recent")[-1] == {"after": EPOCH + 10}


@pytest.mark.asyncio
async def test_a_campaign_that_starts_is_logged_once_whoever_shows_it_first() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await _connected(pilot)
        assert not [e for e in app.state.entries if e.kind == "campaign"]  # the list: no news
        summer = campaign("c-summer", "Summer sale", "running", 100)
        fake.push("campaign.progress", summer, at=EPOCH + 10)  # its first progress report
        await wait_until(pilot, lambda: "c-summer" in app.state.campaigns)
        fake.campaigns.append(summer)
        app.fetch("campaigns")  # the poll sees it too: nothing new
        fake.push("campaign.progress", dict(summer, sent=10), at=EPOCH + 11)
        # Started between two polls, listed before its first progress report arrives.
        fake.campaigns.append(campaign("c-autumn", "Autumn sale", "running", 50))
        app.fetch("campaigns")
        await wait_until(pilot, lambda: "c-autumn" in app.state.campaigns)
        fake.push("campaign.progress", fake.campaigns[-1], at=EPOCH + 12)
        fake.push("campaign.progress", dict(fake.campaigns[1], state="running"), at=EPOCH + 13)
        await wait_until(pilot, lambda: app.state.campaigns["c-winback"].state == "running")
        await pilot.pause(0.1)
        lines = [(e.source, e.message) for e in app.state.entries if e.kind == "campaign"]
        assert lines == [("Summer sale", "started"), ("Autumn sale", "started"),
                         ("Win-back", "paused → running")]  # fmt: skip
