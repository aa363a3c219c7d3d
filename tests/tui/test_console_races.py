"""The races a tester saw in the console, with the fake client answering in the racing
order (the rules behind them: tests/tui/test_race_rules.py).

A budget alert published across a reconnection showed twice; a ``campaign.list`` answer
and a ``campaign.progress`` event that overtook each other logged a transition that never
happened, or stepped the counts back. Each campaign version here carries the daemon's
``as_of`` stamp (when its figures were taken), which the console orders them by.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.tui.fakes import (
    BUDGET_ALERT,
    EPOCH,
    FakeControlClient,
    budget_alert,
    budget_mirror,
    make_console,
    wait_until,
    wire,
)
from tui.app import MetadConsole


def _budget_lines(app: MetadConsole) -> list[tuple[str, str]]:
    return [(e.kind, e.message) for e in app.state.entries if "budget" in e.message.lower()
            or e.kind == "budget"]  # fmt: skip


async def _connected(pilot: Any) -> MetadConsole:
    app: MetadConsole = pilot.app
    await wait_until(pilot, lambda: app.state.connected and app.state.campaigns_listed)
    return app


@pytest.mark.asyncio
async def test_console_an_alert_across_a_reconnection_is_one_line() -> None:
    fake = FakeControlClient()
    app = make_console(fake, mirror_hold_s=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await _connected(pilot)
        fake.disconnect()
        mirror, alert = budget_mirror(EPOCH + 10), budget_alert(EPOCH + 10.001)
        fake.backlog = [wire(mirror), wire(alert)]
        fake.connect()  # the mirror came while away, the alert after subscribing:
        fake.push(alert.kind, alert.data, at=alert.at)  # live too, applied with the snapshot
        await wait_until(pilot, lambda: len(fake.sent("events.recent")) == 2)
        await pilot.pause(0.5)
        assert _budget_lines(app) == [("budget", BUDGET_ALERT)]


@pytest.mark.asyncio
async def test_console_an_alert_in_the_backlog_then_live_is_one_line() -> None:
    fake = FakeControlClient()
    app = make_console(fake, mirror_hold_s=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await _connected(pilot)
        fake.disconnect()
        mirror, alert = budget_mirror(EPOCH + 10), budget_alert(EPOCH + 10.001)
        fake.backlog = [wire(mirror), wire(alert)]
        fake.connect()
        await wait_until(pilot, lambda: bool(_budget_lines(app)))  # from the backlog
        for event in (mirror, alert):  # their live copies, behind the backlog's answer
            fake.push(event.kind, event.data, at=event.at)
        await pilot.pause(0.5)
        assert _budget_lines(app) == [("budget", BUDGET_ALERT)]


def _campaign_lines(app: MetadConsole) -> list[str]:
    return [e.message for e in app.state.entries if e.kind == "campaign"]


@pytest.mark.asyncio
async def test_console_a_list_that_overtook_an_event_logs_no_phantom_transition() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await _connected(pilot)
        spring = dict(fake.campaigns[0], as_of=EPOCH + 10)  # running, before the pause
        paused = dict(spring, state="paused", as_of=EPOCH + 11)  # the pause's own event
        fake.campaigns[0] = dict(paused, as_of=EPOCH + 12)
        app.fetch("campaigns")
        await wait_until(pilot, lambda: app.state.campaigns["c-spring"].state == "paused")
        fake.push("campaign.progress", spring, at=EPOCH + 10)  # written after the list
        fake.push("campaign.progress", paused, at=EPOCH + 11)
        await pilot.pause(0.3)
        assert app.state.campaigns["c-spring"].state == "paused"
        assert _campaign_lines(app) == ["running → paused"]
        fake.push("campaign.progress", dict(spring, as_of=EPOCH + 13), at=EPOCH + 13)
        await wait_until(pilot, lambda: app.state.campaigns["c-spring"].state == "running")
        assert _campaign_lines(app) == ["running → paused", "paused → running"]  # resumed


@pytest.mark.asyncio
async def test_console_a_list_counted_before_an_event_does_not_regress_it() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await _connected(pilot)
        spring = dict(fake.campaigns[0])
        fake.campaigns[0] = dict(spring, as_of=EPOCH + 10)  # what the list will answer
        fake.gates["campaign.list"] = gate = asyncio.Event()
        app.fetch("campaigns")  # on its way, counted before what follows
        await wait_until(pilot, lambda: len(fake.sent("campaign.list")) == 2)
        newer = dict(spring, state="paused", sent=spring["sent"] + 10, as_of=EPOCH + 11)
        fake.push("campaign.progress", newer, at=EPOCH + 11)
        await wait_until(pilot, lambda: app.state.campaigns["c-spring"].state == "paused")
        gate.set()
        await wait_until(pilot, lambda: "campaigns" not in app._fetching)
        await pilot.pause(0.1)
        held = app.state.campaigns["c-spring"]
        assert (held.state, held.sent) == ("paused", spring["sent"] + 10)
        assert _campaign_lines(app) == ["running → paused"]


@pytest.mark.asyncio
async def test_console_a_pause_answer_is_not_undone_by_an_event_from_before_it() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await _connected(pilot)
        spring = dict(fake.campaigns[0], as_of=EPOCH + 10)  # published before the pause
        fake.campaigns[0]["as_of"] = EPOCH + 11  # the pause's answer: counted after it
        fake.gates["campaign.list"] = asyncio.Event()  # no list after the answer: only it
        app.request_campaign("pause", "c-spring")
        await pilot.pause(0.1)
        await pilot.press("enter")  # confirmed
        await wait_until(pilot, lambda: app.state.campaigns["c-spring"].state == "paused")
        fake.push("campaign.progress", spring, at=EPOCH + 10)
        await pilot.pause(0.3)
        assert app.state.campaigns["c-spring"].state == "paused"
        assert _campaign_lines(app) == []
