"""What a chip's answer does to the recipient (actors/campaign/answers.py), through the
runner against the fakes (fakes.py): handed, refused, pending again, the campaign paused."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from trio.testing import MockClock

from actors.campaign.answers import PauseCampaign, recipient_mark
from actors.campaign.runner import CampaignRunner
from actors.chip.messages import Refused, Send, SendResult, Sent, Uncertain
from tests.unit.actors.campaign.fakes import (
    BUDGET_REFUSAL,
    CID,
    A,
    World,
    answer_for,
    components,
    people,
    run_to_end,
    sent,
)

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


@pytest.mark.parametrize("claimed", [True, False], ids=["claimed", "file order"])
def test_a_budget_refusal_pauses_and_gives_a_claimed_recipient_back(claimed: bool) -> None:
    """Several daemons share the campaign: its recipient was claimed ("handed") and the
    cap refused its send (the chip cancelled the row). Left handed, it counted as in
    flight for as long as the campaign stayed paused; it is pending again. A recipient
    read in file order was never marked: it stays as it is, sent after a resume."""
    mark = recipient_mark("3/SP", A, Refused(BUDGET_REFUSAL), claimed=claimed)
    assert isinstance(mark, PauseCampaign)
    assert BUDGET_REFUSAL in mark.reason
    assert mark.mark == (("3/SP", "pending", None, None) if claimed else None)
