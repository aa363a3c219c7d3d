"""The budget's checkpoints against PostgreSQL: a coordinator restarted from one has the
totals of one that replays the whole journal, and the store keeps only the last few."""

from __future__ import annotations

import datetime as dt
import logging
import time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trio

from actors.budget.coordinator import CHECKPOINT_EVERY_S, BudgetCoordinator
from actors.budget.ledger import Ledger
from actors.budget.messages import BudgetClient, BudgetMsg, GetBudget, Settle
from actors.budget.values import Caps
from actors.core import Mailbox, open_mailbox
from actors.policy.pricing import PriceTable
from actors.ports import Booking
from config.model import PricingConfig
from daemon.store import Store
from tests.unit.actors.budget.fakes import Pricing

pytestmark = [pytest.mark.postgres, pytest.mark.trio]

COST = Decimal("0.0625")
TZ = ZoneInfo("America/Sao_Paulo")


def _daytime() -> float:
    """10:00 today in the ledger's time zone (yesterday's before then): the tests move
    their clock up to an hour on, and from a real "now" after 23:00 there that crossed
    midnight, into a day whose totals hold none of the bookings (a clean-clone run at
    23:05 in São Paulo failed)."""
    now = dt.datetime.now(TZ)
    ten = now.replace(hour=10, minute=0, second=0, microsecond=0)
    return (ten if ten <= now else ten - dt.timedelta(days=1)).timestamp()


async def _status(store: Store, clock: list[float], shared: bool) -> dict[str, Any]:
    """Start a coordinator on ``store``, read its totals, stop it."""
    async with trio.open_nursery() as nursery:
        client, box = await _budget(nursery, store, clock, shared)
        status: dict[str, Any] = await box.address.call(lambda r: GetBudget(reply=r))
        box.close()
    del client
    return status


async def _budget(
    nursery: trio.Nursery, store: Store, clock: list[float], shared: bool, catch_up_s: float = 1.0
) -> tuple[BudgetClient, Mailbox[BudgetMsg]]:
    box: Mailbox[BudgetMsg] = open_mailbox("budget")
    actor = BudgetCoordinator(
        ledger=lambda: Ledger(tz=TZ, caps=Caps(daily=Decimal(100))),
        prices=PriceTable.from_config(PricingConfig()),
        journal=store.budget_journal,
        inbox=box.inbox,
        now=lambda: clock[0],
        shared=store.budget_journal if shared else None,
        catch_up_s=catch_up_s,
    )
    await nursery.start(actor.run)
    return BudgetClient(box.address), box


def _totals(status: dict[str, Any]) -> dict[str, tuple[Decimal, Decimal]]:
    return {
        k: (Decimal(status[k]["spent"]), Decimal(status[k]["reserved"]))
        for k in ("day", "week", "month")
    }


@pytest.mark.parametrize("shared", [False, True], ids=["one daemon", "shared caps"])
async def test_a_restart_from_the_checkpoint_has_the_journals_totals(
    store: Store, caplog: pytest.LogCaptureFixture, shared: bool
) -> None:
    # Refs the reconciliation leaves alone ("x:", not an outbox row's "o:").
    clock = [_daytime()]
    async with trio.open_nursery() as nursery:
        client, box = await _budget(nursery, store, clock, shared)
        assert (
            await client.reserve([Booking(f"x:{n}", COST, "200", None) for n in range(5)])
            == [None] * 5
        )
        await client.release("x:0")
        clock[0] += CHECKPOINT_EVERY_S + 1  # the next batch stores a checkpoint
        await box.address.call(lambda r: GetBudget(reply=r))
        with trio.fail_after(5):
            while await store.fetchval("SELECT count(*) FROM budget_checkpoints") == 0:
                await trio.sleep(0.02)
        # After the checkpoint: more bookings, one of them released.
        assert (
            await client.reserve([Booking(f"x:{n}", COST, "200", None) for n in (5, 6, 7)])
            == [None] * 3
        )
        await client.release("x:6")
        before: dict[str, Any] = await box.address.call(lambda r: GetBudget(reply=r))
        box.close()
    assert Decimal(before["day"]["reserved"]) == 6 * COST

    # A clean stop wrote a checkpoint of everything: the restart replays nothing after it.
    with caplog.at_level(logging.INFO, logger="metad.budget"):
        restored = await _status(store, clock, shared)
    assert "restored from checkpoint 10 and 0 entries after it" in caplog.text
    assert _totals(restored) == _totals(before)

    # Without it, the hourly one: four entries came after it.
    caplog.clear()
    await store.execute("DELETE FROM budget_checkpoints WHERE position = 10")
    with caplog.at_level(logging.INFO, logger="metad.budget"):
        restored = await _status(store, clock, shared)
    assert "restored from checkpoint 6 and 4 entries after it" in caplog.text
    assert _totals(restored) == _totals(before)

    await store.execute("DELETE FROM budget_checkpoints")
    replayed = await _status(store, clock, shared)
    assert _totals(replayed) == _totals(before)


