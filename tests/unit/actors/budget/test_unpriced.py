"""A message Meta accepted whose price never came is settled at its estimate once its
reservation is ``[budget] unpriced_settle_days`` old: the pure rule
(``actors.budget.reconcile.to_settle``), the ledger's settlement and how a restart and
a checkpoint read it back, a price that comes after all, and the coordinator's
reconciliation on one daemon and on two sharing a journal."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trio
from trio.testing import MockClock

from actors.budget.coordinator import BudgetCoordinator
from actors.budget.ledger import UNPRICED_SETTLE_S, Ledger
from actors.budget.messages import BudgetClient, BudgetMsg, GetBudget, Settle
from actors.budget.periods import PERIODS
from actors.budget.reconcile import ACCEPTED, NEVER_CHARGED, RowState, to_settle
from actors.budget.values import GLOBAL, LedgerEntry, Scope
from actors.core import Mailbox
from actors.ports import Booking
from config.model import BudgetConfig
from tests.unit.actors.budget.fakes import (
    MemoryJournal,
    Outbox,
    Pricing,
    SharedMemory,
    SharedView,
    start_budget,
)

D = Decimal
SP = ZoneInfo("America/Sao_Paulo")
DAY = 86400.0
HOLD = 7 * DAY
NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC).timestamp()
COST = D("0.0625")
UTILITY = D("0.0068")  # what PricingConfig() charges a Brazilian utility template
WA_ID = "5511999990001"


def at(day: int, hour: int = 12, month: int = 11) -> float:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=dt.UTC).timestamp()


# --------------------------------------------------------------------------- the rule


def test_accepted_states_are_those_meta_charges_for() -> None:
    assert frozenset({"accepted", "sent", "delivered", "read"}) == ACCEPTED
    assert not ACCEPTED & NEVER_CHARGED


def test_a_reservation_is_settled_from_exactly_the_hold_on() -> None:
    rows = {i: RowState("accepted", 0.0) for i in range(1, 4)}
    held = {"o:1": NOW - HOLD, "o:2": NOW - HOLD + 0.001, "o:3": NOW - HOLD - DAY}
    got = to_settle(held, rows, hold_s=HOLD, now=NOW, reused={}, read_at=NOW)
    assert got == ["o:1", "o:3"]


def test_only_messages_meta_accepted_are_settled() -> None:
    states = ["accepted", "sent", "delivered", "read"]
    states += ["queued", "sending", "in_doubt", "cancelled", "failed"]
    rows = {i: RowState(state, 999 * DAY) for i, state in enumerate(states, 1)}
    held = {f"o:{i}": NOW - 30 * DAY for i in range(1, len(states) + 2)}  # the last: no row
    held["otp:1"] = NOW - 30 * DAY  # not an outbox message
    got = to_settle(held, rows, hold_s=HOLD, now=NOW, reused={}, read_at=NOW)
    assert got == ["o:1", "o:2", "o:3", "o:4"]


def test_a_reservation_reused_since_the_rows_were_read_is_not_settled() -> None:
    rows = {1: RowState("accepted", 0.0), 2: RowState("accepted", 0.0)}
    held = {"o:1": NOW - HOLD, "o:2": NOW - HOLD}
    reused = {"o:1": NOW, "o:2": NOW - 1.0}
    assert to_settle(held, rows, hold_s=HOLD, now=NOW, reused=reused, read_at=NOW) == ["o:2"]


# --------------------------------------------------------------------------- the ledger


def test_the_hold_comes_from_the_config() -> None:
    assert Ledger(tz=SP).unpriced_settle_s == UNPRICED_SETTLE_S == 8 * DAY
    cfg = BudgetConfig(unpriced_settle_days=7.5)
    assert Ledger.from_config(cfg, SP).unpriced_settle_s == 7.5 * DAY


def test_settle_estimate_spends_the_estimate_in_the_reservations_periods() -> None:
    ledger = Ledger(tz=SP)
    reserved_at = at(10)
    ledger.reserve("o:1", COST, reserved_at, waba="w1", campaign="c1")
    assert ledger.reserved_at("o:1") == reserved_at
    settled = ledger.settle_estimate("o:1")
    assert settled is not None
    assert settled.entry is not None
    assert settled.entry == LedgerEntry(
        op="settle",
        id="o:1",
        amount=COST,
        at=reserved_at,
        waba="w1",
        campaign="c1",
        booked_at=reserved_at,
    )
    assert ledger.reserved_at("o:1") is None
    for scope in (GLOBAL, Scope.waba("w1"), Scope.campaign("c1")):
        usage = ledger.usage(scope, "day", reserved_at)
        assert (usage.spent, usage.reserved) == (COST, 0)
    assert ledger.settle_estimate("o:1") is None  # settled already
    assert ledger.settle_estimate("o:2") is None  # never held
    ledger.reserve("o:3", COST, reserved_at)
    ledger.release("o:3", reserved_at + 1)
    assert ledger.settle_estimate("o:3") is None  # released


def test_a_price_that_comes_after_all_replaces_the_estimate() -> None:
    """Meta's price arrives after the settlement at the estimate (a status delivered
    late): the ledger books the difference, once, and a replay agrees."""
    ledger, entries = Ledger(tz=SP), []
    reserved_at = at(10)
    entries.append(ledger.reserve("o:1", COST, reserved_at).entry)  # type: ignore[union-attr]
    settled = ledger.settle_estimate("o:1")
    assert settled is not None
    assert settled.entry is not None
    entries.append(settled.entry)
    late = ledger.settle("o:1", UTILITY, reserved_at + HOLD + 3600)
    assert late.previous == COST
    assert late.entry is not None
    entries.append(late.entry)
    assert ledger.settle("o:1", UTILITY, reserved_at + HOLD + 7200).entry is None  # again
    for kind in PERIODS:
        usage = ledger.usage(GLOBAL, kind, reserved_at)
        assert (usage.spent, usage.reserved) == (UTILITY, 0)
    replayed = Ledger(tz=SP)
    replayed.replay(entries)
    assert replayed.usage(GLOBAL, "month", reserved_at) == ledger.usage(
        GLOBAL, "month", reserved_at
    )


def _restarts(
    entries: list[LedgerEntry], checkpoints: dict[int, dict[str, Any]], now: float
) -> list[Ledger]:
    """The ledgers a start at ``now`` rebuilds: by replay, and from each checkpoint
    (taken after entry ``position``) with the journal after it."""
    replayed = Ledger(tz=SP)
    replayed.replay(e for e in entries if e.at >= replayed.replay_from(now))
    out = [replayed]
    for position, data in checkpoints.items():
        restored = Ledger(tz=SP)
        restored.restore(data)
        restored.replay(entries[position:])
        out.append(restored)
    return out


@pytest.mark.parametrize(
    ("reserved_at", "restart_at"),
    [
        (at(30, month=10), at(8)),  # reserved last month: out of every replay at restart
        (at(30, month=10), at(7, 13)),
        (at(10), at(19)),  # reserved this month: replayed with its settlement
        (at(10), at(25)),
    ],
)
def test_a_restart_and_a_checkpoint_restore_agree_with_the_running_ledger(
    reserved_at: float, restart_at: float
) -> None:
    """Stamped with its reservation's time, the settlement is replayed (or left out)
    together with the reservation; stamped when it was made, a replay that starts
    between the two would book it anew in the restart's periods."""
    ledger, entries = Ledger(tz=SP), []
    checkpoints: dict[int, dict[str, Any]] = {}
    for ref, when in (("o:1", reserved_at), ("o:2", reserved_at + 3600)):
        booked = ledger.reserve(ref, COST, when, waba="w1", campaign="c1")
        entries.append(booked.entry)  # type: ignore[union-attr]
    settled_at = reserved_at + UNPRICED_SETTLE_S + 60
    checkpoints[len(entries)] = ledger.checkpoint(settled_at - 1)  # before: o:1 held
    settled = ledger.settle_estimate("o:1")
    assert settled is not None
    assert settled.entry is not None
    entries.append(settled.entry)
    checkpoints[len(entries)] = ledger.checkpoint(settled_at + 1)  # after: o:1 spent
    young = ledger.reserve("o:3", COST, restart_at - 60, waba="w1", campaign="c1")
    entries.append(young.entry)  # type: ignore[union-attr]
    ledger.prune(restart_at)

    for rebuilt in _restarts(entries, checkpoints, restart_at):
        for scope in (GLOBAL, Scope.waba("w1"), Scope.campaign("c1")):
            for kind in PERIODS:
                assert rebuilt.usage(scope, kind, restart_at) == ledger.usage(
                    scope, kind, restart_at
                ), (scope, kind)
        assert rebuilt.reserved("o:1") is None


