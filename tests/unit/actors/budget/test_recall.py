"""A start that restores a checkpoint holds no settled message, yet a later price for one
replaces its earlier price instead of counting again: the coordinator recalls it from
the journal first (:mod:`actors.budget.recall`), and asks only when it must.

Why: a start used to replay the 8 days of journal before its checkpoint to hold those
messages again, minutes of start-up at a million messages a day.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import trio

from actors.budget.coordinator import BudgetCoordinator
from actors.budget.ledger import Ledger
from actors.budget.messages import BudgetClient, BudgetMsg, GetBudget, Settle
from actors.budget.recall import SETTLED_MEMORY_S
from actors.budget.values import GLOBAL
from actors.core import Mailbox, open_mailbox
from actors.policy.pricing import PriceTable
from actors.ports import Booking
from config.model import BudgetConfig, PricingConfig
from tests.unit.actors.budget.fakes import Pricing, RecallJournal

D = Decimal
SP = ZoneInfo("America/Sao_Paulo")
NOW = dt.datetime(2026, 11, 16, 10, 0, tzinfo=SP).timestamp()
WA_ID = "5511999990001"
MARKETING = Pricing()
UTILITY = Pricing(category="utility")


class Daemon:
    """One coordinator over ``journal``; ``clock`` is shared across restarts."""

    def __init__(self, journal: RecallJournal, clock: list[float]) -> None:
        self.box: Mailbox[BudgetMsg] = open_mailbox("budget")
        self.actor = BudgetCoordinator(
            ledger=lambda: Ledger.from_config(BudgetConfig(), SP),
            prices=PriceTable.from_config(PricingConfig()),
            journal=journal,
            inbox=self.box.inbox,
            now=lambda: clock[0],
        )
        self.client = BudgetClient(self.box.address)

    async def settle(self, ref: str, pricing: Pricing) -> None:
        await self.box.address.cast(Settle(id=ref, pricing=pricing, wa_id=WA_ID))
        await self.box.address.call(lambda r: GetBudget(reply=r))  # handled

    def spent(self, at: float) -> Decimal:
        return self.actor.ledger.usage(GLOBAL, "month", at).spent


async def test_a_price_after_a_restart_replaces_the_one_before_it() -> None:
    journal, clock = RecallJournal(), [NOW]
    first = Daemon(journal, clock)
    async with trio.open_nursery() as nursery:
        await nursery.start(first.actor.run)
        assert await first.client.reserve([Booking("o:1", D("0.0625"), None, None)]) == [None]
        await first.settle("o:1", MARKETING)
        marketing = first.spent(NOW)
        first.box.close()  # a clean stop: its checkpoint holds everything
    assert marketing > 0
    clock[0] += 3600

    again = Daemon(journal, clock)
    async with trio.open_nursery() as nursery:
        await nursery.start(again.actor.run)
        assert not again.actor.ledger.knows("o:1")  # nothing replayed at the start
        await again.settle("o:1", MARKETING)  # ``delivered`` after ``sent``: the same
        assert again.spent(NOW) == marketing
        assert journal.ops("o:1") == ["reserve", "settle"]  # nothing more journalled
        await again.settle("o:1", UTILITY)  # re-categorised: replaces it
        with trio.fail_after(5):
            while len(journal.entries) < 3:  # the writer journals it after the reply
                await trio.sleep(0.001)
        utility = again.spent(NOW)
        assert D(0) < utility < marketing
        assert journal.ops("o:1") == ["reserve", "settle", "settle"]
        assert journal.entries[-1]["prev"] == str(marketing)
        again.box.close()
    assert journal.recalls == [[1]]  # once: then the ledger held it

    # A third start replays nothing either, and agrees.
    third = Daemon(journal, clock)
    async with trio.open_nursery() as nursery:
        await nursery.start(third.actor.run)
        assert third.spent(NOW) == utility
        third.box.close()


async def test_a_message_sent_since_the_start_is_never_looked_up() -> None:
    """Outbox ids grow: a free message's first price (unknown, above every id the
    journal had at the start) costs no query."""
    journal, clock = RecallJournal(), [NOW]
    daemon = Daemon(journal, clock)
    async with trio.open_nursery() as nursery:
        await nursery.start(daemon.actor.run)
        for n in range(1, 4):
            await daemon.settle(f"o:{n}", Pricing(billable=False))
        daemon.box.close()
    assert journal.recalls == []


async def test_a_forgotten_message_is_recalled() -> None:
    """The ledger keeps settled messages a day once it can recall them; a late price
    for an older one is looked up, not counted again."""
    journal, clock = RecallJournal(), [NOW]
    daemon = Daemon(journal, clock)
    async with trio.open_nursery() as nursery:
        await nursery.start(daemon.actor.run)
        assert await daemon.client.reserve([Booking("o:7", D("0.0625"), None, None)]) == [None]
        await daemon.settle("o:7", MARKETING)
        spent = daemon.spent(NOW)
        clock[0] += SETTLED_MEMORY_S + 3600  # the next batch prunes it
        await daemon.box.address.call(lambda r: GetBudget(reply=r))
        assert not daemon.actor.ledger.knows("o:7")
        await daemon.settle("o:7", MARKETING)
        assert daemon.spent(NOW) == spent
        assert journal.ops("o:7") == ["reserve", "settle"]
        daemon.box.close()
    assert journal.recalls == [[7]]