async def test_the_store_keeps_the_last_three_checkpoints_and_reads_after_one(
    store: Store,
) -> None:
    journal = store.budget_journal
    now = time.time()
    entries = [
        {"op": "reserve", "id": f"x:{n}", "amount": "0.0625", "at": now - 10 + n} for n in range(6)
    ]
    first = await journal.save_entries(entries[:3])
    last = await journal.save_entries(entries[3:])
    assert first is not None
    assert last is not None
    assert last > first
    for position in range(1, 6):
        await journal.save_checkpoint(position, {"at": now, "n": position})
    kept = await store.fetch("SELECT position FROM budget_checkpoints ORDER BY position")
    assert [r["position"] for r in kept] == [3, 4, 5]
    latest = await journal.latest_checkpoint()
    assert latest == (5, {"at": now, "n": 5})

    after, high = await journal.entries_after(first)
    assert [e["id"] for e in after] == ["x:3", "x:4", "x:5"]
    assert high == last


async def _outbox_row(store: Store) -> int:
    await store.execute(
        "INSERT INTO wabas (waba_id) VALUES ('200') ON CONFLICT DO NOTHING;"
        "INSERT INTO chips (phone_number_id, waba_id, display_number)"
        " VALUES ('555', '200', '+1') ON CONFLICT DO NOTHING"
    )
    outbox_id: int = await store.fetchval(
        "INSERT INTO outbox (chip, wa_id, kind, payload, state)"
        " VALUES ('555', '5511999990001', 'template', '{}', 'sent') RETURNING id"
    )
    return outbox_id


@pytest.mark.parametrize("shared", [False, True], ids=["one daemon", "shared caps"])
async def test_a_later_price_after_a_restart_replaces_the_earlier_one(
    store: Store, shared: bool
) -> None:
    """The restart holds no settled message (it replays nothing before its checkpoint);
    the coordinator recalls it from the journal, and the totals are a replay's."""
    clock = [_daytime()]
    ref = f"o:{await _outbox_row(store)}"
    async with trio.open_nursery() as nursery:
        client, box = await _budget(nursery, store, clock, shared)
        assert await client.reserve([Booking(ref, COST, "200", None)]) == [None]
        await box.address.cast(Settle(id=ref, pricing=Pricing(), wa_id="5511999990001"))
        first: dict[str, Any] = await box.address.call(lambda r: GetBudget(reply=r))
        box.close()
    clock[0] += 60
    async with trio.open_nursery() as nursery:
        client, box = await _budget(nursery, store, clock, shared)
        for category in ("marketing", "utility"):  # the same price again, then another
            await box.address.cast(
                Settle(id=ref, pricing=Pricing(category=category), wa_id="5511999990001")
            )
        second: dict[str, Any] = await box.address.call(lambda r: GetBudget(reply=r))
        box.close()
    kinds = [r["kind"] for r in await store.fetch("SELECT kind FROM budget_ledger ORDER BY id")]
    assert kinds == ["reservation", "settlement", "settlement"]
    prev = await store.fetchval("SELECT prev_usd FROM budget_ledger ORDER BY id DESC LIMIT 1")
    assert prev == Decimal(first["day"]["spent"])
    assert Decimal(0) < Decimal(second["day"]["spent"]) < Decimal(first["day"]["spent"])
    await store.execute("DELETE FROM budget_checkpoints")
    replayed = await _status(store, clock, shared)
    assert _totals(replayed) == _totals(second)


