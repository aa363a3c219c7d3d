"""The campaign runner against in-memory stores, fleets and chip actors (fakes.py).

Time is trio's virtual clock; the runner's ``now`` is a fixed local instant plus the
virtual time elapsed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
import trio
import trio.testing
from trio.testing import MockClock

from actors.budget.messages import BudgetMsg, SetCampaignCap
from actors.budget.values import Caps
from actors.campaign.cards import plan_cards
from actors.campaign.runner import PACE_CREDIT_S, YIELD_EVERY, CampaignRunner, render_text
from actors.campaign.schedule import next_open
from actors.chip.messages import Refused, Send, SendResult, Sent, Uncertain
from actors.core import ActorCrashed, Mailbox, open_mailbox
from actors.ports import TemplateRecord
from config.campaign import CampaignSpec
from tests.unit.actors.campaign.fakes import (
    BUDGET_REFUSAL,
    CID,
    NOON,
    SP,
    W1,
    W2,
    A,
    B,
    C,
    FakeChip,
    FakeStore,
    World,
    answer_for,
    carrossel_vagas,
    people,
    sent,
    stored_spec,
    vaga_plantao,
)


async def run_to_end(runner: CampaignRunner, limit_s: float = 24 * 3600) -> None:
    with trio.fail_after(limit_s):
        await runner.run()


def components(send: Send) -> list[dict[str, Any]]:
    assert send.template is not None
    return list(send.template["components"])


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


# --- what the chip answers ---------------------------------------------------------------------


SETTLE = [
    pytest.param(Sent(1, "wamid.1", "template"), "handed", None, id="sent"),
    pytest.param(Uncertain(1, "timeout"), "handed", None, id="uncertain"),
    pytest.param(Refused("duplicate: outbox 7 is sent", 7), "handed", None, id="duplicate"),
    pytest.param(
        Refused("not a phone number or user id: 'x'"),
        "refused",
        "not a phone number or user id: 'x'",
        id="refused",
    ),
    pytest.param(
        Refused("template vaga_plantao/pt_BR is PAUSED"),
        "refused",
        "template vaga_plantao/pt_BR is PAUSED",
        id="refused-template",
    ),
]


@pytest.mark.parametrize(("result", "state", "reason"), SETTLE)
async def test_how_an_answer_settles_the_recipient(
    world: World,
    result: SendResult,
    state: str,
    reason: str | None,
    autojump_clock: MockClock,
) -> None:
    chip = world.chip(A, answer=answer_for({"2/SP": result}))
    runner = world.runner(people(3))
    await run_to_end(runner)
    assert runner.finished
    rec = world.store.recipients[CID]["2/SP"]
    assert (rec.state, rec.reason, rec.chip) == (state, reason, A)
    assert chip.keys().count("2/SP") == 1  # never handed twice
    assert world.store.state_of() == {"1/SP": "handed", "2/SP": state, "3/SP": "handed"}
    assert world.pauses == []


@pytest.mark.parametrize("reason", ["chip is draining", "daemon stopping"])
async def test_a_transient_refusal_leaves_the_recipient_pending(
    world: World, reason: str, autojump_clock: MockClock
) -> None:
    chip = world.chip(A, answer=answer_for({"2/SP": Refused(reason)}))
    runner = world.runner(people(3))
    await run_to_end(runner)
    assert chip.keys().count("2/SP") == 2  # pending after the refusal, sent on the next pass
    assert world.store.state_of() == dict.fromkeys(("1/SP", "2/SP", "3/SP"), "handed")
    assert [m for m in world.store.marks if m[0] == "2/SP"] == [("2/SP", "handed", None, A)]
    assert runner.finished


async def test_a_refusal_that_keeps_coming_keeps_the_recipient_pending(
    world: World, autojump_clock: MockClock
) -> None:
    def answer(msg: Send, attempt: int) -> SendResult:
        return Refused("chip is draining") if msg.recipient_id == "2/SP" else sent(msg, attempt)

    chip = world.chip(A, answer=answer)
    runner = world.runner(people(3), limits={"rate_per_s": 10})
    world.nursery.start_soon(runner.run)
    await trio.sleep(30)
    runner.stop()
    await trio.sleep(1)
    assert world.store.keys_in("pending") == ["2/SP"]
    assert chip.keys().count("2/SP") > 2
    assert not runner.finished


async def test_a_budget_refusal_pauses_the_campaign(
    world: World, autojump_clock: MockClock
) -> None:
    runner: CampaignRunner | None = None

    def on_pause(reason: str) -> None:
        world.pauses.append(reason)
        assert runner is not None
        runner.stop()  # what the coordinator does with the pause

    chip = world.chip(A, answer=answer_for({"3/SP": Refused(BUDGET_REFUSAL)}))
    runner = world.runner(people(10), on_pause=on_pause, limits={"rate_per_s": 1})
    await run_to_end(runner)
    assert len(world.pauses) == 1
    assert world.pauses[0].startswith("budget:")
    assert BUDGET_REFUSAL in world.pauses[0]
    assert chip.keys() == ["1/SP", "2/SP", "3/SP"]
    assert world.store.keys_in("handed") == ["1/SP", "2/SP"]
    assert world.store.recipients[CID]["3/SP"].state == "pending"  # sent after a resume
    assert not runner.finished


async def test_no_answer_within_the_timeout_leaves_it_pending_for_the_next_pass(
    world: World, autojump_clock: MockClock
) -> None:
    chip = world.chip(A, answer=answer_for({"2/SP": None}))
    runner = world.runner(people(3))
    await run_to_end(runner)
    assert chip.keys() == ["1/SP", "2/SP", "3/SP", "2/SP"]
    retry_at = chip.sends[-1][0] - world.start
    assert retry_at >= 900  # SEND_TIMEOUT_S
    assert world.store.state_of() == dict.fromkeys(("1/SP", "2/SP", "3/SP"), "handed")
    assert runner.finished


async def test_a_missing_template_variable_skips_the_recipient(
    world: World, autojump_clock: MockClock
) -> None:
    chip = world.chip(A)
    recs = people(3)
    recs[1].fields = {"primeiro_nome": "Doc2"}  # no especialidade, no default
    recs[2].fields = {"nome": "Dra. Três", "especialidade": "UTI"}  # the alias fills slot 1
    runner = world.runner(recs)
    await run_to_end(runner)
    assert chip.keys() == ["1/SP", "3/SP"]
    rec = world.store.recipients[CID]["2/SP"]
    assert rec.state == "skipped"
    assert rec.reason is not None
    assert rec.reason.startswith("missing variable: ")
    assert "2" in rec.reason
    assert "especialidade" in rec.reason
    assert rec.chip is None
    assert runner.finished


async def test_a_default_fills_a_missing_variable(world: World, autojump_clock: MockClock) -> None:
    chip = world.chip(A)
    recs = people(1)
    recs[0].fields = {"especialidade": "UTI"}
    variables = {"1": {"column": "primeiro_nome", "default": "doutor(a)"}, "2": "especialidade"}
    await run_to_end(world.runner(recs, variables=variables))
    body = components(chip.sends[0][1])[0]
    assert body["parameters"][0] == {"type": "text", "text": "doutor(a)"}


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


async def test_a_campaign_cap_is_registered_with_the_budget(
    world: World, autojump_clock: MockClock
) -> None:
    box: Mailbox[BudgetMsg] = open_mailbox("budget")
    seen: list[SetCampaignCap] = []

    async def budget() -> None:
        async for msg in box.inbox:
            assert isinstance(msg, SetCampaignCap)
            seen.append(msg)
            msg.reply.ok(None)

    world.nursery.start_soon(budget)
    world.budget = box.address
    world.chip(A)
    await run_to_end(world.runner(people(1), limits={"budget_usd": 5.0}))
    assert [(m.campaign_id, m.caps) for m in seen] == [(CID, Caps(monthly=Decimal("5.0")))]


# --- carousels ------------------------------------------------------------------------------


async def test_each_carousel_part_sends_its_own_cards(
    world: World, autojump_clock: MockClock
) -> None:
    listings = [
        {
            "vaga_id": f"V{i}",
            "hospital": f"Hospital {i}",
            "imagem_url": f"https://x.example/{i}.jpg",
        }
        for i in range(1, 5)
    ]
    plan = plan_cards(
        listings,
        campaign=CID,
        card_count=2,
        id_column="vaga_id",
        status_column=None,
        open_values=(),
        overflow="split",
        max_messages=3,
    )
    cards = [[dict(row) for row in group] for group in plan.groups]
    stored = stored_spec(
        cards,
        templates=[{"name": "carrossel_vagas"}],
        variables={"1": "primeiro_nome"},
        carousel={
            "listings": "shifts.csv",
            "id_column": "vaga_id",
            "overflow": "split",
            "cards": {"header": "imagem_url", "1": "hospital"},
        },
    )
    chip = world.chip(A)
    world.templates[W1] = [carrossel_vagas(W1)]
    base = people(1)[0]
    recs = [dataclasses.replace(base, key=f"{base.key}#{part + 1}", part=part) for part in range(2)]
    runner = world.runner(recs, stored=stored)
    await run_to_end(runner)
    assert runner.template_problems() == {}
    assert chip.keys() == ["1/SP#1", "1/SP#2"]
    for part, (_, send) in enumerate(chip.sends):
        assert send.template is not None
        assert send.template["name"] == "carrossel_vagas"
        comps = components(send)
        assert comps[0] == {"type": "body", "parameters": [{"type": "text", "text": "Doc1"}]}
        carousel = comps[-1]
        assert carousel["type"] == "carousel"
        payloads = [c["components"][-1]["parameters"][0]["payload"] for c in carousel["cards"]]
        ids = [f"V{2 * part + 1}", f"V{2 * part + 2}"]
        assert payloads == [f"mc:{CID}:{i}" for i in ids]
        images = [c["components"][0]["parameters"][0]["image"]["link"] for c in carousel["cards"]]
        assert images == [f"https://x.example/{i[1:]}.jpg" for i in ids]
        assert send.content is None


@pytest.mark.parametrize(
    ("text", "fields", "out"),
    [
        ("Oi {nome}!", {"nome": "Ana"}, "Oi Ana!"),
        ("Oi {nome}, {x}", {"nome": "Ana"}, "Oi Ana, {x}"),
        ("sem campos", {}, "sem campos"),
        ("{a}{b}", {"a": "1", "b": "2"}, "12"),
    ],
)
def test_render_text(text: str, fields: dict[str, str], out: str) -> None:
    assert render_text(text, fields) == out


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
