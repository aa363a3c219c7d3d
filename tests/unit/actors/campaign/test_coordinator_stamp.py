"""The ``as_of`` stamp on a campaign's figures (``CampaignCoordinator.status``).

The console gets a campaign's figures as ``campaign.progress`` events and as the
``campaign.list`` or an action's answer, which overtake each other; it keeps the
version with the latest stamp, so every path must carry one, and a later stamp must
never show older figures.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from trio.testing import MockClock

from actors.campaign.coordinator import ListCampaigns
from tests.unit.actors.campaign.fakes import CID, A, World, people
from tests.unit.actors.campaign.test_coordinator import Coordinated, add_campaign, coordinator


async def _listed(co: Coordinated) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = await co.box.address.call(
        lambda r: ListCampaigns(reply=r), timeout=5
    )
    return answer


def _events(co: Coordinated) -> list[dict[str, Any]]:
    return [data for kind, data in co.published if kind == "campaign.progress"]


async def test_every_path_stamps_and_later_figures_carry_later_stamps(
    world: World, autojump_clock: MockClock
) -> None:
    """The command's answer, the reporter's events, a list and a status call, in the
    order they were taken: each stamp later than the one before, even in the same clock
    tick (the status call right after the command); the stamp is the wall clock."""
    world.chip(A)
    add_campaign(world, people(20), limits={"rate_per_s": 1})
    co = await coordinator(world)
    started = await co.command("start")
    assert started["as_of"] == pytest.approx(world.now())
    again = await co.status()  # no time passed
    await trio.sleep(2.5)  # the reporter published twice
    reported = _events(co)[1:]  # after the start's own event
    listed = await _listed(co)
    assert listed[0]["as_of"] == pytest.approx(world.now())
    stamps = [started["as_of"], again["as_of"], *(e["as_of"] for e in reported)]
    stamps.append(listed[0]["as_of"])
    stamps.append((await co.status())["as_of"])
    assert len(reported) == 2
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)  # strictly: two versions never tie
    assert _events(co)[0] is started  # the start's event is its answer, same stamp


async def _paused_during_a_slow_count(world: World, rate: float) -> tuple[Coordinated, Any]:
    """A running campaign whose reporter's count (begun at 1 s) takes 5 s, paused at
    1.5 s; returned once that count has ended, with the pause's answer."""
    world.chip(A)
    add_campaign(world, people(50), limits={"rate_per_s": rate})
    co = await coordinator(world)
    await co.command("start")
    world.store.progress_s = 5.0
    await trio.sleep(1.5)
    world.store.progress_s = 0.0
    paused = await co.command("pause")
    await trio.sleep(10)
    return co, paused


async def test_figures_overtaken_by_a_pause_keep_the_earlier_stamp(
    world: World, autojump_clock: MockClock
) -> None:
    """The reporter read the row (running) and was counting when the operator paused:
    its event, published after the pause's, is stamped before it (the stamp is taken
    when status starts, right after the row was read, not when the counts came)."""
    co, paused = await _paused_during_a_slow_count(world, rate=1)
    last = _events(co)[-1]
    assert last["state"] == "running"  # published last …
    assert last["as_of"] < paused["as_of"]  # … but its figures are the older ones


async def test_a_count_begun_before_a_pause_is_answered_but_not_kept(
    world: World, autojump_clock: MockClock
) -> None:
    """The reporter's slow count began before the pause dropped the last count and ends
    after it: it is older than the pause, so a caller content with a recent count (the
    metrics scrape) is not given it; it gets the pause's own."""
    co, paused = await _paused_during_a_slow_count(world, rate=5)
    assert _events(co)[-1]["pending"] > paused["pending"]  # it was older indeed
    row = await world.store.get(CID)
    recent = await co.actor.status(row, max_age_s=60)
    assert recent["pending"] == paused["pending"]
