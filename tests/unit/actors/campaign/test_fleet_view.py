"""The runner's picture of the fleet (actors/campaign/fleet_view.py) in use: affinity,
turns, the allowed WABAs and chips, templates per WABA, healthy chips, through the runner
against the fakes (fakes.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import trio
import trio.testing
from trio.testing import MockClock

from actors.budget.messages import BudgetMsg, SetCampaignCap
from actors.budget.values import Caps
from actors.chip.messages import Refused, Send, SendResult, Sent
from actors.core import Mailbox, open_mailbox
from actors.ports import TemplateRecord
from tests.unit.actors.campaign.fakes import (
    CID,
    W1,
    W2,
    A,
    B,
    C,
    FakeChip,
    FakeStore,
    World,
    people,
    run_to_end,
    vaga_plantao,
)

# --- routing inside the runner -----------------------------------------------------------------


async def test_affinity_from_the_store_picks_the_chip(
    world: World, autojump_clock: MockClock
) -> None:
    a, b = world.chip(A), world.chip(B, quality="UNKNOWN")  # best quality picks A
    recs = people(4)
    world.store.affinities = {recs[1].to: B, recs[3].to: "299999999999999"}
    await run_to_end(world.runner(recs, limits={"rate_per_s": 1}))
    assert b.keys() == ["2/SP"]
    assert a.keys() == ["1/SP", "3/SP", "4/SP"]


async def test_round_robin_takes_turns(world: World, autojump_clock: MockClock) -> None:
    a, b = world.chip(A), world.chip(B)
    await run_to_end(world.runner(people(6), routing={"strategy": "round_robin"}))
    assert a.keys() == ["1/SP", "3/SP", "5/SP"]
    assert b.keys() == ["2/SP", "4/SP", "6/SP"]


async def test_routing_wabas_and_chips_limit_the_pool(
    world: World, autojump_clock: MockClock
) -> None:
    a, b, c = world.chip(A), world.chip(B), world.chip(C, waba=W2)
    await run_to_end(world.runner(people(3), routing={"wabas": [W2]}))
    assert (a.keys(), b.keys(), c.keys()) == ([], [], ["1/SP", "2/SP", "3/SP"])
    world.store = FakeStore()
    for x in (a, b, c):
        x.sends.clear()
    await run_to_end(world.runner(people(3), routing={"chips": [B]}))
    assert (a.keys(), b.keys(), c.keys()) == ([], ["1/SP", "2/SP", "3/SP"], [])


@pytest.mark.parametrize(
    ("records", "problem"),
    [
        pytest.param([], "vaga_plantao/pt_BR is not in the WABA", id="absent"),
        pytest.param([vaga_plantao(W1, "PENDING")], "vaga_plantao/pt_BR is PENDING", id="pending"),
        pytest.param([vaga_plantao(W1, "PAUSED")], "vaga_plantao/pt_BR is PAUSED", id="paused"),
    ],
)
async def test_a_waba_without_the_approved_template_is_not_used(
    world: World, records: list[TemplateRecord], problem: str, autojump_clock: MockClock
) -> None:
    a, c = world.chip(A), world.chip(C, waba=W2)
    world.templates[W1] = records
    runner = world.runner(people(3))
    await run_to_end(runner)
    assert (a.keys(), c.keys()) == ([], ["1/SP", "2/SP", "3/SP"])
    assert runner.template_problems() == {W1: problem}


async def test_a_template_chosen_per_waba(world: World, autojump_clock: MockClock) -> None:
    a, c = world.chip(A), world.chip(C, waba=W2)
    world.templates[W2] = [dataclasses.replace(vaga_plantao(W2), name="vaga_b")]
    templates = [{"waba": W2, "name": "vaga_b"}, {"waba": "*", "name": "vaga_plantao"}]
    await run_to_end(
        world.runner(people(4), templates=templates, routing={"strategy": "round_robin"})
    )
    assert {s.template["name"] for _, s in a.sends if s.template} == {"vaga_plantao"}
    assert {s.template["name"] for _, s in c.sends if s.template} == {"vaga_b"}


@pytest.mark.parametrize(
    "unhealthy",
    [
        pytest.param({"paused": True}, id="paused"),
        pytest.param({"draining": True}, id="draining"),
        pytest.param({"quality": "RED"}, id="red"),
        pytest.param({"quality": "YELLOW"}, id="yellow-marketing"),
        pytest.param({"mode": "PAUSED_ALL"}, id="paused-mode"),
    ],
)
async def test_with_no_healthy_chip_it_waits_until_one_is(
    world: World, unhealthy: dict[str, Any], autojump_clock: MockClock
) -> None:
    chip = world.chip(A, **unhealthy)
    runner = world.runner(people(2))
    world.nursery.start_soon(runner.run)
    await trio.sleep(30)
    assert chip.sends == []
    assert runner.waiting == "no chip in the pool is healthy with the template approved"
    for attr in unhealthy:
        setattr(chip, attr, getattr(FakeChip(A, W1), attr))
    await trio.sleep(10)
    assert chip.keys() == ["1/SP", "2/SP"]
    assert runner.finished
    assert runner.waiting is None


async def test_an_unhealthy_chip_is_left_for_a_healthy_one(
    world: World, autojump_clock: MockClock
) -> None:
    sticky = world.chip(A, quality="RED")
    other = world.chip(B)
    recs = people(2)
    world.store.affinities = {r.to: A for r in recs}
    await run_to_end(world.runner(recs))
    assert (sticky.keys(), other.keys()) == ([], ["1/SP", "2/SP"])


def _budget(world: World) -> list[SetCampaignCap]:
    """A budget actor for ``world``'s runners that takes their caps; what it was sent."""
    box: Mailbox[BudgetMsg] = open_mailbox("budget")
    seen: list[SetCampaignCap] = []

    async def budget() -> None:
        async for msg in box.inbox:
            assert isinstance(msg, SetCampaignCap)
            seen.append(msg)
            msg.reply.ok(None)

    world.nursery.start_soon(budget)
    world.budget = box.address
    return seen


async def test_a_campaign_cap_is_registered_with_the_budget(
    world: World, autojump_clock: MockClock
) -> None:
    seen = _budget(world)
    world.chip(A)
    world.store.spent = Decimal("1.25")  # spent in November: December has the rest
    await run_to_end(world.runner(people(1), limits={"budget_usd": 5.0}))
    assert [(m.campaign_id, m.caps, m.month) for m in seen] == [
        (CID, Caps(monthly=Decimal("3.75")), "month:2026-12")
    ]
    assert world.store.spent_asked == [dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)]


async def test_a_new_month_has_the_budget_registered_again_and_the_send_goes(
    world: World, autojump_clock: MockClock
) -> None:
    """The ledger refuses a campaign's paid send once its registered month is over; the
    runner registers what is left for the new month, and the recipient, left pending,
    goes on the next pass."""
    seen = _budget(world)

    def recount_once(msg: Send, attempt: int) -> SendResult:
        if attempt == 0:
            return Refused(f"budget unavailable: campaign {CID} is recounted for month:2026-12")
        return Sent(1, "wamid.1", "template")

    chip = world.chip(A, answer=recount_once)
    await run_to_end(world.runner(people(1), limits={"budget_usd": 5.0}))
    assert len(seen) == 2
    assert chip.keys() == ["1/SP", "1/SP"]
    assert world.store.state_of() == {"1/SP": "handed"}
