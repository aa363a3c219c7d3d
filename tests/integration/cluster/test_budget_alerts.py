"""Budget alerts fire once per (scope, period, threshold) in the whole fleet.

Two budget coordinators book against the same caps through one PostgreSQL, as two
daemons do; each sees the same threshold crossed, and only one announces it. A node
that starts later (a restart, a failover) announces nothing again.
"""

from __future__ import annotations

import time
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import trio

from actors.budget.coordinator import BudgetCoordinator
from actors.budget.ledger import Ledger
from actors.budget.messages import BudgetClient, BudgetMsg
from actors.budget.values import Caps
from actors.core import Mailbox, open_mailbox
from actors.policy.pricing import PriceTable
from actors.ports import Booking
from config.model import PricingConfig
from daemon.budget_alerts import OncePerFleet
from daemon.store import Store

Published = list[tuple[str, dict[str, Any]]]


def _ledger() -> Ledger:
    return Ledger(tz=ZoneInfo("UTC"), caps=Caps(daily=Decimal(1)), alert_at=(Decimal("0.5"),))


async def _node(
    nursery: trio.Nursery, store: Store, name: str, published: Published
) -> tuple[BudgetClient, OncePerFleet]:
    gate = OncePerFleet(
        lambda kind, data: published.append((kind, data)),
        partial(store.budget_journal.claim_alerts, node=name),
    )
    await nursery.start(gate.run)
    box: Mailbox[BudgetMsg] = open_mailbox(f"budget-{name}")
    coordinator = BudgetCoordinator(
        ledger=_ledger,
        prices=PriceTable.from_config(PricingConfig()),
        journal=store.budget_journal,
        inbox=box.inbox,
        now=time.time,
        publish=gate.publish,
        shared=store.budget_journal,
        catch_up_s=3600,  # neither learns of the other's booking before its own
    )
    await nursery.start(coordinator.run)
    return BudgetClient(box.address), gate


def _alerts(published: Published) -> list[str]:
    return [data["threshold"] for kind, data in published if kind == "budget"]


async def _settle(*gates: OncePerFleet) -> None:
    with trio.fail_after(5):
        while sum(g.announced + g.elsewhere for g in gates) < len(gates):
            await trio.sleep(0.01)


async def test_two_daemons_crossing_one_threshold_announce_it_once(store: Store) -> None:
    seen_a: Published = []
    seen_b: Published = []
    async with trio.open_nursery() as nursery:
        a, gate_a = await _node(nursery, store, "a", seen_a)
        b, gate_b = await _node(nursery, store, "b", seen_b)
        # Each books half the daily cap: each one's ledger sees 50 % reached by its own
        # booking; together they fit the cap, so both are booked.
        assert (await a.reserve([Booking("o:1", Decimal("0.5"), None, None)]))[0] is None
        assert (await b.reserve([Booking("o:2", Decimal("0.5"), None, None)]))[0] is None
        await _settle(gate_a, gate_b)
        assert sorted(_alerts(seen_a) + _alerts(seen_b)) == ["0.5"]
        assert (gate_a.announced + gate_b.announced, gate_a.elsewhere + gate_b.elsewhere) == (1, 1)

        # A daemon started later (a restart, the leader elsewhere) rebuilds from the
        # journal and announces nothing; offered the same alert, it stays quiet too.
        seen_c: Published = []
        _, gate_c = await _node(nursery, store, "c", seen_c)
        alert = next(data for kind, data in seen_a + seen_b if kind == "budget")
        gate_c.publish("budget", dict(alert))
        gate_c.publish("chip", {"id": "x"})  # anything else passes straight through
        await _settle(gate_c)
        assert seen_c == [("chip", {"id": "x"})]
        # The next period starts afresh.
        gate_c.publish("budget", {**alert, "period_key": "day:2999-01-01"})
        with trio.fail_after(5):
            while gate_c.announced < 1:
                await trio.sleep(0.01)
        assert [d["period_key"] for k, d in seen_c if k == "budget"] == ["day:2999-01-01"]
        rows = await store.fetch("SELECT scope, period_key, threshold, node FROM budget_alerts")
        assert len(rows) == 2
        nursery.cancel_scope.cancel()
