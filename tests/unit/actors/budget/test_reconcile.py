"""Reservations of messages that can no longer be charged are released: the pure rule
(``actors.budget.reconcile``) and the coordinator's reconciliation against in-memory
outbox rows, on one daemon and on two sharing one journal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import trio
import trio.testing
from trio.testing import MockClock

from actors.budget.messages import BudgetClient, BudgetMsg, GetBudget, Reconcile
from actors.budget.reconcile import NEVER_CHARGED, RowState, outbox_ref, to_release
from actors.core import Mailbox
from actors.ports import Booking
from config.model import BudgetConfig
from tests.unit.actors.budget.fakes import (
    MemoryJournal,
    Outbox,
    SharedMemory,
    SharedView,
    start_budget,
)

D = Decimal
SP = ZoneInfo("America/Sao_Paulo")
NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC).timestamp()
GRACE = 30.0
EVERY = 60.0

# --------------------------------------------------------------------------- the rule


def test_outbox_refs_are_o_and_a_number() -> None:
    assert outbox_ref("o:42") == 42
    assert [outbox_ref(r) for r in ("o:", "o:x1", "x:1", "42", "o:-1")] == [None] * 5


def test_never_charged_states_are_cancelled_and_failed() -> None:
    assert frozenset({"cancelled", "failed"}) == NEVER_CHARGED


def test_only_rows_that_ended_uncharged_a_while_ago_or_are_gone_are_released() -> None:
    rows = {
        1: RowState("cancelled", 31.0),
        2: RowState("failed", 30.0),
        3: RowState("cancelled", 29.0),  # just ended: the send path releases it
        4: RowState("in_doubt", 999.0),  # Meta may have it: may still be charged
        5: RowState("queued", 999.0),
        6: RowState("accepted", 999.0),
        7: RowState("delivered", 999.0),
        # 8: no row at all
    }
    held = [f"o:{i}" for i in range(1, 9)] + ["otp:1"]
    got = to_release(held, rows, grace_s=GRACE, reused={}, read_at=NOW)
    assert got == ["o:1", "o:2", "o:8"]
    every = to_release(held, rows, grace_s=0.0, reused={}, read_at=NOW)
    assert every == ["o:1", "o:2", "o:3", "o:8"]


def test_a_reservation_reused_since_the_rows_were_read_is_kept() -> None:
    rows = {1: RowState("cancelled", 100.0), 2: RowState("cancelled", 100.0)}
    reused = {"o:1": NOW, "o:2": NOW - 0.001}  # o:2 was reused before the reading
    assert to_release(["o:1", "o:2"], rows, grace_s=0.0, reused=reused, read_at=NOW) == ["o:2"]


# --------------------------------------------------------------------------- the actor


def clock() -> float:
    return NOW + trio.current_time()


async def start(
    nursery: trio.Nursery,
    journal: MemoryJournal,
    outbox: Outbox | None,
    *,
    shared: bool = False,
    cfg: BudgetConfig | None = None,
) -> tuple[BudgetClient, Mailbox[BudgetMsg]]:
    _, client, box = await start_budget(
        nursery, journal, outbox, now=clock, cfg=cfg, shared=shared, every_s=EVERY, grace_s=GRACE
    )
    return client, box


async def reserved(box: Mailbox[BudgetMsg]) -> Decimal:
    status = await box.address.call(lambda r: GetBudget(reply=r))
    return D(status["day"]["reserved"])


async def book(client: BudgetClient, *ids: int, amount: str = "0.0625") -> None:
    answers = await client.reserve([Booking(f"o:{i}", D(amount), "w1", "c1") for i in ids])
    assert answers == [None] * len(ids)


# --------------------------------------------------------------------------- one daemon


async def test_a_periodic_pass_releases_what_will_never_be_charged(
    autojump_clock: MockClock,
) -> None:
    """After a restart: rows the crash cancelled, one Meta failed by webhook and one that
    is gone are released; one in doubt, one accepted and one still queued keep theirs."""
    journal, outbox = MemoryJournal(), Outbox()
    async with trio.open_nursery() as nursery:
        client, box = await start(nursery, journal, None)  # before: nothing reconciles
        await book(client, 1, 2, 3, 4, 5, 6)
        box.close()
    for oid, state in [(1, "cancelled"), (2, "failed"), (3, "in_doubt"), (4, "accepted")]:
        outbox.set(oid, state)
    outbox.set(5, "queued")  # (6: no row)
    async with trio.open_nursery() as nursery:  # the daemon restarts, now reconciling
        client, box = await start(nursery, journal, outbox)
        assert await reserved(box) == D("0.375")
        await trio.sleep(GRACE + 1)  # young reservations are left to the send path ...
        assert await reserved(box) == D("0.375")
        await trio.sleep(EVERY)  # ... the next pass sees them
        assert await reserved(box) == D("0.1875")
        box.close()
    assert [e["id"] for e in journal.entries if e["op"] == "release"] == ["o:1", "o:2", "o:6"]


async def test_a_row_cancelled_just_now_waits_for_the_grace_period(
    autojump_clock: MockClock,
) -> None:
    journal, outbox = MemoryJournal(), Outbox()
    async with trio.open_nursery() as nursery:
        client, box = await start(nursery, journal, outbox)
        await book(client, 1)
        await trio.sleep(EVERY - 1)
        outbox.set(1, "cancelled", idle_s=5.0)  # the send path is on it
        await trio.sleep(2)
        assert await reserved(box) == D("0.0625")
        outbox.set(1, "cancelled", idle_s=GRACE)
        await trio.sleep(EVERY)
        assert await reserved(box) == 0
        box.close()


async def test_reconcile_releases_a_resolved_message_at_once_and_only_once(
    autojump_clock: MockClock,
) -> None:
    """The operator dropped it a moment ago: no grace, no wait for the next pass; asking
    again, or the chip's own release arriving late, books nothing more."""
    journal, outbox = MemoryJournal(), Outbox()
    async with trio.open_nursery() as nursery:
        client, box = await start(nursery, journal, outbox)
        await book(client, 7, 8)
        outbox.set(7, "cancelled", idle_s=0.0)
        outbox.set(8, "in_doubt", idle_s=0.0)
        await box.address.cast(Reconcile(refs=("o:7", "o:8", "o:7", "o:99")))
        await box.address.cast(Reconcile(refs=("o:7",)))
        await trio.sleep(1)
        assert await reserved(box) == D("0.0625")  # o:8 may still be charged
        await client.release("o:7")
        await trio.sleep(1)
        box.close()
    assert journal.ops("o:7") == ["reserve", "release"]
    assert journal.ops("o:8") == ["reserve"]


