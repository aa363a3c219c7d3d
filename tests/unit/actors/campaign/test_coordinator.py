"""The campaign coordinator against in-memory stores, fleets and chip actors (fakes.py):
commands and their states, loading after a restart, listing and status, in-doubt sends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from actors.budget.messages import BudgetMsg, Reconcile
from actors.budget.periods import period_keys
from actors.campaign.coordinator import (
    ROLLOVER_CHECK_S,
    CampaignCmd,
    CampaignCoordinator,
    CampaignError,
    CampaignMsg,
    CampaignStatus,
    ListCampaigns,
    ResolveInDoubt,
)
from actors.chip.messages import Refused
from actors.core import Address, Mailbox, open_mailbox
from tests.unit.actors.campaign.fakes import (
    BUDGET_REFUSAL,
    CID,
    IN_DOUBT_OUTBOX_ID,
    SP,
    A,
    Rec,
    World,
    answer_for,
    people,
    stored_spec,
)


@dataclass
class Coordinated:
    world: World
    box: Mailbox[CampaignMsg]
    actor: CampaignCoordinator
    published: list[tuple[str, dict[str, Any]]]

    async def command(self, action: str, cid: str = CID, reason: str | None = None) -> Any:
        return await self.box.address.call(
            lambda r: CampaignCmd(action=action, campaign_id=cid, reason=reason, reply=r),
            timeout=5,
        )

    async def status(self, cid: str = CID) -> Any:
        return await self.box.address.call(
            lambda r: CampaignStatus(campaign_id=cid, reply=r), timeout=5
        )


async def coordinator(
    world: World, budget: Address[BudgetMsg] | None = None, **kw: Any
) -> Coordinated:
    box: Mailbox[CampaignMsg] = open_mailbox("campaigns")
    published: list[tuple[str, dict[str, Any]]] = []
    actor = CampaignCoordinator(
        store=world.store,
        fleet=world.fleet,
        inbox=box.inbox,
        address=box.address,
        budget=budget,
        now=world.now,
        tz=SP,
        publish=lambda kind, data: published.append((kind, data)),
    )
    await world.nursery.start(actor.run)
    return Coordinated(world, box, actor, published)


def add_campaign(
    world: World, recs: Sequence[Rec], state: str = "draft", cid: str = CID, **spec: Any
) -> None:
    world.store.add(cid, stored_spec(**{"name": cid, **spec}), recs, state)


async def test_start_runs_the_campaign_to_finished(world: World, autojump_clock: MockClock) -> None:
    chip = world.chip(A)
    add_campaign(world, people(5))
    co = await coordinator(world)
    status = await co.command("start")
    assert status["state"] == "running"
    assert CID in co.actor.runners
    await trio.sleep(10)
    assert chip.keys() == [f"{i}/SP" for i in range(1, 6)]
    assert world.store.rows[CID].state == "finished"
    assert co.actor.runners == {}
    final = await co.status()
    assert (final["state"], final["pending"], final["handed"]) == ("finished", 0, 5)
    assert [d["state"] for k, d in co.published if k == "campaign.progress"][-1] == "finished"


async def test_pause_stops_the_runner_and_resume_goes_on(
    world: World, autojump_clock: MockClock
) -> None:
    chip = world.chip(A)
    add_campaign(world, people(20), limits={"rate_per_s": 1})
    co = await coordinator(world)
    await co.command("start")
    await trio.sleep(4.5)
    paused = await co.command("pause", reason="lunch")
    assert (paused["state"], paused["reason"]) == ("paused", "lunch")
    assert co.actor.runners == {}
    await trio.sleep(60)
    before = chip.keys()
    assert before == [f"{i}/SP" for i in range(1, 6)]
    resumed = await co.command("resume")
    assert resumed["state"] == "running"
    await trio.sleep(60)
    assert chip.keys() == [f"{i}/SP" for i in range(1, 21)]  # each once, in order
    assert world.store.rows[CID].state == "finished"


async def test_a_budget_refusal_pauses_through_the_coordinator(
    world: World, autojump_clock: MockClock
) -> None:
    chip = world.chip(A, answer=answer_for({"3/SP": Refused(BUDGET_REFUSAL)}))
    add_campaign(world, people(10), limits={"rate_per_s": 1})
    co = await coordinator(world)
    await co.command("start")
    await trio.sleep(30)
    row = world.store.rows[CID]
    assert row.state == "paused"
    assert row.reason is not None
    assert BUDGET_REFUSAL in row.reason
    assert chip.keys() == ["1/SP", "2/SP", "3/SP"]
    assert world.store.recipients[CID]["3/SP"].state == "pending"


async def test_cancel(world: World, autojump_clock: MockClock) -> None:
    world.chip(A)
    add_campaign(world, people(100), limits={"rate_per_s": 1})
    co = await coordinator(world)
    await co.command("start")
    await trio.sleep(2.5)
    cancelled = await co.command("cancel")
    assert (cancelled["state"], cancelled["reason"]) == ("cancelled", "cancel by the operator")
    await trio.sleep(10)
    assert world.store.rows[CID].state == "cancelled"
    assert len(world.store.keys_in("pending")) == 97


@pytest.mark.parametrize(
    ("state", "action", "message"),
    [
        ("running", "start", "campaign offer is running: cannot start it"),
        ("draft", "pause", "campaign offer is draft: cannot pause it"),
        ("draft", "resume", "campaign offer is draft: cannot resume it"),
        ("finished", "cancel", "campaign offer is finished: cannot cancel it"),
        ("cancelled", "start", "campaign offer is cancelled: cannot start it"),
        ("draft", "explode", "unknown action 'explode'"),
    ],
)
async def test_commands_not_allowed_in_a_state(
    world: World, state: str, action: str, message: str, autojump_clock: MockClock
) -> None:
    add_campaign(world, people(1), state="paused" if state == "running" else state)
    co = await coordinator(world)
    if state == "running":
        world.chip(A, gate=trio.Event())  # keeps it running
        await co.command("resume")
    with pytest.raises(CampaignError, match=message):
        await co.command(action)


async def test_unknown_campaigns(world: World, autojump_clock: MockClock) -> None:
    co = await coordinator(world)
    with pytest.raises(CampaignError, match=r"no campaign 'nope'$"):
        await co.command("start", cid="nope")
    with pytest.raises(CampaignError, match=r"no campaign 'nope'$"):
        await co.status("nope")


async def test_an_unknown_name_close_to_a_campaign_names_it(
    world: World, autojump_clock: MockClock
) -> None:
    add_campaign(world, people(1), state="paused", cid="demo-carousel")
    co = await coordinator(world)
    hint = r"no campaign 'demo_carousel'; did you mean 'demo-carousel'\?"
    with pytest.raises(CampaignError, match=hint):
        await co.status("demo_carousel")
    with pytest.raises(CampaignError, match=hint):
        await co.command("resume", cid="demo_carousel")
    with pytest.raises(CampaignError, match=r"no campaign 'zzz'$"):
        await co.status("zzz")


async def test_load_resumes_the_running_campaigns(world: World, autojump_clock: MockClock) -> None:
    chip = world.chip(A)
    add_campaign(world, people(2), state="running", cid="one")
    add_campaign(world, people(2, start=3), state="paused", cid="two")
    co = await coordinator(world)
    assert set(co.actor.runners) == {"one"}
    await trio.sleep(10)
    assert chip.keys() == ["1/SP", "2/SP"]
    assert world.store.rows["one"].state == "finished"
    assert world.store.rows["two"].state == "paused"


async def test_list_and_status(world: World, autojump_clock: MockClock) -> None:
    world.chip(A, gate=trio.Event())
    add_campaign(world, people(3), cid="one")
    add_campaign(world, people(2), cid="two")
    world.store.in_doubt_rows = [{"recipient_id": "1/SP", "id": 9, "chip": A}]
    co = await coordinator(world)
    await co.command("start", cid="one")
    await trio.sleep(5)
    listed: list[dict[str, Any]] = await co.box.address.call(
        lambda r: ListCampaigns(reply=r), timeout=5
    )
    assert [(s["id"], s["state"]) for s in listed] == [("one", "running"), ("two", "draft")]
    one = listed[0]
    assert one["rate_per_s"] == 80.0
    assert one["template_problems"] == {}
    assert one["in_doubt_overdue"] == [{"recipient": "1/SP", "outbox_id": 9, "chip": A}]
    assert listed[1]["eta_s"] is None
    assert listed[1]["rate_per_s"] == 0.0


async def test_the_open_campaigns_leave_the_finished_ones_out(
    world: World, autojump_clock: MockClock
) -> None:
    """What metrics ask for at every scrape: a finished campaign's counts do not move."""
    world.chip(A, gate=trio.Event())
    for cid, state in (("d", "draft"), ("p", "paused"), ("f", "finished"), ("x", "cancelled")):
        add_campaign(world, people(1), state=state, cid=cid)
    co = await coordinator(world)
    listed: list[dict[str, Any]] = await co.box.address.call(
        lambda r: ListCampaigns(reply=r, open_only=True), timeout=5
    )
    assert sorted(s["id"] for s in listed) == ["d", "p"]


