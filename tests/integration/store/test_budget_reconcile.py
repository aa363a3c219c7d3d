"""Budget reservations of messages that will not be charged go back, against PostgreSQL.

The budget coordinator runs on the real journal (``budget_ledger``) and reads the real
outbox: after a crash cancelled what a chip held, after the operator dropped or re-sent
a message in doubt, after Meta failed one by webhook, what is reserved falls back to
what live sends hold, on one daemon and on two sharing the journal. And a message Meta
accepted whose price never came is settled at its estimate once the hold has passed.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trio

from actors.budget.coordinator import BudgetCoordinator
from actors.budget.ledger import UNPRICED_SETTLE_S, Ledger
from actors.budget.messages import BudgetClient, BudgetMsg, GetBudget, Reconcile
from actors.budget.values import GLOBAL, Caps
from actors.core import Mailbox, open_mailbox
from actors.policy.pricing import PriceTable
from actors.ports import Booking, OutboxRow
from config.model import PricingConfig
from daemon.store import Store
from daemon.store.outbox import StatusChange
from tests.integration.store.support import CHIP, running_campaign

pytestmark = [pytest.mark.postgres, pytest.mark.trio]

COST = Decimal("0.0625")


async def _campaign(store: Store, keys: list[str]) -> None:
    """:func:`running_campaign`, every recipient handed to :data:`CHIP`."""
    await running_campaign(store, keys)
    await store.campaigns.claim("c1", limit=len(keys), stale_s=60)


async def _journal(store: Store, *keys: str) -> list[int]:
    rows = [OutboxRow(CHIP, k, "template", {"to": k}, {}, "c1", k) for k in keys]
    ids = await store.chip_journal.outbox_new(rows)
    assert None not in ids
    return [i for i in ids if i is not None]


async def _budget(
    nursery: trio.Nursery, store: Store, *, shared: bool = False, name: str = "budget"
) -> tuple[BudgetClient, Mailbox[BudgetMsg]]:
    """A budget on the wall clock (see :func:`_budget_at`)."""
    _, client, box = await _budget_at(nursery, store, time.time, shared=shared, name=name)
    return client, box


async def _reserve(client: BudgetClient, *ids: int) -> None:
    bookings = [Booking(f"o:{i}", COST, "200", "c1") for i in ids]
    assert await client.reserve(bookings) == [None] * len(ids)


async def _reserved(box: Mailbox[BudgetMsg]) -> Decimal:
    status: dict[str, Any] = await box.address.call(lambda r: GetBudget(reply=r))
    return Decimal(status["day"]["reserved"])


async def _until_reserved(box: Mailbox[BudgetMsg], amount: Decimal) -> None:
    with trio.fail_after(5):
        while await _reserved(box) != amount:
            await trio.sleep(0.05)


async def _journalled(store: Store) -> dict[str, list[str]]:
    rows = await store.fetch("SELECT ref, kind FROM budget_ledger ORDER BY id")
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["ref"], []).append(r["kind"])
    return out


async def test_a_crash_a_drop_a_resend_and_a_failure_give_their_reservations_back(
    store: Store,
) -> None:
    await _campaign(store, ["r1", "r2", "r3", "r4", "r5"])
    queued, dropped, resent, failed, live = await _journal(store, "r1", "r2", "r3", "r4", "r5")
    async with trio.open_nursery() as nursery:
        client, box = await _budget(nursery, store)
        await _reserve(client, queued, dropped, resent, failed, live)
        await store.chip_journal.outbox_sending([dropped, resent, failed, live])
        await store.chip_journal.outbox_set(failed, "accepted", wamid="wamid.4")
        await store.chip_journal.outbox_set(live, "accepted", wamid="wamid.5")
        box.close()  # the daemon dies here ...

    await store.chip_journal.settle_abandoned(CHIP)  # ... its chip restarts: r1 never
    pending = await store.fetch(  # reached Meta, and is pending again at once
        "SELECT recipient_key FROM campaign_recipients WHERE campaign_id = 'c1'"
        " AND state = 'pending'"
    )
    assert [r["recipient_key"] for r in pending] == ["r1"]
    assert await store.campaigns.recover("c1") == 0  # nothing left for a runner's start
    async with trio.open_nursery() as nursery:
        client, box = await _budget(nursery, store)  # the budget restarts
        # r1 was cancelled by the restart: released; r2 and r3 are in doubt, r4 and r5
        # accepted: they may still be charged.
        await _until_reserved(box, 4 * COST)
        progress = await store.campaigns.progress("c1")
        assert progress["reserved"] == pytest.approx(float(4 * COST))

        assert await store.campaigns.resolve_in_doubt("c1", "r2", "drop") == dropped
        assert await store.campaigns.resolve_in_doubt("c1", "r3", "resend") == resent
        await box.address.cast(Reconcile(refs=(f"o:{dropped}", f"o:{resent}")))
        await _until_reserved(box, 2 * COST)

        # The re-send takes its cancelled row over (same outbox id) and books afresh.
        assert await _journal(store, "r3") == [resent]
        await _reserve(client, resent)
        assert await _reserved(box) == 3 * COST

        # Meta fails r4 after accepting it: a status webhook, no price.
        await store.outbox.apply_statuses([StatusChange("wamid.4", "failed", failed)])
        await _until_reserved(box, 2 * COST)  # r3's new attempt and r5
        await trio.sleep(0.5)  # more passes change nothing
        assert await _reserved(box) == 2 * COST
        box.close()

    journalled = await _journalled(store)
    assert journalled[f"o:{queued}"] == ["reservation", "release"]
    assert journalled[f"o:{dropped}"] == ["reservation", "release"]
    assert journalled[f"o:{resent}"] == ["reservation", "release", "reservation"]
    assert journalled[f"o:{failed}"] == ["reservation", "release"]
    assert journalled[f"o:{live}"] == ["reservation"]
    progress = await store.campaigns.progress("c1")
    assert progress["reserved"] == pytest.approx(float(2 * COST))


async def test_two_daemons_release_a_cancelled_message_once(store: Store) -> None:
    """Both reconcile the same journal and outbox: one release row, and both ledgers
    fall back to what the live send holds."""
    await _campaign(store, ["r1", "r2"])
    cancelled, live = await _journal(store, "r1", "r2")
    async with trio.open_nursery() as nursery:
        a, a_box = await _budget(nursery, store, shared=True, name="budget-a")
        _, b_box = await _budget(nursery, store, shared=True, name="budget-b")
        await _reserve(a, cancelled, live)
        await _until_reserved(b_box, 2 * COST)  # B learnt A's bookings
        await store.chip_journal.settle_abandoned(CHIP)  # both rows cancelled ...
        await store.chip_journal.outbox_new(  # ... and r2 taken over by a new attempt
            [OutboxRow(CHIP, "r2", "template", {"to": "r2"}, {}, "c1", "r2")]
        )
        await _until_reserved(a_box, COST)
        await _until_reserved(b_box, COST)
        await trio.sleep(0.5)
        assert (await _reserved(a_box), await _reserved(b_box)) == (COST, COST)
        a_box.close()
        b_box.close()
        nursery.cancel_scope.cancel()  # the catch-up loops
    journalled = await _journalled(store)
    assert journalled[f"o:{cancelled}"] == ["reservation", "release"]
    assert journalled[f"o:{live}"] == ["reservation"]


# --------------------------------------------------------------------------- never priced

T0 = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC).timestamp()
"""When the messages below are reserved: their settlement 8 days later is in the same
month, so a restart's "month" shows both."""


