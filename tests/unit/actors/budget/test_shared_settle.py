"""Two daemons sharing caps settle the same message: the journal they write must replay
to one price, also from a checkpoint taken between the two settlements (a restart)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import trio
from trio.testing import MockClock

from actors.budget.ledger import Ledger
from actors.budget.messages import GetBudget, Settle
from actors.budget.settle_order import SettleOrder
from actors.budget.values import GLOBAL, LedgerEntry
from actors.ports import Booking
from config.model import BudgetConfig
from tests.unit.actors.budget.fakes import Outbox, Pricing, SharedMemory, SharedView, start_budget

D = Decimal
SP = ZoneInfo("America/Sao_Paulo")
NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC).timestamp()
WA_ID = "5511999990001"


def clock() -> float:
    return NOW + trio.current_time()


def spent(entries: list[dict[str, Any]]) -> Decimal:
    ledger = Ledger.from_config(BudgetConfig(), SP)
    ledger.replay(LedgerEntry.from_json(e) for e in entries)
    return ledger.usage(GLOBAL, "day", clock()).spent


def spent_after_restart(entries: list[dict[str, Any]], position: int) -> Decimal:
    """A ledger restored from a checkpoint taken at ``position``, then the entries after."""
    before = Ledger.from_config(BudgetConfig(), SP)
    before.replay(LedgerEntry.from_json(e) for e in entries[:position])
    restored = Ledger.from_config(BudgetConfig(), SP)
    restored.restore(before.checkpoint(clock()))
    restored.replay(LedgerEntry.from_json(e) for e in entries[position:])
    return restored.usage(GLOBAL, "day", clock()).spent


async def test_a_settlement_made_before_learning_another_daemons_replays_once(
    autojump_clock: MockClock,
) -> None:
    """Daemon A reserves o:7 and settles it; daemon C, which learnt the reservation but
    not yet A's settlement, settles it too. C's entry is written after A's, so it must
    say what it replaces: a restart from a checkpoint between the two (where the
    settled message is no longer held) would otherwise book the price a second time."""
    shared = SharedMemory(Outbox())
    async with trio.open_nursery() as nursery:
        _, a, a_box = await start_budget(nursery, SharedView(shared), None, now=clock, shared=True)
        _, _, c_box = await start_budget(nursery, SharedView(shared), None, now=clock, shared=True)
        assert await a.reserve([Booking("o:7", D("0.0625"), "w1", "c1")]) == [None]
        await trio.sleep(1.5)  # C's catch-up: it holds the reservation too
        await a_box.address.cast(Settle(id="o:7", pricing=Pricing(), wa_id=WA_ID))
        await trio.sleep(0.1)  # A's settlement is written; C has not caught up yet
        assert shared.ops("o:7") == ["reserve", "settle"]
        await c_box.address.cast(Settle(id="o:7", pricing=Pricing(), wa_id=WA_ID))
        await c_box.address.call(lambda r: GetBudget(reply=r))
        await trio.sleep(0.1)
        a_box.close()
        c_box.close()
        nursery.cancel_scope.cancel()
    entries = shared.entries
    assert [e["op"] for e in entries] == ["reserve", "settle", "settle"]
    price = spent(entries[:2])
    assert price > 0
    assert spent(entries) == price
    assert spent_after_restart(entries, 2) == price


async def test_a_later_price_from_the_other_daemon_leaves_both_ledgers_at_the_journals(
    autojump_clock: MockClock,
) -> None:
    """Meta re-categorised the message: A settled it as marketing, C (not knowing) as
    utility, written after A's. Every replay, and C's own ledger, end at C's price."""
    shared = SharedMemory(Outbox())
    async with trio.open_nursery() as nursery:
        _, a, a_box = await start_budget(nursery, SharedView(shared), None, now=clock, shared=True)
        _, _, c_box = await start_budget(nursery, SharedView(shared), None, now=clock, shared=True)
        assert await a.reserve([Booking("o:7", D("0.0625"), "w1", "c1")]) == [None]
        await trio.sleep(1.5)
        await a_box.address.cast(Settle(id="o:7", pricing=Pricing(), wa_id=WA_ID))
        await trio.sleep(0.1)
        utility = Pricing(category="utility")
        await c_box.address.cast(Settle(id="o:7", pricing=utility, wa_id=WA_ID))
        c_status: dict[str, Any] = await c_box.address.call(lambda r: GetBudget(reply=r))
        await trio.sleep(2)  # A catches up with C's price
        a_status: dict[str, Any] = await a_box.address.call(lambda r: GetBudget(reply=r))
        a_box.close()
        c_box.close()
        nursery.cancel_scope.cancel()
    entries = shared.entries
    journal = spent(entries)
    assert journal != spent(entries[:2])  # the two prices differ
    assert spent_after_restart(entries, 2) == journal
    assert D(c_status["day"]["spent"]) == journal
    assert D(a_status["day"]["spent"]) == journal


async def test_a_price_for_a_reservation_not_yet_learnt_is_booked_after_it(
    autojump_clock: MockClock,
) -> None:
    """Meta's status for A's message reached daemon C before C's catch-up learnt the
    reservation: C books the price as a message of its own, then learns the reservation
    under the lock. It must not crash ("journal reserves twice"), and it counts the
    message once, as the journal does (reservation first, C's settlement after it)."""
    shared = SharedMemory(Outbox())
    async with trio.open_nursery() as nursery:
        _, a, a_box = await start_budget(nursery, SharedView(shared), None, now=clock, shared=True)
        _, _, c_box = await start_budget(
            nursery, SharedView(shared), None, now=clock, shared=True, catch_up_s=3600
        )
        assert await a.reserve([Booking("o:7", D("0.0625"), "w1", "c1")]) == [None]
        await c_box.address.cast(Settle(id="o:7", pricing=Pricing(), wa_id=WA_ID))
        await trio.sleep(0.1)
        c_status: dict[str, Any] = await c_box.address.call(lambda r: GetBudget(reply=r))
        a_box.close()
        c_box.close()
        nursery.cancel_scope.cancel()
    entries = shared.entries
    assert [e["op"] for e in entries] == ["reserve", "settle"]
    # Written where the message was booked: campaign status sums the campaign's rows.
    assert (entries[1].get("waba"), entries[1].get("campaign")) == ("w1", "c1")
    price = spent(entries)
    assert price > 0
    assert D(c_status["day"]["spent"]) == price
    assert D(c_status["day"]["reserved"]) == 0
    assert spent_after_restart(entries, 1) == price


def test_what_no_unwritten_entry_can_concern_is_forgotten() -> None:
    order = SettleOrder()
    first, second = order.made(), order.made()
    other = LedgerEntry(op="settle", id="o:1", amount=D("0.05"), at=NOW, booked_at=NOW - 5)
    order.applied(other)
    late = order.made()
    ours = LedgerEntry(op="settle", id="o:1", amount=D("0.03"), at=NOW + 1)
    rewritten = LedgerEntry(
        op="settle", id="o:1", amount=D("0.03"), at=NOW + 1, prev=D("0.05"), booked_at=NOW - 5
    )
    assert order.as_written(ours, second) == (rewritten, True)
    assert order.as_written(ours, late) == (ours, False)  # made knowing of the other's
    order.written(first)
    assert len(order) == 1  # the second entry, made before it, is not written yet
    order.written(second)
    assert len(order) == 0