async def test_a_count_that_takes_long_is_made_less_often(
    world: World, autojump_clock: MockClock
) -> None:
    world.chip(A, gate=trio.Event())  # the sends hang: the campaign keeps running
    add_campaign(world, people(3))
    world.store.progress_s = 0.5  # fresh for ten times that: 5 s
    co = await coordinator(world)
    await co.command("start")
    await co.status()
    counted = world.store.progress_calls
    await trio.sleep(4.0)  # the reporter asked every second meanwhile
    await co.status()
    assert world.store.progress_calls == counted
    await trio.sleep(1.5)
    await co.status()
    assert world.store.progress_calls == counted + 1


async def test_a_paused_campaigns_counts_may_be_reused_only_when_asked(
    world: World, autojump_clock: MockClock
) -> None:
    """A status call counts a paused campaign afresh; a scrape (``max_age_s``) reuses a
    count younger than that, and a resolution makes the next one count again."""
    add_campaign(world, people(2), state="paused")
    co = await coordinator(world)

    async def listed(max_age_s: float = 0.0) -> None:
        await co.box.address.call(
            lambda r: ListCampaigns(reply=r, open_only=True, max_age_s=max_age_s), timeout=5
        )

    await co.status()
    counted = world.store.progress_calls
    await co.status()
    assert world.store.progress_calls == counted + 1  # afresh
    await listed(max_age_s=60)
    await trio.sleep(30)
    await listed(max_age_s=60)
    assert world.store.progress_calls == counted + 1  # the status call's count, reused
    await trio.sleep(31)
    await listed(max_age_s=60)
    assert world.store.progress_calls == counted + 2
    await co.box.address.call(
        lambda r: ResolveInDoubt(campaign_id=CID, recipient="1/SP", action="drop", reply=r),
        timeout=5,
    )
    before = world.store.progress_calls
    await listed(max_age_s=60)
    assert world.store.progress_calls == before + 1  # its counts changed: counted again