async def _budget_at(
    nursery: trio.Nursery,
    store: Store,
    now: Callable[[], float],
    *,
    shared: bool = False,
    name: str,
) -> tuple[BudgetCoordinator, BudgetClient, Mailbox[BudgetMsg]]:
    box: Mailbox[BudgetMsg] = open_mailbox(name)
    actor = BudgetCoordinator(
        ledger=lambda: Ledger(tz=ZoneInfo("UTC"), caps=Caps(daily=Decimal(10))),
        prices=PriceTable.from_config(PricingConfig()),
        journal=store.budget_journal,
        inbox=box.inbox,
        now=now,
        shared=store.budget_journal if shared else None,
        catch_up_s=0.1,
        reconcile_every_s=0.2,
        reconcile_grace_s=0.0,
    )
    await nursery.start(actor.run)
    return actor, BudgetClient(box.address), box


async def _month(box: Mailbox[BudgetMsg]) -> tuple[Decimal, Decimal]:
    status: dict[str, Any] = await box.address.call(lambda r: GetBudget(reply=r))
    return Decimal(status["month"]["spent"]), Decimal(status["month"]["reserved"])


@pytest.mark.parametrize("shared", [False, True], ids=["one daemon", "two daemons"])
async def test_an_accepted_message_never_priced_is_settled_at_its_estimate(
    store: Store, shared: bool
) -> None:
    """r1 was accepted and its status webhooks were lost; r2 is in doubt. Past the hold
    r1 is settled once at its estimate, stamped like its reservation; a restart (from
    the checkpoint, and by replay) has the same month."""
    await _campaign(store, ["r1", "r2"])
    accepted, in_doubt = await _journal(store, "r1", "r2")
    await store.chip_journal.outbox_sending([accepted, in_doubt])
    await store.chip_journal.outbox_set(accepted, "accepted", wamid="wamid.1")
    await store.chip_journal.settle_abandoned(CHIP)  # r2: in doubt
    clock = [T0]
    async with trio.open_nursery() as nursery:
        a, client, a_box = await _budget_at(
            nursery, store, lambda: clock[0], shared=shared, name="budget-a"
        )
        daemons, boxes = [a], [a_box]
        if shared:
            b, _, b_box = await _budget_at(
                nursery, store, lambda: clock[0], shared=True, name="budget-b"
            )
            daemons.append(b)
            boxes.append(b_box)
        await _reserve(client, accepted, in_doubt)
        await trio.sleep(0.5)  # passes before the hold change nothing
        clock[0] = T0 + UNPRICED_SETTLE_S - 1
        await trio.sleep(0.5)
        assert (await _journalled(store))[f"o:{accepted}"] == ["reservation"]
        clock[0] = T0 + UNPRICED_SETTLE_S
        with trio.fail_after(5):
            while any(d.ledger.reserved(f"o:{accepted}") is not None for d in daemons):
                await trio.sleep(0.05)
        await trio.sleep(0.5)  # more passes, on both daemons, book nothing more
        assert await _month(a_box) == (COST, COST)
        for d in daemons:
            assert d.ledger.usage(GLOBAL, "month", T0).spent == COST
        for box in boxes:
            box.close()  # a clean stop: a checkpoint
    journalled = await _journalled(store)
    assert journalled[f"o:{accepted}"] == ["reservation", "settlement"]
    assert journalled[f"o:{in_doubt}"] == ["reservation"]
    rows = await store.fetch(
        "SELECT amount_usd, extract(epoch FROM at)::float8 AS at FROM budget_ledger"
        " WHERE ref = $1 ORDER BY id",
        f"o:{accepted}",
    )
    assert [(r["amount_usd"], r["at"]) for r in rows] == [(COST, T0), (COST, T0)]

    clock[0] += 60
    assert await store.fetchval("SELECT count(*) FROM budget_checkpoints") > 0
    for _restart in ("from the checkpoint", "by replay"):
        async with trio.open_nursery() as nursery:
            again, _, box = await _budget_at(
                nursery, store, lambda: clock[0], shared=shared, name="again"
            )
            assert await _month(box) == (COST, COST)
            assert again.ledger.reserved(f"o:{accepted}") is None
            box.close()
        await store.execute("DELETE FROM budget_checkpoints")
    assert (await _journalled(store))[f"o:{accepted}"] == ["reservation", "settlement"]
