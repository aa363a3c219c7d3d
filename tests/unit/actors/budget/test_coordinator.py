"""The budget coordinator's own upkeep: what it keeps in memory over a long run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import trio
import trio.testing

from actors.budget.coordinator import PRUNE_EVERY_S, BudgetCoordinator
from actors.budget.ledger import RETAIN_SETTLED_S, Ledger
from actors.budget.messages import BudgetClient, BudgetMsg, GetBudget, Settle
from actors.core import Mailbox, open_mailbox
from actors.policy.pricing import PriceTable
from actors.ports import Booking
from config.model import BudgetConfig, PricingConfig
from tests.unit.actors.budget.fakes import MemoryJournal, Pricing

D = Decimal
SP = ZoneInfo("America/Sao_Paulo")
NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC).timestamp()


async def test_settled_messages_past_retention_are_forgotten_as_messages_flow() -> None:
    clock = [NOW]
    box: Mailbox[BudgetMsg] = open_mailbox("budget")
    actor = BudgetCoordinator(
        ledger=lambda: Ledger.from_config(BudgetConfig(), SP),
        prices=PriceTable.from_config(PricingConfig()),
        journal=MemoryJournal(),
        inbox=box.inbox,
        now=lambda: clock[0],
    )
    client = BudgetClient(box.address)

    async def book(ref: str) -> None:
        assert (await client.reserve([Booking(ref, D("0.0625"), None, None)]))[0] is None
        await box.address.cast(Settle(id=ref, pricing=Pricing(), wa_id="5511999990001"))
        await box.address.call(lambda r: GetBudget(reply=r))  # the settle is handled

    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run)
        await book("o:1")
        await book("o:2")
        assert len(actor.ledger) == 2
        clock[0] += RETAIN_SETTLED_S + 1  # past retention, and past the next prune
        await book("o:3")
        assert len(actor.ledger) == 1  # o:1 and o:2 forgotten, o:3 kept
        clock[0] += PRUNE_EVERY_S / 2  # not yet time for the next pass
        await book("o:4")
        assert len(actor.ledger) == 2
        box.close()


class _SharedJournal(MemoryJournal):
    """Caps shared with other daemons (none here): the journal read under its lock."""

    async def load_marked(self, since: float) -> tuple[list[dict[str, Any]], int]:
        return await self.load_entries(since), len(self.entries)

    async def serialized(
        self, after_id: int, decide: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
    ) -> int:
        await trio.sleep(0)
        self.entries.extend(decide(self.entries[after_id:]))
        return len(self.entries)


async def test_with_shared_caps_the_actor_ends_when_its_mailbox_closes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Its catch-up with the other daemons' bookings used to outlive the mailbox, so the
    actor never returned by itself."""
    journal = _SharedJournal()
    box: Mailbox[BudgetMsg] = open_mailbox("budget")
    actor = BudgetCoordinator(
        ledger=lambda: Ledger.from_config(BudgetConfig(), SP),
        prices=PriceTable.from_config(PricingConfig()),
        journal=journal,
        inbox=box.inbox,
        now=lambda: NOW,
        shared=journal,
        catch_up_s=0.5,
    )
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run)
            client = BudgetClient(box.address)
            assert (await client.reserve([Booking("o:1", D("0.0625"), None, None)]))[0] is None
            await trio.sleep(2)  # a few catch-ups
            box.close()
    assert [e["op"] for e in journal.entries] == ["reserve"]