async def test_a_campaign_a_day_cap_paused_goes_on_when_the_day_is_over(
    world: World, autojump_clock: MockClock
) -> None:
    """Checked every ROLLOVER_CHECK_S; a pause of today, the campaign's own budget_usd or
    the operator's stays."""
    chip = world.chip(A)
    today = period_keys(world.now(), SP).day
    yesterday = f"day:{dt.date.fromisoformat(today[4:]) - dt.timedelta(days=1)}"

    def refused(cap: str, key: str) -> str:
        return f"budget: {cap} cap would be crossed (0.0625 USD needed, 0 of 50 USD left, {key})"

    paused = {
        "yesterday": refused("daily", yesterday),
        "today": refused("daily", today),
        "own": refused("campaign own monthly", "month:2000-01"),
        "operator": "night",
    }
    for n, (cid, reason) in enumerate(paused.items()):
        add_campaign(world, people(1, start=n + 1), state="paused", cid=cid)
        world.store.rows[cid].reason = reason
    await coordinator(world)
    await trio.sleep(ROLLOVER_CHECK_S + 5)
    states = {cid: world.store.rows[cid].state for cid in paused}
    assert states == {
        "yesterday": "finished",  # resumed, and its one recipient sent
        "today": "paused",
        "own": "paused",
        "operator": "paused",
    }
    assert [s.to for _, s in world.sends()] == [people(1, start=1)[0].to]
    assert chip.keys() == ["1/SP"]


@pytest.mark.parametrize(("action", "ok"), [("resend", True), ("drop", True), ("retry", False)])
async def test_resolve_in_doubt(
    world: World, action: str, ok: bool, autojump_clock: MockClock
) -> None:
    add_campaign(world, people(1))
    co = await coordinator(world)

    async def resolve() -> Any:
        return await co.box.address.call(
            lambda r: ResolveInDoubt(campaign_id=CID, recipient="1/SP", action=action, reply=r),
            timeout=5,
        )

    if ok:
        assert await resolve() is True
        assert world.store.resolved == [(CID, "1/SP", action)]
        assert await resolve() is False  # resolved already: nothing in doubt
    else:
        with pytest.raises(CampaignError, match="resend or drop"):
            await resolve()
        assert world.store.resolved == []


@pytest.mark.parametrize("action", ["resend", "drop"])
async def test_resolving_in_doubt_asks_the_budget_to_release_the_old_reservation(
    world: World, action: str, autojump_clock: MockClock
) -> None:
    """The cancelled row's reservation is the budget's to release at once (a Reconcile,
    which checks the row first); nothing is asked when nothing was in doubt."""
    budget: Mailbox[BudgetMsg] = open_mailbox("budget")
    add_campaign(world, people(1))
    co = await coordinator(world, budget=budget.address)

    async def resolve() -> Any:
        return await co.box.address.call(
            lambda r: ResolveInDoubt(campaign_id=CID, recipient="1/SP", action=action, reply=r),
            timeout=5,
        )

    assert await resolve() is True
    assert budget.inbox.receive_nowait() == Reconcile(refs=(f"o:{IN_DOUBT_OUTBOX_ID}",))
    assert await resolve() is False
    with pytest.raises(trio.WouldBlock):
        budget.inbox.receive_nowait()