async def test_two_daemons_settling_one_message_restart_to_one_price(store: Store) -> None:
    """Shared caps: daemon A books and settles a message; daemon C, which has not caught
    up, settles it too (Meta sent its statuses to both). A stops (a checkpoint after its
    own settlement), and the node that starts next restores that checkpoint and replays
    C's settlement after it: the message counts once, not twice (seen once in a 3-node
    run: a checkpoint at twice the settlements' sum)."""
    clock = [_daytime()]
    ref = f"o:{await _outbox_row(store)}"
    price = Pricing(category="marketing")
    async with trio.open_nursery() as outer:
        c_client, c_box = await _budget(outer, store, clock, True, catch_up_s=3600)
        async with trio.open_nursery() as nursery:
            client, box = await _budget(nursery, store, clock, True, catch_up_s=3600)
            assert await client.reserve([Booking(ref, COST, "200", None)]) == [None]
            await box.address.cast(Settle(id=ref, pricing=price, wa_id="5511999990001"))
            one: dict[str, Any] = await box.address.call(lambda r: GetBudget(reply=r))
            box.close()
        await c_box.address.cast(Settle(id=ref, pricing=price, wa_id="5511999990001"))
        await c_box.address.call(lambda r: GetBudget(reply=r))
        with trio.fail_after(5):
            while (
                await store.fetchval("SELECT count(*) FROM budget_ledger WHERE kind = 'settlement'")
                < 2
            ):
                await trio.sleep(0.02)
        restarted = await _status(store, clock, True)
        c_box.close()
        del c_client
    assert Decimal(one["day"]["spent"]) > 0
    assert _totals(restarted) == _totals(one)


async def test_recall_reads_the_last_settlement_and_when_the_message_was_booked(
    store: Store,
) -> None:
    journal = store.budget_journal
    now = time.time()
    ids = [await _outbox_row(store) for _ in range(4)]
    settled, old_form, released, held = ids
    await journal.save_entries(
        [
            {"op": "reserve", "id": f"o:{settled}", "amount": "0.0625", "at": now - 50},
            {"op": "settle", "id": f"o:{settled}", "amount": "0.0625", "at": now - 40,
             "booked_at": now - 50, "waba": "200"},
            {"op": "settle", "id": f"o:{settled}", "amount": "0.0310", "at": now - 30,
             "booked_at": now - 50, "prev": "0.0625", "waba": "200"},
            # Written before settlements said when the message was booked (0016).
            {"op": "reserve", "id": f"o:{old_form}", "amount": "0.0625", "at": now - 20},
            {"op": "settle", "id": f"o:{old_form}", "amount": "0.0800", "at": now - 10},
            {"op": "reserve", "id": f"o:{released}", "amount": "0.0625", "at": now - 9},
            {"op": "release", "id": f"o:{released}", "amount": "0.0625", "at": now - 8},
            {"op": "reserve", "id": f"o:{held}", "amount": "0.0625", "at": now - 7},
        ]
    )  # fmt: skip
    found = {r["id"]: r for r in await journal.settled(ids)}
    assert set(found) == {f"o:{settled}", f"o:{old_form}"}
    assert Decimal(found[f"o:{settled}"]["amount"]) == Decimal("0.0310")
    assert found[f"o:{settled}"]["booked_at"] == pytest.approx(now - 50)
    assert found[f"o:{settled}"]["waba"] == "200"
    assert found[f"o:{old_form}"]["booked_at"] == pytest.approx(now - 20)
    # Up to a position: what the ledger holds with shared caps.
    position = await store.fetchval("SELECT min(id) FROM budget_ledger") + 1
    early = await journal.settled([settled], upto=position)
    assert [Decimal(r["amount"]) for r in early] == [Decimal("0.0625")]
    assert await journal.last_message() == max(ids)
    assert await journal.last_message(upto=position) == settled
