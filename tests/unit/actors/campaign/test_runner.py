"""The campaign runner against in-memory stores, fleets and chip actors (fakes.py).

Time is trio's virtual clock; the runner's ``now`` is a fixed local instant plus the
virtual time elapsed. What a chip's answer does to a recipient is in test_answers.py,
routing over the fleet view in test_fleet_view.py, carousels and texts in test_content.py.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import Any

import pytest
import trio
import trio.testing
from trio.testing import MockClock

from actors.campaign.runner import PACE_CREDIT_S, YIELD_EVERY
from actors.campaign.schedule import next_open
from actors.chip.messages import Send, SendResult
from actors.core import ActorCrashed, open_mailbox
from config.campaign import CampaignSpec
from tests.unit.actors.campaign.fakes import (
    CID,
    NOON,
    SP,
    W2,
    A,
    B,
    C,
    World,
    components,
    people,
    run_to_end,
    sent,
)

# --- every recipient once ----------------------------------------------------------------------


async def test_every_pending_recipient_is_handed_once(
    world: World, autojump_clock: MockClock
) -> None:
    chips = [world.chip(A), world.chip(B), world.chip(C, waba=W2)]
    recs = people(30)
    runner = world.runner(recs)
    await run_to_end(runner)
    assert runner.finished
    assert sorted(world.keys_sent()) == sorted(r.key for r in recs)
    assert set(world.store.state_of().values()) == {"handed"}
    by_chip = {c.pnid: set(c.keys()) for c in chips}
    for rec in world.store.recipients[CID].values():
        assert rec.chip is not None
        assert rec.key in by_chip[rec.chip]
    assert runner.state.in_flight == 0
    assert runner.waiting is None


async def test_recipients_go_in_file_order(world: World, autojump_clock: MockClock) -> None:
    world.chip(A)
    recs = people(20)
    await run_to_end(world.runner(recs[::-1]))  # stored out of order; seq decides
    assert world.keys_sent() == [r.key for r in recs]


async def test_only_pending_recipients_are_handed(world: World, autojump_clock: MockClock) -> None:
    world.chip(A)
    recs = people(6)
    recs[1].state = "skipped"
    recs[3].state = "handed"
    recs[4].state = "refused"
    await run_to_end(world.runner(recs))
    assert world.keys_sent() == ["1/SP", "3/SP", "6/SP"]


async def test_the_send_carries_campaign_recipient_and_the_filled_template(
    world: World, autojump_clock: MockClock
) -> None:
    chip = world.chip(A)
    await run_to_end(world.runner(people(1)))
    ((_, send),) = chip.sends
    assert (send.to, send.campaign_id, send.recipient_id) == ("5511900000001", CID, "1/SP")
    assert (send.category, send.intent, send.content) == ("marketing", "marketing", None)
    assert send.template is not None
    assert send.template["name"] == "vaga_plantao"
    assert send.template["language"] == {"code": "pt_BR"}
    assert components(send) == [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Doc1"},
                {"type": "text", "text": "Pediatria"},
            ],
        },
        *(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(i),
                "parameters": [{"type": "payload", "payload": "mc:offer:1/SP"}],
            }
            for i in (0, 1)
        ),
    ]


async def test_free_form_text_goes_with_the_template(
    world: World, autojump_clock: MockClock
) -> None:
    chip = world.chip(A)
    await run_to_end(world.runner(people(1), text="Oi {primeiro_nome}, {sem_coluna}!"))
    ((_, send),) = chip.sends
    assert send.content == {"type": "text", "text": {"body": "Oi Doc1, {sem_coluna}!"}}
    assert send.template is not None


async def test_a_utility_campaign_says_so(world: World, autojump_clock: MockClock) -> None:
    chip = world.chip(A, quality="YELLOW")  # YELLOW stops marketing only
    await run_to_end(world.runner(people(1), intent="utility"))
    ((_, send),) = chip.sends
    assert send.intent == "utility"
    assert send.category == "marketing"  # the template's own category


# --- stop, finish ------------------------------------------------------------------------------


async def test_stop_takes_no_new_recipients(world: World, autojump_clock: MockClock) -> None:
    chip = world.chip(A)
    runner = world.runner(people(100), limits={"rate_per_s": 1})
    world.nursery.start_soon(runner.run)
    await trio.sleep(5.5)
    runner.stop()
    assert runner.stopping()
    await trio.sleep(60)
    assert chip.keys() == [f"{i}/SP" for i in range(1, 7)]  # at 0, 1, … 5 s
    assert len(world.store.keys_in("handed")) == 6  # what was in flight is journalled
    assert len(world.store.keys_in("pending")) == 94
    assert not runner.finished


async def test_stop_waits_for_what_is_in_flight(world: World, autojump_clock: MockClock) -> None:
    gate = trio.Event()
    world.chip(A, gate=gate)
    runner = world.runner(people(3))
    done = trio.Event()

    async def run() -> None:
        await runner.run()
        done.set()

    world.nursery.start_soon(run)
    await trio.sleep(1)
    runner.stop()
    await trio.sleep(10)
    assert not done.is_set()
    assert runner.state.in_flight == 3
    gate.set()
    with trio.fail_after(5):
        await done.wait()
    assert world.store.keys_in("handed") == ["1/SP", "2/SP", "3/SP"]


async def test_stop_while_waiting_for_an_in_flight_slot(
    world: World, autojump_clock: MockClock
) -> None:
    gate = trio.Event()
    chip = world.chip(A, gate=gate)
    runner = world.runner(people(5), limits={"max_in_flight": 1})
    world.nursery.start_soon(runner.run)
    await trio.sleep(10)  # 1/SP in flight; the feeder waits for a slot for 2/SP
    assert chip.keys() == ["1/SP"]
    runner.stop()
    gate.set()
    await trio.sleep(10)
    assert chip.keys() == ["1/SP"]


async def test_max_in_flight_bounds_the_concurrent_sends(
    world: World, autojump_clock: MockClock
) -> None:
    gate = trio.Event()
    chip = world.chip(A, gate=gate)
    runner = world.runner(people(10), limits={"max_in_flight": 3})
    world.nursery.start_soon(runner.run)
    await trio.sleep(10)
    assert chip.keys() == ["1/SP", "2/SP", "3/SP"]
    assert runner.state.in_flight == 3
    gate.set()
    await trio.sleep(10)
    assert len(chip.keys()) == 10
    assert runner.finished


@pytest.mark.parametrize(
    "states",
    [
        pytest.param([], id="no-recipients"),
        pytest.param(["skipped", "handed", "refused"], id="nothing-pending"),
    ],
)
async def test_finished_when_nothing_is_pending(
    world: World, states: list[str], autojump_clock: MockClock
) -> None:
    chip = world.chip(A)
    recs = people(len(states))
    for rec, state in zip(recs, states, strict=True):
        rec.state = state
    runner = world.runner(recs)
    await run_to_end(runner, limit_s=5)
    assert runner.finished
    assert chip.sends == []
    assert world.store.marks == []


async def test_marks_are_written_in_batches_not_per_recipient(
    world: World, autojump_clock: MockClock
) -> None:
    world.chip(A)
    calls: list[int] = []
    mark = world.store.mark

    async def counting(
        campaign_id: str, changes: Sequence[tuple[str, str, str | None, str | None]]
    ) -> None:
        calls.append(len(changes))
        await mark(campaign_id, changes)

    world.store.mark = counting  # type: ignore[method-assign]
    await run_to_end(world.runner(people(50)))
    assert sum(calls) == 50
    assert len(calls) < 50


# --- rate and schedule -------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "rate"), [(50, 10.0), (20, 1.0), (100, 40.0), (7, 0.5)])
async def test_the_rate_limit_spaces_the_sends(
    world: World, n: int, rate: float, autojump_clock: MockClock
) -> None:
    world.chip(A)
    world.chip(B)
    runner = world.runner(people(n), limits={"rate_per_s": rate})
    await run_to_end(runner)
    times = [t - world.start for t, _ in world.sends()]
    assert len(times) == n
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # The runner's clock is epoch seconds (~1.8e9): a float's step there is ~2e-7 s.
    assert min(gaps) >= 1 / rate - 1e-4
    assert (n - 1) / rate - 1e-3 <= times[-1] <= n / rate
    assert runner.finished


async def test_rate_and_eta(world: World, autojump_clock: MockClock) -> None:
    world.chip(A, mps=5.0)
    world.chip(B, mps=7.0)
    world.chip(C, mps=80.0, quality="RED")  # unhealthy: its room does not count
    runner = world.runner(people(1), limits={"rate_per_s": 20})
    assert runner.rate() == 0.0
    assert runner.eta_s(10) is None
    await run_to_end(runner)
    assert runner.rate() == 12.0
    assert runner.eta_s(0) == 0.0
    assert runner.eta_s(100) == 9  # ceil(100 / 12)


async def test_outside_the_schedule_it_waits_for_the_opening(
    world: World, autojump_clock: MockClock
) -> None:
    world.local_start = dt.datetime(2026, 12, 1, 6, 0, tzinfo=SP)
    chip = world.chip(A)
    runner = world.runner(people(3), schedule={"hours": "08:00-20:00"})
    world.nursery.start_soon(runner.run)
    await trio.sleep(3600)
    assert chip.sends == []
    assert runner.waiting == "outside the schedule until 2026-12-01T08:00-03:00"
    await trio.sleep(3600 + 10)
    times = [t - world.start for t, _ in chip.sends]
    assert times[0] == 7200.0
    assert times[-1] < 7201
    assert runner.finished


# The runner's refresher and flusher tick every second of virtual time, so these tests
# keep their waits to minutes or hours: days would cost real seconds.

WEEK = {"weekdays": ["mon", "tue", "wed", "thu", "fri"], "hours": "08:00-20:00"}


@pytest.mark.parametrize(
    ("local_start", "schedule", "until"),
    [
        pytest.param(
            dt.datetime(2026, 12, 5, 10, 0, tzinfo=SP), WEEK, "2026-12-07T08:00-03:00", id="sat"
        ),
        pytest.param(
            dt.datetime(2026, 12, 4, 20, 0, tzinfo=SP), WEEK, "2026-12-07T08:00-03:00", id="fri-pm"
        ),
        pytest.param(
            NOON,
            {"start": (NOON + dt.timedelta(days=20)).isoformat()},
            "2026-12-21T12:00-03:00",
            id="start-weeks-ahead",
        ),
    ],
)
async def test_a_long_wait_is_reported_not_finished(
    world: World,
    local_start: dt.datetime,
    schedule: dict[str, Any],
    until: str,
    autojump_clock: MockClock,
) -> None:
    world.local_start = local_start
    chip = world.chip(A)
    runner = world.runner(people(2), schedule=schedule)
    world.nursery.start_soon(runner.run)
    await trio.sleep(60)
    assert chip.sends == []
    assert not runner.finished
    assert runner.waiting == f"outside the schedule until {until}"
    # The ETA counts the wait for the opening, as the plan's expected end does.
    opening = dt.datetime.fromisoformat(until).timestamp()
    eta = runner.eta_s(2)
    assert eta is not None
    assert opening - world.now() < eta < opening - world.now() + 5
    runner.stop()  # wakes the sleeping feeder: it returns without sending
    await trio.sleep(1)
    assert chip.sends == []
    assert not runner.finished
    assert len(world.store.keys_in("pending")) == 2


async def test_quiet_hours_are_waited_out(world: World, autojump_clock: MockClock) -> None:
    world.local_start = dt.datetime(2026, 12, 1, 12, 10, tzinfo=SP)
    chip = world.chip(A)
    schedule = {"hours": "08:00-20:00", "quiet_hours": ["12:00-12:30"]}
    runner = world.runner(people(2), schedule=schedule)
    await run_to_end(runner, limit_s=3600)
    local = [world.local_start + dt.timedelta(seconds=t - world.start) for t, _ in chip.sends]
    assert local[0] == dt.datetime(2026, 12, 1, 12, 30, tzinfo=SP)
    assert local[-1] - local[0] < dt.timedelta(seconds=1)
    assert runner.finished


async def test_a_start_in_the_future_is_waited_for(world: World, autojump_clock: MockClock) -> None:
    chip = world.chip(A)
    start = NOON + dt.timedelta(minutes=30)
    runner = world.runner(people(1), schedule={"start": start.isoformat()})
    await run_to_end(runner, limit_s=3600)
    assert [t - world.start for t, _ in chip.sends] == [1800.0]
    assert runner.finished


async def test_a_campaign_inside_its_schedule_never_says_it_is_outside(
    world: World, autojump_clock: MockClock
) -> None:
    world.chip(A)
    left: list[str | None] = []
    for i in range(20):  # twenty instants: the rounding goes up for about a third of them
        world.start = trio.current_time() - i * 0.1234567  # now() off whole microseconds
        runner = world.runner(people(2))  # the second goes 1 ms later, at a new instant
        await run_to_end(runner, limit_s=60)
        assert runner.finished
        left.append(runner.waiting)  # the coordinator stores it as the finished reason
    assert left == [None] * 20


async def test_a_schedule_that_has_ended_finishes_the_campaign(
    world: World, autojump_clock: MockClock
) -> None:
    chip = world.chip(A)
    end = (NOON - dt.timedelta(hours=1)).isoformat()
    runner = world.runner(people(3), schedule={"end": end})
    await run_to_end(runner, limit_s=5)
    assert runner.finished
    assert runner.waiting == "the schedule has ended"
    assert chip.sends == []
    assert len(world.store.keys_in("pending")) == 3


async def test_no_send_after_the_hours_close_mid_batch(
    world: World, autojump_clock: MockClock
) -> None:
    world.local_start = dt.datetime(2026, 12, 1, 11, 59, tzinfo=SP)
    chip = world.chip(A)
    schedule = {"hours": "08:00-12:00"}
    runner = world.runner(people(120), schedule=schedule, limits={"rate_per_s": 1})
    world.nursery.start_soon(runner.run)
    await trio.sleep(200)
    runner.stop()
    spec = CampaignSpec.model_validate(world.store.rows[CID].spec["spec"]).schedule
    # The instants as the runner's clock (world.now) read them when it sent.
    local = [
        dt.datetime.fromtimestamp(world.local_start.timestamp() + t - world.start, SP)
        for t, _ in chip.sends
    ]
    assert local, "nothing was sent"
    assert local[-1] == dt.datetime(2026, 12, 1, 11, 59, 59, tzinfo=SP)  # then they closed
    outside = [t for t in local if next_open(t, spec, SP) != t]
    assert outside == []


# --- pacing and what is in flight --------------------------------------------------------------


async def test_a_late_pacing_wake_up_is_made_up_for(
    world: World, autojump_clock: MockClock
) -> None:
    runner = world.runner(people(1), limits={"rate_per_s": 100})
    now = runner._now()
    # On time: the next slot is one interval on.
    assert await runner._pace(now, 100) == pytest.approx(now + 0.01)
    # Woken 30 ms late: the 3 slots missed go now, one after the other, without waiting.
    late = now - 0.03
    slots = [late]
    for _ in range(3):
        before = trio.current_time()
        slots.append(await runner._pace(slots[-1], 100))
        assert trio.current_time() == before
    assert slots[-1] == pytest.approx(now)
    # More lateness than PACE_CREDIT_S is not made up beyond it.
    assert await runner._pace(now - 10.0, 100) == pytest.approx(now - PACE_CREDIT_S + 0.01)


async def test_free_in_flight_slots_are_taken_without_yielding_each_time(
    world: World, autojump_clock: MockClock
) -> None:
    runner = world.runner(people(1))
    limit = trio.Semaphore(100)
    yields = 0
    for _ in range(YIELD_EVERY * 2):
        task = trio.lowlevel.current_task()
        before = task._schedule_points  # type: ignore[attr-defined]
        await runner._slot(limit)
        yields += task._schedule_points - before  # type: ignore[attr-defined]
    assert limit.value == 100 - YIELD_EVERY * 2
    assert yields == 2


async def test_a_chip_that_crashes_on_a_send_leaves_it_pending_for_the_next_pass(
    world: World, autojump_clock: MockClock
) -> None:
    def crash_once(msg: Send, attempt: int) -> SendResult | None:
        if msg.recipient_id == "2/SP" and attempt == 0:
            msg.reply.fail(ActorCrashed("chip A"))
            return None
        return sent(msg, attempt)

    chip = world.chip(A, answer=crash_once)
    runner = world.runner(people(3))
    await run_to_end(runner)
    assert chip.keys() == ["1/SP", "2/SP", "3/SP", "2/SP"]
    assert world.store.state_of() == dict.fromkeys(("1/SP", "2/SP", "3/SP"), "handed")
    assert runner.state.in_flight == 0
    assert runner.finished


async def test_a_full_chip_mailbox_is_waited_for(world: World, autojump_clock: MockClock) -> None:
    chip = world.chip(A)
    chip.box = open_mailbox("chip A", capacity=1)  # the runner's hand-overs overflow it
    runner = world.runner(people(40), limits={"rate_per_s": 1000})
    await run_to_end(runner)
    assert sorted(chip.keys()) == sorted(f"{i}/SP" for i in range(1, 41))
    assert len(world.store.keys_in("handed")) == 40
    assert runner.state.in_flight == 0
    assert runner.finished