async def test_a_reservation_reused_while_its_row_was_being_read_is_kept(
    autojump_clock: MockClock,
) -> None:
    """A re-send took the cancelled row over (same outbox id) and found its reservation
    held while the reconciliation's reading, made before, said cancelled."""
    journal, outbox = MemoryJournal(), Outbox()
    async with trio.open_nursery() as nursery:
        client, box = await start(nursery, journal, outbox)
        await book(client, 3)
        outbox.set(3, "cancelled", idle_s=0.0)

        async def taken_over() -> None:
            outbox.set(3, "queued", idle_s=0.0)
            await book(client, 3)  # held already: reused

        outbox.during_read = taken_over
        await box.address.cast(Reconcile(refs=("o:3",)))
        await trio.sleep(1)
        assert await reserved(box) == D("0.0625")
        await trio.sleep(EVERY + GRACE)  # later passes read it queued
        assert await reserved(box) == D("0.0625")
        box.close()
    assert journal.ops("o:3") == ["reserve"]


async def test_a_failed_reading_is_retried_by_the_next_pass(autojump_clock: MockClock) -> None:
    journal, outbox = MemoryJournal(), Outbox()
    async with trio.open_nursery() as nursery:
        client, box = await start(nursery, journal, outbox)
        await book(client, 1)
        outbox.set(1, "failed")
        await trio.sleep(GRACE)
        outbox.fail_next = True
        await trio.sleep(EVERY)  # this pass fails; the actor lives on
        assert await reserved(box) == D("0.0625")
        await trio.sleep(EVERY)
        assert await reserved(box) == 0
        box.close()


async def test_without_an_outbox_nothing_is_reconciled(autojump_clock: MockClock) -> None:
    journal = MemoryJournal()
    async with trio.open_nursery() as nursery:
        client, box = await start(nursery, journal, None)
        await book(client, 1)
        await box.address.cast(Reconcile(refs=("o:1",)))
        await trio.sleep(10 * EVERY)
        assert await reserved(box) == D("0.0625")
        box.close()


# --------------------------------------------------------------------------- two daemons


@pytest.mark.parametrize("reconcile_first", [True, False])
async def test_two_daemons_a_release_races_a_re_send_that_reuses_the_reservation(
    autojump_clock: MockClock, reconcile_first: bool
) -> None:
    """Daemon A releases o:5 (cancelled) while daemon B's re-send takes the row over and
    asks for o:5 again: whichever comes first under the lock, B's send ends up holding
    exactly one reservation, and the journal replays to the same total."""
    outbox = Outbox()
    shared = SharedMemory(outbox)
    a_view, b_view = SharedView(shared), SharedView(shared)
    async with trio.open_nursery() as nursery:
        a, a_box = await start(nursery, a_view, outbox, shared=True)
        b, b_box = await start(nursery, b_view, outbox, shared=True)
        await book(a, 5)
        await trio.sleep(2)  # B catches up: it holds o:5 too
        outbox.set(5, "cancelled", idle_s=0.0)

        async def take_over() -> None:
            outbox.set(5, "queued", idle_s=0.0)
            await book(b, 5)

        if reconcile_first:
            await a_box.address.cast(Reconcile(refs=("o:5",)))
            await trio.sleep(0.5)
            await take_over()
        else:
            await take_over()
            await a_box.address.cast(Reconcile(refs=("o:5",)))
        await trio.sleep(3)  # both catch up
        assert await reserved(a_box) == D("0.0625")
        assert await reserved(b_box) == D("0.0625")
        a_box.close()
        b_box.close()
        nursery.cancel_scope.cancel()  # the catch-up loops
    expected = ["reserve", "release", "reserve"] if reconcile_first else ["reserve"]
    assert shared.ops("o:5") == expected


async def test_two_daemons_reconciling_the_same_message_release_it_once(
    autojump_clock: MockClock,
) -> None:
    outbox = Outbox()
    shared = SharedMemory(outbox)
    a_view, b_view = SharedView(shared), SharedView(shared)
    async with trio.open_nursery() as nursery:
        a, a_box = await start(nursery, a_view, outbox, shared=True)
        _, b_box = await start(nursery, b_view, outbox, shared=True)
        await book(a, 9)
        await trio.sleep(2)
        outbox.set(9, "failed")
        await a_box.address.cast(Reconcile(refs=("o:9",)))
        await b_box.address.cast(Reconcile(refs=("o:9",)))
        await trio.sleep(EVERY + GRACE)  # and the periodic passes of both
        assert await reserved(a_box) == 0
        assert await reserved(b_box) == 0
        a_box.close()
        b_box.close()
        nursery.cancel_scope.cancel()
    assert shared.ops("o:9") == ["reserve", "release"]
