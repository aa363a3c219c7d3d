"""Events are applied once per frame: state takes each one, a row is written once."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterable
from typing import Any

import pytest

from tests.tui.fakes import PNIDS, FakeControlClient, cells, make_console, wait_until
from tui.client import ConnectionStatus, ControlEvent, LinkState
from tui.inbox import FRAME_S, Changes, Inbox, SnapshotArrived
from tui.model import Chip
from tui.widgets import FleetTable


def test_the_inbox_keeps_order_and_counts_only_events_against_its_bound() -> None:
    inbox = Inbox(max_events=2)
    status = ConnectionStatus(LinkState.CONNECTED, "x")
    assert inbox.put(status)
    assert inbox.put(ControlEvent("chip", 1.0, {}))
    assert inbox.put(SnapshotArrived({}))
    assert inbox.put(ControlEvent("chip", 2.0, {}))
    assert not inbox.put(ControlEvent("chip", 3.0, {}))  # the third event is one too many
    assert inbox.drop_events() == 3
    assert inbox.take() == [status, SnapshotArrived({})]
    assert len(inbox) == 0


def test_connection_changes_the_console_only_shows_are_replaced_by_the_next() -> None:
    """A daemon that stays down is retried again and again: while the console is busy,
    the reports waiting stay few, and those it logs (an outage's first failure, a
    connection made) stay in order."""
    inbox = Inbox()

    def status(state: LinkState, attempt: int) -> ConnectionStatus:
        return ConnectionStatus(state, "x", "no daemon socket", attempt=attempt)

    lost = status(LinkState.DISCONNECTED, 0)  # after a session: logged
    inbox.put(lost)
    for n in range(1, 1000):
        inbox.put(status(LinkState.CONNECTING, n))
        inbox.put(status(LinkState.DISCONNECTED, n))
    assert inbox.take() == [lost, status(LinkState.DISCONNECTED, 1),
                            status(LinkState.DISCONNECTED, 999)]  # fmt: skip
    event = ControlEvent("log", 1.0, {})
    inbox.put(status(LinkState.CONNECTING, 3))
    inbox.put(event)  # an event between two reports keeps both where they were
    inbox.put(status(LinkState.DISCONNECTED, 3))
    connected = ConnectionStatus(LinkState.CONNECTED, "x")
    inbox.put(connected)
    inbox.put(SnapshotArrived({}))
    assert inbox.take() == [status(LinkState.CONNECTING, 3), event, connected,
                            SnapshotArrived({})]  # fmt: skip


def test_changes_keep_the_version_before_the_frame() -> None:
    a, b, c = (Chip("1", queued=n) for n in range(3))
    changes = Changes()
    assert not changes
    changes.chip(a, b)
    changes.chip(b, c)
    assert changes.chips == {"1": (a, c)}
    assert changes


@pytest.mark.asyncio
async def test_a_burst_writes_each_row_once_and_logs_every_change() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.state.chips) == 5)
        table = app.screen.query_one(FleetTable)
        writes: list[tuple[str, int]] = []
        original = table.update_chips

        def update_chips(chips: Iterable[tuple[Chip, Any]]) -> None:
            batch = list(chips)
            writes.extend((chip.phone_number_id, chip.queued) for chip, _ in batch)
            original(batch)

        table.update_chips = update_chips  # type: ignore[method-assign]
        before = len(app.state.entries)
        base = fake.chip(PNIDS[0])
        for n in range(1, 201):  # between two frames: the client hands them over at once
            quality = "YELLOW" if n in (50, 51, 52) else "GREEN"
            fake.push("chip", dict(base, queued=n, quality_rating=quality))
        await wait_until(pilot, lambda: cells(table, PNIDS[0])[8] == "200+1")
        assert writes == [(PNIDS[0], 200)]
        logged = [e.message for e in list(app.state.entries)[before:]]
        assert logged == ["quality GREEN → YELLOW", "quality YELLOW → GREEN"]


@pytest.mark.asyncio
async def test_a_console_that_falls_behind_resyncs_from_a_snapshot() -> None:
    fake = FakeControlClient()
    app = make_console(fake, max_pending_events=50)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.state.chips) == 5)
        base = fake.chip(PNIDS[0])
        for n in range(51):  # more than the console lets wait between two frames
            fake.push("chip", dict(base, queued=1000 + n))
        assert fake.reconnects == 1
        assert app.inbox.drop_events() == 0  # the waiting events were dropped
        assert any("fell behind" in e.message for e in app.state.entries)
        fake.connect()  # the client's fresh session: a snapshot
        await wait_until(pilot, lambda: app.state.chips[PNIDS[0]].queued == base["queued"])


@pytest.mark.asyncio
async def test_the_collector_is_frozen_once_the_first_snapshot_is_drawn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeControlClient()
    app = make_console(fake, freeze_gc=True)
    frozen: list[int] = []
    monkeypatch.setattr(
        gc, "freeze", lambda: frozen.append(app.screen.query_one(FleetTable).row_count)
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: bool(frozen))
        fake.disconnect()
        fake.connect()  # a second snapshot: nothing more to freeze
        await wait_until(pilot, lambda: app.state.connected)
        await pilot.pause()
        assert frozen == [5]


@pytest.mark.asyncio
async def test_an_event_after_a_quiet_spell_is_applied_at_once_then_one_frame_apart() -> None:
    fake = FakeControlClient()
    app = make_console(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.state.chips) == 5)
        table = app.screen.query_one(FleetTable)
        timers: list[float] = []
        set_timer = app.set_timer

        def recorded(delay: float, callback: Any = None, **kwargs: Any) -> Any:
            timers.append(delay)
            return set_timer(delay, callback, **kwargs)

        app.set_timer = recorded  # type: ignore[method-assign]
        await asyncio.sleep(FRAME_S * 2)  # quiet for longer than a frame
        base = fake.chip(PNIDS[0])
        fake.push("chip", dict(base, queued=7))
        await wait_until(pilot, lambda: cells(table, PNIDS[0])[8] == "7+1")
        assert timers == []  # applied at once, not a frame later
        app._applied_at = time.monotonic()  # as if just applied (a slow machine may lag)
        fake.push("chip", dict(base, queued=8))  # within a frame of the last: waits for it
        await wait_until(pilot, lambda: cells(table, PNIDS[0])[8] == "8+1")
        assert len(timers) == 1
        assert 0 < timers[0] <= FRAME_S


@pytest.mark.asyncio
async def test_a_flood_of_connection_reports_is_applied_once() -> None:
    """Each report used to schedule its own application of the inbox: a client retrying
    without pause queued one callback per report, and memory grew with them."""
    fake = FakeControlClient(connected=False)
    app = make_console(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.state.connection.state is LinkState.DISCONNECTED)
        scheduled: list[object] = []
        call_later = app.call_later

        def recorded(callback: Any, *args: Any, **kwargs: Any) -> bool:
            scheduled.append(callback)
            return call_later(callback, *args, **kwargs)

        app.call_later = recorded  # type: ignore[method-assign]
        for n in range(2, 1002):
            fake.connecting(attempt=n)
            fake.disconnect("no daemon socket", retry_in=0.5, attempt=n)
        assert len(scheduled) == 1
        assert len(app.inbox) <= 3
        fake.connect()
        await wait_until(pilot, lambda: app.state.connected and len(app.state.chips) == 5)
