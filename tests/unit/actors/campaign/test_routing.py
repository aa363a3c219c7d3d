"""Which chip sends a campaign message: affinity, health, quality, cost, room."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from actors.campaign.routing import ChipView, Route, route

KEY = "5511987654321"


def chip(pnid: str, **kw: Any) -> ChipView:
    base: dict[str, Any] = {
        "pnid": pnid,
        "waba": "w1",
        "quality": "GREEN",
        "mode": "FULL",
        "paused": False,
        "draining": False,
        "mps": 80.0,
        "backlog": 0,
        "has_template": True,
        "cost": 0.0625,
    }
    return ChipView(**{**base, **kw})


def pick(chips: list[ChipView], **kw: Any) -> str | None:
    r = route(KEY, chips, affinity=kw.pop("affinity", {}), **kw)
    return r.chip.pnid if r.chip else None


# --- affinity -----------------------------------------------------------------------------


def test_affinity_wins_when_healthy() -> None:
    chips = [chip("a"), chip("b", quality="YELLOW", cost=1.0, backlog=1000)]
    r = route(KEY, chips, affinity={KEY: "b"}, marketing=False)
    assert r == Route(chips[1], "affinity")


def test_affinity_of_another_contact_does_not_count() -> None:
    chips = [chip("a", backlog=10), chip("b")]
    assert pick(chips, affinity={"5511000000000": "a"}) == "b"


def test_affinity_to_a_chip_outside_the_pool_falls_back() -> None:
    assert pick([chip("a")], affinity={KEY: "zz"}) == "a"


UNHEALTHY = [
    pytest.param({"quality": "RED"}, True, id="red"),
    pytest.param({"quality": "RED"}, False, id="red-utility"),
    pytest.param({"paused": True}, True, id="paused"),
    pytest.param({"draining": True}, True, id="draining"),
    pytest.param({"mode": "PAUSED_BUSINESS"}, True, id="paused-business-mode"),
    pytest.param({"mode": "PAUSED_ALL"}, False, id="paused-all-mode"),
    pytest.param({"has_template": False}, True, id="no-template"),
    pytest.param({"mps": 0.0}, True, id="no-throughput"),
    pytest.param({"quality": "YELLOW"}, True, id="yellow-for-marketing"),
]


@pytest.mark.parametrize(("bad", "marketing"), UNHEALTHY)
def test_an_unhealthy_affinity_chip_loses_it(bad: dict[str, Any], marketing: bool) -> None:
    chips = [chip("sticky", **bad), chip("other")]
    r = route(KEY, chips, affinity={KEY: "sticky"}, marketing=marketing)
    assert r.chip is not None
    assert r.chip.pnid == "other"
    assert r.reason != "affinity"
    assert not chips[0].healthy(marketing)


@pytest.mark.parametrize(("bad", "marketing"), UNHEALTHY)
def test_an_unhealthy_chip_alone_gives_no_route(bad: dict[str, Any], marketing: bool) -> None:
    r = route(KEY, [chip("only", **bad)], affinity={KEY: "only"}, marketing=marketing)
    why = (
        "no WABA of the pool has the campaign's template approved"
        if bad == {"has_template": False}
        else "no chip in the pool is healthy with the template approved"
    )
    assert r == Route(None, why)


@pytest.mark.parametrize(
    ("kw", "marketing", "healthy"),
    [
        pytest.param({}, True, True, id="green-marketing"),
        pytest.param({"quality": "UNKNOWN"}, True, True, id="unknown-marketing"),
        pytest.param({"quality": "YELLOW"}, False, True, id="yellow-utility"),
        pytest.param({"quality": "YELLOW"}, True, False, id="yellow-marketing"),
        pytest.param({"mode": "RAMPING"}, True, True, id="ramping"),
        pytest.param({"mode": "SLOWED"}, True, True, id="slowed"),
        pytest.param({"mps": 0.5}, True, True, id="slow-but-sending"),
        pytest.param({"backlog": 10_000}, True, True, id="busy"),
    ],
)
def test_healthy(kw: dict[str, Any], marketing: bool, healthy: bool) -> None:
    assert chip("c", **kw).healthy(marketing) is healthy


def test_yellow_keeps_affinity_for_non_marketing() -> None:
    chips = [chip("green"), chip("yellow", quality="YELLOW")]
    r = route(KEY, chips, affinity={KEY: "yellow"}, marketing=False)
    assert r.chip == chips[1]
    assert r.reason == "affinity"


def test_yellow_is_chosen_for_non_marketing_when_it_is_the_only_one() -> None:
    assert pick([chip("y", quality="YELLOW")], marketing=False) == "y"
    assert pick([chip("y", quality="YELLOW")], marketing=True) is None


# --- best quality, cost, room -----------------------------------------------------------


BEST = [
    pytest.param(
        [chip("u", quality="UNKNOWN"), chip("g", quality="GREEN")], "g", id="green-over-unknown"
    ),
    pytest.param(
        [chip("y", quality="YELLOW"), chip("u", quality="UNKNOWN")], "u", id="unknown-over-yellow"
    ),
    pytest.param(
        [chip("g1", quality="GREEN", cost=0.08), chip("u", quality="UNKNOWN", cost=0.01)],
        "g1",
        id="quality-before-cost",
    ),
    pytest.param(
        [chip("dear", cost=0.0625), chip("cheap", cost=0.025)], "cheap", id="cheaper-wins"
    ),
    pytest.param(
        [chip("cheap", cost=0.025, backlog=500), chip("dear", cost=0.0625)],
        "cheap",
        id="cost-before-load",
    ),
    pytest.param(
        [chip("busy", backlog=100), chip("idle", backlog=10)], "idle", id="less-backlog-wins"
    ),
    pytest.param(
        [chip("slow", backlog=10, mps=1.0), chip("fast", backlog=50, mps=80.0)],
        "fast",
        id="load-is-backlog-per-mps",
    ),
    pytest.param([chip("b"), chip("a")], "a", id="tie-broken-by-pnid"),
    pytest.param(
        [chip("x", cost=0.1 + 0.2), chip("a", cost=0.3, backlog=1)],
        "x",
        id="cost-rounded-before-comparing",
    ),
    pytest.param(
        [chip("r", quality="RED"), chip("p", paused=True), chip("ok", quality="UNKNOWN")],
        "ok",
        id="only-healthy-considered",
    ),
]


@pytest.mark.parametrize(("chips", "expected"), BEST)
@pytest.mark.parametrize("strategy", ["affinity", "best_quality"])
def test_best_quality_then_cost_then_load(
    chips: list[ChipView], expected: str, strategy: str
) -> None:
    r = route(KEY, chips, affinity={}, strategy=strategy, marketing=False)
    assert r.chip is not None
    assert r.chip.pnid == expected
    assert r.reason == "best quality, cost and room"


def test_best_quality_ignores_affinity() -> None:
    chips = [chip("sticky", backlog=100), chip("idle")]
    r = route(KEY, chips, affinity={KEY: "sticky"}, strategy="best_quality")
    assert r.chip is not None
    assert r.chip.pnid == "idle"


def test_the_chip_order_does_not_matter() -> None:
    chips = [chip("a", backlog=3), chip("b", backlog=1), chip("c", backlog=2)]
    assert {pick(chips), pick(chips[::-1]), pick([chips[1], chips[2], chips[0]])} == {"b"}


# --- round robin --------------------------------------------------------------------------


def test_round_robin_takes_turns_over_healthy_chips() -> None:
    chips = [chip("a"), chip("bad", quality="RED"), chip("b"), chip("c")]
    picked = [pick(chips, strategy="round_robin", turn=t) for t in range(7)]
    assert picked == ["a", "b", "c", "a", "b", "c", "a"]


def test_round_robin_ignores_affinity_quality_and_load() -> None:
    chips = [chip("a", quality="UNKNOWN", backlog=999), chip("b")]
    r = route(KEY, chips, affinity={KEY: "b"}, strategy="round_robin", turn=0)
    assert r == Route(chips[0], "round robin")


# --- nothing to route to ----------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["affinity", "best_quality", "round_robin"])
def test_no_chips(strategy: str) -> None:
    r = route(KEY, [], affinity={KEY: "a"}, strategy=strategy)
    assert r == Route(None, "the campaign's pool has no chips")


@pytest.mark.parametrize("strategy", ["affinity", "best_quality", "round_robin"])
def test_none_healthy(strategy: str) -> None:
    chips = [chip("a", quality="RED"), chip("b", draining=True), chip("c", has_template=False)]
    r = route(KEY, chips, affinity={}, strategy=strategy)
    assert r.chip is None
    assert r.reason == "no chip in the pool is healthy with the template approved"


def test_no_template_anywhere_is_said_as_such() -> None:
    """Not "no chip is healthy": the chips are fine, the template is what is missing."""
    chips = [chip("a", has_template=False), chip("b", has_template=False, quality="RED")]
    r = route(KEY, chips, affinity={})
    assert r == Route(None, "no WABA of the pool has the campaign's template approved")


def test_views_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        chip("a").paused = True  # type: ignore[misc]


# --- what a view derives once for route() ----------------------------------------------------


@pytest.mark.parametrize(("bad", "marketing"), UNHEALTHY)
def test_a_replaced_view_derives_its_health_again(bad: dict[str, Any], marketing: bool) -> None:
    """A view made from another (a refresh, the runner's backlog bump) works its health
    out from its own fields, never the original's."""
    good = chip("sticky")
    assert good.healthy(marketing)
    worse = dataclasses.replace(good, **bad)
    assert not worse.healthy(marketing)
    assert pick([worse], affinity={KEY: "sticky"}, marketing=marketing) is None
    assert dataclasses.replace(worse, **{k: getattr(good, k) for k in bad}).healthy(marketing)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param({"backlog": 50}, "b", id="backlog"),
        pytest.param({"mps": 1.0}, "b", id="mps"),
        pytest.param({"cost": 0.1}, "b", id="cost"),
        pytest.param({"quality": "UNKNOWN"}, "b", id="quality"),
        pytest.param({"waba": "w2"}, "a", id="unrelated"),
    ],
)
def test_a_replaced_view_is_ordered_by_its_own_fields(
    change: dict[str, Any], expected: str
) -> None:
    a, b = chip("a", backlog=1), chip("b", backlog=2)
    assert pick([a, b]) == "a"
    assert pick([dataclasses.replace(a, **change), b]) == expected


def test_derived_state_is_not_part_of_a_view() -> None:
    """Equality, hashing and repr are the view's fields only."""
    a = chip("a")
    b = dataclasses.replace(chip("a", backlog=7), backlog=0)
    assert a == b
    assert hash(a) == hash(b)
    assert "_fit" not in repr(a)
    assert "_order" not in repr(a)


def test_affinity_takes_the_first_healthy_view_of_the_known_chip() -> None:
    """Affinity is looked up before the healthy list is built, with the same answer."""
    stale, fresh = chip("sticky", paused=True), chip("sticky", backlog=9)
    r = route(KEY, [stale, chip("other"), fresh], affinity={KEY: "sticky"})
    assert r.chip is fresh
    assert r.reason == "affinity"
