"""The console's plain rules: parsing the wire, sorting, filtering, what gets logged."""

from __future__ import annotations

import pytest

from tests.tui.fakes import PNIDS, chip, fleet_snapshot
from tui.client import ControlEvent
from tui.model import Chip, Snapshot, Waba, chip_matches, describe_change, sort_chips
from tui.state import ConsoleState, entry_matches
from tui.widgets import fmt_duration, fmt_rate


def _fleet() -> tuple[list[Chip], dict[str, Waba]]:
    snap = Snapshot.from_wire(fleet_snapshot())
    return list(snap.chips), {w.waba_id: w for w in snap.wabas}


def test_a_chip_parses_leniently() -> None:
    parsed = Chip.from_wire({"phone_number_id": 42, "mps": "fast", "paused": 1, "tier_limit": None})
    assert parsed.phone_number_id == "42"
    assert parsed.display_number == "42"
    assert parsed.quality_rating == "UNKNOWN"
    assert parsed.mps == 0.0
    assert parsed.paused is False  # only a real true pauses
    assert parsed.tier_limit is None
    with pytest.raises(ValueError, match="phone_number_id"):
        Chip.from_wire({"display_number": "+1"})


def test_a_snapshot_skips_what_it_cannot_read() -> None:
    doc = fleet_snapshot()
    doc["chips"].append({"no": "id"})
    doc["chips"].append("junk")
    doc["webhooks"] = None
    snap = Snapshot.from_wire(doc)
    assert [c.phone_number_id for c in snap.chips] == list(PNIDS)
    assert snap.webhooks is None
    assert snap.daemon.uptime_s == 7384.0
    assert Snapshot.from_wire({}).chips == ()


def test_only_state_changes_are_worth_a_log_line() -> None:
    old = Chip.from_wire(chip(PNIDS[0], "+1", "w", "GREEN"))
    busier = Chip.from_wire(chip(PNIDS[0], "+1", "w", "GREEN", queued=50, mps=3.0))
    assert describe_change(old, busier) is None
    worse = Chip.from_wire(chip(PNIDS[0], "+1", "w", "YELLOW", paused=True, pause_reason="x"))
    assert describe_change(old, worse) == ("warning", "quality GREEN → YELLOW; paused (x)")
    assert describe_change(worse, old) == ("info", "quality YELLOW → GREEN; resumed")
    assert describe_change(None, old) == ("info", "chip appeared (GREEN, FULL)")


def test_sorting_is_stable_in_both_directions() -> None:
    chips, wabas = _fleet()
    by_quality = sort_chips(chips, wabas, "quality", reverse=False)
    assert [c.quality_rating for c in by_quality] == ["RED", "YELLOW", "GREEN", "GREEN", "UNKNOWN"]
    greens = [c.display_number for c in by_quality if c.quality_rating == "GREEN"]
    assert greens == ["+1 555 010 0001", "+1 555 010 0005"]
    by_waba = sort_chips(chips, wabas, "waba", reverse=True)
    assert [c.waba_id for c in by_waba][:3] == ["200000000000001"] * 3
    assert sort_chips(chips, wabas, "no-such-column", reverse=False)[0].phone_number_id == PNIDS[0]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", 5),
        ("acme", 5),
        ("care", 2),
        ("5550100003", 1),
        ("quality:red", 1),
        ("q:green state:paused", 1),
        ("state:paused", 2),  # the operator pause and PAUSED_BUSINESS
        ("night", 1),  # the pause reason
        ("waba:sales tier:1k", 3),
        ("nothing-like-this", 0),
    ],
)
def test_filter_terms(query: str, expected: int) -> None:
    chips, wabas = _fleet()
    assert sum(chip_matches(c, wabas.get(c.waba_id), query) for c in chips) == expected


def test_events_become_log_lines() -> None:
    state = ConsoleState("/tmp/s")
    crashed = state.entry_for_event(
        ControlEvent("actor", 5.0, {"kind": "crashed", "actor_id": "chip:1", "error": "boom"})
    )
    assert crashed is not None
    assert (crashed.level, crashed.kind, crashed.source) == ("error", "actor", "chip:1")
    assert crashed.message == "crashed: boom"
    log = state.entry_for_event(ControlEvent("log", 6.0, {"level": "WARN", "message": "m"}))
    assert log is not None
    assert log.level == "warning"
    tap = state.entry_for_event(
        ControlEvent("campaign.tap", 6.5, {"campaign": "shifts", "ref": "V1", "wa_id": "5511",
                                           "text": "Quero"})
    )  # fmt: skip
    assert tap is not None
    assert (tap.level, tap.kind, tap.source, tap.message) == (
        "info",
        "tap",
        "shifts",
        "Quero (5511)",
    )
    odd = state.entry_for_event(ControlEvent("future-kind", 7.0, {"a": 1}))
    assert odd is not None
    assert (odd.level, odd.message) == ("debug", '{"a":1}')
    assert [e.seq for e in state.entries] == [1, 2, 3, 4]


def test_the_log_is_bounded() -> None:
    state = ConsoleState("/tmp/s", max_entries=3)
    for n in range(5):
        state.log(float(n), "info", "console", "", str(n))
    assert [e.message for e in state.entries] == ["2", "3", "4"]


def test_log_filter_terms() -> None:
    state = ConsoleState("/tmp/s")
    entry = state.log(1.0, "error", "actor", "chip:100000000000003", "crashed: boom")
    assert entry_matches(entry, "")
    assert entry_matches(entry, "boom kind:actor level:err")
    assert entry_matches(entry, "source:0003")
    assert not entry_matches(entry, "kind:log")


def test_formatting() -> None:
    assert [fmt_duration(s) for s in (5, 65, 7384, 200_000)] == ["5s", "1m 05s", "2h 03m", "2d 07h"]
    assert [fmt_rate(r) for r in (80.0, 12.5, 0.25, 0.0)] == ["80", "12.5", "0.25", "0"]


def test_the_backlog_is_what_was_not_logged_nor_received_live() -> None:
    """At the first connection all of it; live happenings from the subscription on (the
    first at 20) are not logged twice; after a reconnection, only what came after the
    newest logged."""
    state = ConsoleState("/tmp/s")

    def event(at: float) -> ControlEvent:
        return ControlEvent("log", at, {"message": str(at)})

    assert state.expect_backlog() == 0.0
    state.note_live(event(20.0))  # published after the subscription: in both
    kept = [event(12.0), event(10.0), event(20.0), event(21.0)]
    assert [e.at for e in state.new_in_backlog(kept)] == [10.0, 12.0]
    assert state.expect_backlog() == 20.0  # the next connection
    assert [e.at for e in state.new_in_backlog([*kept, event(25.0)])] == [21.0, 25.0]
    assert state.expect_backlog() == 25.0