# --------------------------------------------------------------------------- the actor


def clock() -> float:
    return NOW + trio.current_time()


async def _start(
    nursery: trio.Nursery, journal: MemoryJournal, outbox: Outbox, *, shared: bool = False
) -> tuple[BudgetCoordinator, BudgetClient, Mailbox[BudgetMsg]]:
    return await start_budget(
        nursery,
        journal,
        outbox,
        now=clock,
        cfg=BudgetConfig(unpriced_settle_days=7),
        shared=shared,
        catch_up_s=3600,  # days pass in these tests
        every_s=3600,
    )


async def _book(client: BudgetClient, *ids: int) -> None:
    answers = await client.reserve([Booking(f"o:{i}", COST, "w1", "c1") for i in ids])
    assert answers == [None] * len(ids)


async def test_accepted_messages_without_a_price_are_settled_at_their_estimate(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="metad.budget")
    journal, outbox = MemoryJournal(), Outbox()
    async with trio.open_nursery() as nursery:
        actor, client, box = await _start(nursery, journal, outbox)
        booked_at = clock()
        await _book(client, 1, 2, 3, 4)
        for oid, state in [(1, "accepted"), (2, "delivered"), (3, "in_doubt"), (4, "queued")]:
            outbox.set(oid, state)
        await trio.sleep(DAY)
        await _book(client, 5)  # a day younger
        outbox.set(5, "read")
        await trio.sleep(HOLD - DAY - 3600)
        assert [e["op"] for e in journal.entries] == ["reserve"] * 5  # not yet
        await trio.sleep(2 * 3600)  # the next pass
        settles = [e for e in journal.entries if e["op"] == "settle"]
        assert [(e["id"], e["amount"], e["at"]) for e in settles] == [
            ("o:1", str(COST), booked_at),
            ("o:2", str(COST), booked_at),
        ]
        assert [actor.ledger.reserved(f"o:{i}") for i in range(1, 6)] == [
            None,
            None,
            COST,  # in doubt: the operator's call
            COST,  # queued: not Meta's yet
            COST,  # not yet held for 7 days
        ]
        assert "settled 2 reservation(s) at their estimate (0.1250 USD)" in caplog.text

        # Meta's price for o:2 comes after all, a utility price: it replaces the estimate.
        await box.address.cast(Settle(id="o:2", pricing=Pricing(category="utility"), wa_id=WA_ID))
        await box.address.call(lambda r: GetBudget(reply=r))
        month = actor.ledger.usage(GLOBAL, "month", booked_at)
        assert (month.spent, month.reserved) == (COST + UTILITY, 3 * COST)
        await trio.sleep(DAY)  # o:5's turn
        assert actor.ledger.reserved("o:5") is None
        box.close()
    assert journal.ops("o:2") == ["reserve", "settle", "settle"]
    assert journal.ops("o:3") == ["reserve"]
    replayed = Ledger(tz=SP)
    replayed.replay(LedgerEntry.from_json(e) for e in journal.entries)
    assert replayed.usage(GLOBAL, "month", booked_at) == actor.ledger.usage(
        GLOBAL, "month", booked_at
    )


async def test_two_daemons_settle_an_unpriced_message_once(autojump_clock: MockClock) -> None:
    outbox = Outbox()
    shared = SharedMemory(outbox)
    async with trio.open_nursery() as nursery:
        a, a_client, _ = await _start(nursery, SharedView(shared), outbox, shared=True)
        b, _, _ = await _start(nursery, SharedView(shared), outbox, shared=True)
        booked_at = clock()
        await _book(a_client, 1)
        outbox.set(1, "sent")
        await trio.sleep(HOLD + 2 * 3600)  # both daemons' passes see it due
        assert a.ledger.reserved("o:1") is None
        assert b.ledger.reserved("o:1") is None
        for ledger in (a.ledger, b.ledger):
            assert ledger.usage(GLOBAL, "month", booked_at).spent == COST
        nursery.cancel_scope.cancel()
    assert shared.ops("o:1") == ["reserve", "settle"]
