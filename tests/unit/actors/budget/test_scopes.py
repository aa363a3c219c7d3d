"""Per-WABA and per-campaign caps: from config, registered at run time, under concurrency."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trio
import trio.testing

from actors.budget.coordinator import BudgetCoordinator
from actors.budget.ledger import Ledger
from actors.budget.messages import (
    BudgetClient,
    BudgetMsg,
    GetBudget,
    Release,
    SetCampaignCap,
    Settle,
)
from actors.budget.values import GLOBAL, Caps, Refusal, Registered, Reservation, Scope, is_recount
from actors.core import Mailbox, open_mailbox
from actors.policy.pricing import PriceTable
from actors.ports import Booking
from config import parse_config
from config.model import BudgetConfig, CampaignBudget, PricingConfig, WabaBudget
from tests.unit.actors.budget.fakes import MemoryJournal, Pricing

D = Decimal
SP = ZoneInfo("America/Sao_Paulo")
NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC).timestamp()


def test_config_caps_reach_the_ledger() -> None:
    cfg = BudgetConfig(
        daily_usd=100.0,
        wabas=[WabaBudget(waba="1", daily_usd=1.0, monthly_usd=20.0)],
        campaigns=[CampaignBudget(campaign="c1", weekly_usd=3.0)],
    )
    lg = Ledger.from_config(cfg, SP)
    assert lg.caps(GLOBAL) == Caps(daily=D("100.0"))
    assert lg.caps(Scope.waba("1")) == Caps(daily=D("1.0"), monthly=D("20.0"))
    assert lg.caps(Scope.campaign("c1")) == Caps(weekly=D("3.0"))
    assert lg.caps(Scope.waba("2")) == Caps()


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ('[[budget.wabas]]\nwaba = "9"\ndaily_usd = 1', 'unknown WABA "9"'),
        (
            '[[budget.wabas]]\nwaba = "1"\ndaily_usd = 5\nweekly_usd = 2',
            "weekly_usd (2) is below daily_usd (5)",
        ),
        (
            '[[budget.campaigns]]\ncampaign = "c"\n[[budget.campaigns]]\ncampaign = "c"',
            'second caps for campaign "c"',
        ),
        ('[budget]\nalert_webhook_url = "ftp://x"', "alert_webhook_url must be an http(s) URL"),
    ],
)
def test_bad_scope_caps_are_config_errors(toml: str, problem: str) -> None:
    with pytest.raises(Exception, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_config(f'[[wabas]]\nid = "1"\n{toml}\n', file="t.toml")


@pytest.mark.parametrize(
    ("scope", "cap", "amounts", "accepted"),
    [
        ("waba", "1.00", ["0.0625"] * 50, 16),
        ("waba", "0.30", ["0.0068"] * 50, 44),
        ("waba", "0", ["0.0625"] * 50, 0),
        ("campaign", "1.00", ["0.0625"] * 50, 16),
        ("campaign", "0.10", ["0.0625", "0.0068"] * 25, 6),
        ("campaign", "0", ["0"] * 50, 50),  # free messages always go
    ],
)
def test_fifty_reservations_at_a_scope_edge_never_exceed_its_cap(
    scope: str, cap: str, amounts: list[str], accepted: int
) -> None:
    # 50 chips racing, serialised by the coordinator: every send is in the capped WABA
    # (or campaign); the global cap is far away, the other scope varies and has no cap.
    lg = Ledger(tz=SP, caps=Caps(daily=D("1000")))
    capped = Scope.waba("w0") if scope == "waba" else Scope.campaign("c0")
    lg.set_caps(capped, Caps(daily=D(cap), weekly=D(cap), monthly=D(cap)))
    results = [
        lg.reserve(f"m{i}", D(a), NOW, waba="w0", campaign=f"c{i % 5 + 1}")
        if scope == "waba"
        else lg.reserve(f"m{i}", D(a), NOW, waba=f"w{i % 5 + 1}", campaign="c0")
        for i, a in enumerate(amounts)
    ]
    booked = [r for r in results if isinstance(r, Reservation)]
    assert len(booked) == accepted
    for kind in ("day", "week", "month"):
        u = lg.usage(capped, kind, NOW)
        assert u.used <= D(cap)
        assert u.used == sum((r.amount for r in booked), D(0))
    assert all(r.cap.scope == capped for r in results if isinstance(r, Refusal))


def test_a_waba_cap_refuses_only_that_wabas_sends_and_names_it() -> None:
    lg = Ledger(tz=SP, caps=Caps(daily=D("10")))
    lg.set_caps(Scope.waba("w1"), Caps(daily=D("0.10")))
    assert isinstance(lg.reserve("a", D("0.0625"), NOW, waba="w1"), Reservation)
    refusal = lg.reserve("b", D("0.0625"), NOW, waba="w1")
    assert isinstance(refusal, Refusal)
    assert refusal.reason.startswith("budget: WABA w1 daily cap would be crossed")
    assert isinstance(lg.reserve("c", D("0.0625"), NOW, waba="w2"), Reservation)


# --------------------------------------------------------------------------- the actor


async def _coordinator(
    nursery: trio.Nursery,
    cfg: BudgetConfig,
    journal: MemoryJournal,
    campaign_caps: dict[str, Registered],
    published: list[dict[str, Any]],
) -> tuple[BudgetClient, Any]:
    box: Mailbox[BudgetMsg] = open_mailbox("budget")
    actor = BudgetCoordinator(
        ledger=lambda: Ledger.from_config(cfg, SP),
        prices=PriceTable.from_config(PricingConfig()),
        journal=journal,
        inbox=box.inbox,
        now=lambda: NOW,
        publish=lambda kind, data: published.append(data),
        campaign_caps=campaign_caps,
    )
    await nursery.start(actor.run)
    return BudgetClient(box.address), box


@pytest.mark.parametrize("scope", ["waba", "campaign"])
async def test_fifty_concurrent_chips_never_cross_a_scope_cap(scope: str) -> None:
    cfg = BudgetConfig(daily_usd=100.0, wabas=[WabaBudget(waba="w1", daily_usd=1.0)])
    journal, published = MemoryJournal(), list[dict[str, Any]]()
    async with trio.open_nursery() as nursery:
        client, box = await _coordinator(nursery, cfg, journal, {}, published)
        if scope == "campaign":
            await client.set_campaign_cap("c1", daily_usd=D("1.0"))
        outcomes: list[str | None] = []

        async def chip(i: int) -> None:
            waba, campaign = ("w1", None) if scope == "waba" else ("w9", "c1")
            outcomes.append(
                (await client.reserve([Booking(f"o:{i}", D("0.0625"), waba, campaign)]))[0]
            )

        async with trio.open_nursery() as chips:
            for i in range(50):
                chips.start_soon(chip, i)
        box.close()
    booked = [o for o in outcomes if o is None]
    assert len(booked) == 16  # 16 x 0.0625 = 1.00, the 17th would cross
    label = "WABA w1" if scope == "waba" else "campaign c1"
    assert all(o.startswith(f"budget: {label} daily cap") for o in outcomes if o is not None)
    reserved = sum(D(e["amount"]) for e in journal.entries if e["op"] == "reserve")
    assert reserved == D("1.0000")
    assert {p["threshold"] for p in published if p["scope"] != "global"} == {
        "0.5",
        "0.8",
        "0.95",
        "1",
    }


async def test_a_campaign_cap_survives_a_restart_of_the_coordinator() -> None:
    cfg = BudgetConfig()
    journal, published = MemoryJournal(), list[dict[str, Any]]()
    caps: dict[str, Registered] = {}
    async with trio.open_nursery() as nursery:
        client, box = await _coordinator(nursery, cfg, journal, caps, published)
        await client.set_campaign_cap("c1", monthly_usd=D("0.10"))
        assert (await client.reserve([Booking("o:1", D("0.0625"), None, "c1")]))[0] is None
        box.close()
    async with trio.open_nursery() as nursery:  # a new actor, same registry and journal
        client, box = await _coordinator(nursery, cfg, journal, caps, published)
        reason = (await client.reserve([Booking("o:2", D("0.0625"), None, "c1")]))[0]
        assert reason is not None
        assert reason.startswith("budget: campaign c1 monthly cap would be crossed")
        await client.set_campaign_cap("c1")  # cleared
        assert (await client.reserve([Booking("o:3", D("0.0625"), None, "c1")]))[0] is None
        status = await box.address.call(lambda r: GetBudget(reply=r))
        assert D(status["day"]["reserved"]) == D("0.125")
        box.close()
    assert caps == {}


async def test_a_campaign_files_cap_adds_to_its_configured_caps_never_replaces_them() -> None:
    # [[budget.campaigns]] caps the campaign at 0.15 a day; its file's budget_usd
    # registers a monthly 3.00 when it starts. Both apply: the day stops at 0.15,
    # through a restart of the coordinator (a config reload) too.
    cfg = BudgetConfig(campaigns=[CampaignBudget(campaign="c1", daily_usd=0.15)])
    journal, published = MemoryJournal(), list[dict[str, Any]]()
    caps: dict[str, Registered] = {}
    async with trio.open_nursery() as nursery:
        client, box = await _coordinator(nursery, cfg, journal, caps, published)
        await client.set_campaign_cap("c1", monthly_usd=D("3.00"))
        assert (await client.reserve([Booking("o:1", D("0.0625"), None, "c1")]))[0] is None
        assert (await client.reserve([Booking("o:2", D("0.0625"), None, "c1")]))[0] is None
        third = (await client.reserve([Booking("o:3", D("0.0625"), None, "c1")]))[0]
        box.close()
    assert str(third).startswith("budget: campaign c1 daily cap")
    async with trio.open_nursery() as nursery:
        client, box = await _coordinator(nursery, cfg, journal, caps, published)
        again = (await client.reserve([Booking("o:4", D("0.0625"), None, "c1")]))[0]
        await client.set_campaign_cap("c1")  # the file's cap withdrawn: the day's stays
        still = (await client.reserve([Booking("o:5", D("0.0625"), None, "c1")]))[0]
        box.close()
    assert str(again).startswith("budget: campaign c1 daily cap")
    assert str(still).startswith("budget: campaign c1 daily cap")


def test_registered_and_configured_caps_combine_per_period() -> None:
    cfg = BudgetConfig(campaigns=[CampaignBudget(campaign="c1", daily_usd=1.0, monthly_usd=9.0)])
    lg = Ledger.from_config(cfg, SP)
    lg.register_caps(Scope.campaign("c1"), Caps(weekly=D("4"), monthly=D("3")))
    assert lg.caps(Scope.campaign("c1")) == Caps(daily=D("1.0"), weekly=D("4"), monthly=D("3"))
    lg.set_caps(Scope.campaign("c1"), Caps())  # the config's caps gone (a reload)
    assert lg.caps(Scope.campaign("c1")) == Caps(weekly=D("4"), monthly=D("3"))
    lg.register_caps(Scope.campaign("c1"), Caps())
    assert lg.caps(Scope.campaign("c1")) == Caps()


def test_caps_counted_for_one_month_refuse_the_next_until_registered_again() -> None:
    """A campaign's ``budget_usd`` is what it may spend in all: the runner registers
    what is left of it for this month, and a new month must not reuse that figure."""
    lg = Ledger(tz=SP)
    c1 = Scope.campaign("c1")
    lg.register_caps(c1, Caps(monthly=D("0.10")), month="month:2026-11")
    assert isinstance(lg.reserve("o:1", D("0.0625"), NOW, campaign="c1"), Reservation)
    over = lg.reserve("o:2", D("0.0625"), NOW, campaign="c1")
    assert isinstance(over, Refusal)
    assert not over.recount
    december = dt.datetime(2026, 12, 1, 3, 0, 1, tzinfo=dt.UTC).timestamp()
    stale = lg.reserve("o:3", D("0.0625"), december, campaign="c1")
    assert isinstance(stale, Refusal)
    assert stale.recount
    assert stale.reason == "budget unavailable: campaign c1 is recounted for month:2026-12"
    assert is_recount(stale.reason)
    assert not is_recount(over.reason)
    assert isinstance(lg.reserve("o:4", D("0"), december, campaign="c1"), Reservation)  # free
    assert isinstance(lg.reserve("o:5", D("0.0625"), december, campaign="c2"), Reservation)
    lg.register_caps(c1, Caps(monthly=D("0.04")), month="month:2026-12")
    assert isinstance(lg.reserve("o:6", D("0.0625"), december, campaign="c1"), Refusal)
    assert isinstance(lg.reserve("o:7", D("0.03"), december, campaign="c1"), Reservation)
    lg.register_caps(c1, Caps())  # withdrawn: no pin is left behind either
    assert isinstance(lg.reserve("o:8", D("5"), NOW, campaign="c1"), Reservation)


async def test_the_month_of_registered_caps_survives_a_restart_of_the_coordinator() -> None:
    journal, published = MemoryJournal(), list[dict[str, Any]]()
    caps: dict[str, Registered] = {}
    async with trio.open_nursery() as nursery:
        client, box = await _coordinator(nursery, BudgetConfig(), journal, caps, published)
        await box.address.call(
            lambda r: SetCampaignCap(
                campaign_id="c1", caps=Caps(monthly=D("1")), month="month:2026-10", reply=r
            )
        )
        box.close()
    assert caps == {"c1": Registered(Caps(monthly=D("1")), "month:2026-10")}
    async with trio.open_nursery() as nursery:  # NOW is in November
        client, box = await _coordinator(nursery, BudgetConfig(), journal, caps, published)
        reason = (await client.reserve([Booking("o:1", D("0.0625"), None, "c1")]))[0]
        box.close()
    assert reason == "budget unavailable: campaign c1 is recounted for month:2026-11"


async def test_a_daemon_restart_does_not_announce_a_campaigns_crossed_thresholds_again() -> None:
    cfg = BudgetConfig()
    journal, published = MemoryJournal(), list[dict[str, Any]]()
    async with trio.open_nursery() as nursery:
        client, box = await _coordinator(nursery, cfg, journal, {}, published)
        await client.set_campaign_cap("c1", monthly_usd=D("0.10"))
        assert (await client.reserve([Booking("o:1", D("0.0625"), None, "c1")]))[0] is None
        box.close()
    assert {p["threshold"] for p in published} == {"0.5"}
    published.clear()
    async with trio.open_nursery() as nursery:  # a new daemon: the registry starts empty
        client, box = await _coordinator(nursery, cfg, journal, {}, published)
        await client.set_campaign_cap("c1", monthly_usd=D("0.10"))
        assert published == []  # 50 % was announced before the restart
        await client.set_campaign_cap("c1", monthly_usd=D("0.07"))  # lowered: 80 % is new
        box.close()
    assert {p["threshold"] for p in published} == {"0.8"}


async def test_reserving_a_message_already_held_books_it_once() -> None:
    journal, published = MemoryJournal(), list[dict[str, Any]]()
    async with trio.open_nursery() as nursery:
        client, box = await _coordinator(nursery, BudgetConfig(), journal, {}, published)
        assert (await client.reserve([Booking("o:1", D("0.0625"), None, None)]))[0] is None
        assert (await client.reserve([Booking("o:1", D("0.0625"), None, None)]))[0] is None
        status = await box.address.call(lambda r: GetBudget(reply=r))
        box.close()
    assert D(status["day"]["reserved"]) == D("0.0625")
    assert [e["op"] for e in journal.entries] == ["reserve"]


class CountingJournal(MemoryJournal):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    async def save_entries(self, entries: Sequence[dict[str, Any]]) -> None:
        self.writes += 1
        await super().save_entries(entries)


async def test_a_burst_in_the_mailbox_is_booked_in_one_journal_write() -> None:
    journal, published = CountingJournal(), list[dict[str, Any]]()
    async with trio.open_nursery() as nursery:
        client, box = await _coordinator(nursery, BudgetConfig(), journal, {}, published)
        for i in range(100):  # queued before the actor runs again
            box.address.try_cast(Release(id=f"none:{i}"))  # books nothing
        outcomes: list[str | None] = []

        async def chip(i: int) -> None:
            outcomes.append((await client.reserve([Booking(f"o:{i}", D("0.01"), None, None)]))[0])

        async with trio.open_nursery() as chips:
            for i in range(40):
                chips.start_soon(chip, i)
        box.close()
    assert outcomes == [None] * 40
    assert len(journal.entries) == 40
    assert journal.writes <= 2  # the burst shares one transaction (two: one started early)


async def test_the_same_price_twice_is_settled_once() -> None:
    journal, published = MemoryJournal(), list[dict[str, Any]]()
    async with trio.open_nursery() as nursery:
        client, box = await _coordinator(nursery, BudgetConfig(), journal, {}, published)
        assert (await client.reserve([Booking("o:1", D("0.0625"), None, None)]))[0] is None
        for status_pricing in (Pricing(), Pricing(), Pricing(category="utility")):
            await box.address.cast(Settle(id="o:1", pricing=status_pricing, wa_id="5511999990001"))
        status = await box.address.call(lambda r: GetBudget(reply=r))
        box.close()
    assert [e["op"] for e in journal.entries] == ["reserve", "settle", "settle"]
    assert D(status["day"]["reserved"]) == 0


async def test_several_bookings_are_answered_together_in_order_once_journalled() -> None:
    """What a chip reserves for a batch of sends: refusals in their places, a repeated
    message booked once, and no answer before the bookings are durable."""
    cfg = BudgetConfig(daily_usd=0.15)
    journal, published = MemoryJournal(), list[dict[str, Any]]()
    gate = trio.Event()
    save = journal.save_entries

    async def slow_save(entries: Sequence[dict[str, Any]]) -> None:
        await gate.wait()
        await save(entries)

    journal.save_entries = slow_save  # type: ignore[method-assign]
    async with trio.open_nursery() as nursery:
        client, box = await _coordinator(nursery, cfg, journal, {}, published)
        got: list[list[str | None]] = []

        async def reserve() -> None:
            got.append(
                await client.reserve(
                    [
                        Booking("o:1", D("0.0625")),
                        Booking("o:2", D("0.0625")),
                        Booking("o:1", D("0.0625")),  # the same message again
                        Booking("o:3", D("0.0625")),  # 0.1875 > 0.15
                    ]
                )
            )

        nursery.start_soon(reserve)
        await trio.testing.wait_all_tasks_blocked()
        assert got == []  # nothing answered while the journal has not committed
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert (await client.reserve([])) == []
        box.close()
    [(one, two, again, three)] = got
    assert (one, two, again) == (None, None, None)
    assert three is not None
    assert three.startswith("budget: daily cap would be crossed")
    assert [e["id"] for e in journal.entries if e["op"] == "reserve"] == ["o:1", "o:2"]
