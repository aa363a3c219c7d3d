"""Races between the console's two sources, fed in the racing order.

A budget alert published across a reconnection comes both in the ``events.recent``
backlog and live, or split (its mirrored log line only in the backlog): it is one line.
A ``campaign.list`` answer and ``campaign.progress`` events overtake each other: by the
daemon's ``as_of`` stamps, no transition that did not happen is logged, and counts never
step back. The rules are
driven here on the console's state objects (tests/tui/test_console_races.py reproduces
the same races in the console, as a tester saw them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from tests.tui.fakes import BUDGET_ALERT, EPOCH, PNIDS, budget_alert, budget_mirror
from tui.campaign_feed import CampaignFeed, stale
from tui.campaigns import Campaign
from tui.client import ControlEvent
from tui.happenings import HappeningLog
from tui.inbox import Changes
from tui.model import Chip
from tui.state import ConsoleState, LogEntry

QUALITY = (f"chip {PNIDS[0]} quality GREEN/FULL → YELLOW/SLOWED (webhook): "
           "phone_number_quality_update")  # fmt: skip


class _Happenings:
    """A :class:`HappeningLog` on a bare state; a mirror's hold ends when the test says."""

    def __init__(self) -> None:
        self.state = ConsoleState("/tmp/s")
        self.holds: list[Callable[[], None]] = []
        self.delivered: list[LogEntry] = []
        self.log = HappeningLog(
            self.state,
            hold_s=5.0,
            later=lambda _delay, callback: self.holds.append(callback),
            deliver=lambda changes: self.delivered.extend(changes.entries),
            budget_moved=lambda: None,
        )

    def live(self, *events: ControlEvent) -> None:
        changes = Changes()
        for event in events:
            self.log.live(event, changes)
        self.delivered.extend(changes.entries)

    def backlog(self, *events: ControlEvent) -> None:
        self.delivered.extend(self.log.backlog(events, EPOCH + 100).entries)

    def holds_end(self) -> None:
        holds, self.holds = self.holds, []
        for end in holds:
            end()

    def lines(self) -> list[tuple[str, str]]:
        return [(e.kind, e.message) for e in self.delivered if e.kind != "console"]


# -- a budget alert across a reconnection ------------------------------------------------


def test_a_split_pair_is_one_line_when_the_twin_comes_live_first() -> None:
    """The mirror was published while the console was away, its twin just after the new
    subscription: the twin comes live (applied with the snapshot) and in the backlog,
    the mirror only in the backlog, whose batch then lacks the twin it pairs with."""
    h = _Happenings()
    h.state.expect_backlog()
    mirror, alert = budget_mirror(EPOCH + 10), budget_alert(EPOCH + 10.001)
    h.live(alert)
    h.backlog(mirror, alert)
    h.holds_end()
    assert h.lines() == [("budget", BUDGET_ALERT)]
    assert len(h.state.budget_alerts) == 1


def test_a_pair_in_the_backlog_and_then_live_is_one_line() -> None:
    """Published after the subscription, asked for in ``events.recent`` before its live
    copies were applied: the live copies are the same happenings."""
    h = _Happenings()
    h.state.expect_backlog()
    mirror, alert = budget_mirror(EPOCH + 10), budget_alert(EPOCH + 10.001)
    h.backlog(mirror, alert)
    h.live(mirror, alert)
    h.holds_end()
    assert h.lines() == [("budget", BUDGET_ALERT)]
    assert len(h.state.budget_alerts) == 1


def test_a_mirror_logged_when_its_hold_ended_is_not_followed_by_its_twin() -> None:
    """The connection ended before the twin came, and the console was away longer than
    the hold: the mirror showed the alert; the twin, in the next backlog, adds its alert
    to the budget screen but no second line."""
    h = _Happenings()
    h.state.expect_backlog()
    mirror, alert = budget_mirror(EPOCH + 10), budget_alert(EPOCH + 10.001)
    h.live(mirror)
    h.holds_end()
    h.state.expect_backlog()  # reconnected
    h.backlog(mirror, alert)
    assert h.lines() == [("log", f"budget alert: {BUDGET_ALERT}")]
    assert len(h.state.budget_alerts) == 1


def test_another_alert_with_its_own_pair_still_shows() -> None:
    h = _Happenings()
    h.state.expect_backlog()
    h.backlog(budget_mirror(EPOCH + 10), budget_alert(EPOCH + 10.001))
    later = budget_mirror(EPOCH + 500, "budget alert: global week cap at 80%")
    h.live(later, budget_mirror(EPOCH + 501, "budget alert: unpaired"))
    h.holds_end()
    assert h.lines() == [("budget", BUDGET_ALERT), ("log", "budget alert: global week cap at 80%"),
                         ("log", "budget alert: unpaired")]  # fmt: skip


def test_a_rating_change_whose_mirror_the_backlog_showed_is_not_logged_again() -> None:
    h = _Happenings()
    h.state.expect_backlog()
    mirror = ControlEvent("log", EPOCH + 10, {"level": "WARNING", "logger": "metad.chip",
                                              "message": QUALITY})  # fmt: skip
    h.backlog(mirror)
    h.live(mirror)  # its live copy: already shown
    green = Chip(phone_number_id=PNIDS[0], quality_rating="GREEN", mode="FULL")
    yellow = Chip(phone_number_id=PNIDS[0], quality_rating="YELLOW", mode="SLOWED")
    assert h.log.chip_detail(green, yellow, EPOCH + 11) is None  # its mirror is the line
    assert h.log.chip_detail(yellow, green, EPOCH + 400) == ""  # a later change: logged
    assert h.lines() == [("log", QUALITY)]


# -- campaign.list against campaign.progress ------------------------------------------
# Stamps are seconds after T0; the daemon took a version's figures at its stamp.

T0 = EPOCH


def _c(state: str, at: float | None, sent: int = 100, **more: Any) -> Campaign:
    """Campaign c1 as the daemon stamped it ``at`` seconds after T0 (None: unstamped)."""
    as_of = None if at is None else T0 + at
    return Campaign("c1", "Spring", state, total=1000, sent=sent, as_of=as_of, **more)


def _feed(*first: Campaign) -> tuple[ConsoleState, CampaignFeed, list[str]]:
    state = ConsoleState("/tmp/s")
    feed = CampaignFeed(state)
    feed.listed(list(first or [_c("running", 5)]), EPOCH)  # where it starts
    return state, feed, []


def _progress(feed: CampaignFeed, lines: list[str], campaign: Campaign) -> None:
    changes = Changes()
    feed.progress(campaign, EPOCH, changes)
    lines.extend(e.message for e in changes.entries)


def _list(feed: CampaignFeed, lines: list[str], *campaigns: Campaign) -> None:
    lines.extend(e.message for e in feed.listed(list(campaigns), EPOCH).entries)


def _shown(state: ConsoleState) -> tuple[str, int]:
    return state.campaigns["c1"].state, state.campaigns["c1"].sent


def test_a_version_stamped_before_the_one_shown_is_stale() -> None:
    """Equal is not stale (the pause's answer and its own event are one version); without
    a stamp on either side only arrival order is known."""
    assert stale(_c("running", 10), _c("paused", 11))
    assert not stale(_c("paused", 11), _c("paused", 11))
    assert not stale(_c("running", 12), _c("paused", 11))
    assert not stale(_c("running", None), _c("paused", 11))
    assert not stale(_c("running", 10), _c("paused", None))
    assert not stale(_c("running", 10), None)


def test_an_event_the_list_overtook_logs_no_transition() -> None:
    """Running at 10, the pause's event at 11, both written after the list of 12."""
    state, feed, lines = _feed()
    _list(feed, lines, _c("paused", 12, 120))
    _progress(feed, lines, _c("running", 10, 110))  # stale: neither shown nor logged
    assert _shown(state) == ("paused", 120)
    _progress(feed, lines, _c("paused", 11, 120))  # stale too
    _progress(feed, lines, _c("running", 13, 120))  # a real resume, nothing sent yet
    assert lines == ["running → paused", "paused → running"]
    assert _shown(state) == ("running", 120)


def test_a_list_counted_before_an_event_that_came_first_does_not_regress_it() -> None:
    state, feed, lines = _feed()
    _progress(feed, lines, _c("paused", 11, 130))  # came while the list was on its way …
    _list(feed, lines, _c("running", 10, 120))  # … with figures from before it
    assert _shown(state) == ("paused", 130)
    _list(feed, lines, _c("paused", 12, 130))  # the next poll agrees
    assert lines == ["running → paused"]


def test_newer_figures_win_whichever_source_brings_them() -> None:
    state, feed, lines = _feed()
    _progress(feed, lines, _c("running", 10, 110))
    _list(feed, lines, _c("paused", 11, 150))
    _progress(feed, lines, _c("running", 10.5, 140))  # between the two: stale
    assert _shown(state) == ("paused", 150)
    _progress(feed, lines, _c("running", 12, 160))
    _progress(feed, lines, _c("finished", 13, 160))
    assert lines == ["running → paused", "paused → running", "running → finished"]
    assert _shown(state) == ("finished", 160)


def test_counts_that_went_down_are_taken_when_stamped_later() -> None:
    """A delivered message Meta reports failed: the later stamp wins, not the counts."""
    state, feed, lines = _feed()
    _progress(feed, lines, _c("running", 10, 120, delivered=100))
    _list(feed, lines, _c("paused", 11, 120, delivered=99, failed=1))
    _progress(feed, lines, _c("running", 10.5, 120, delivered=100))  # overtaken: stale
    assert (state.campaigns["c1"].state, state.campaigns["c1"].delivered) == ("paused", 99)
    _list(feed, lines, _c("running", 12, 120, delivered=98, failed=2))
    _progress(feed, lines, _c("running", 13, 121, delivered=98, failed=2))
    assert (state.campaigns["c1"].sent, state.campaigns["c1"].delivered) == (121, 98)
    assert lines == ["running → paused", "paused → running"]


def test_a_stale_list_entry_keeps_its_campaign_and_takes_the_others() -> None:
    other = Campaign("c2", "Winter", "running", total=10, as_of=T0 + 5)
    state, feed, lines = _feed(_c("running", 5), other)
    _progress(feed, lines, _c("paused", 11, 130))
    paused_other = dataclasses.replace(other, state="paused", as_of=T0 + 10)
    _list(feed, lines, _c("running", 10, 120), paused_other)  # c1's figures: stale
    assert _shown(state) == ("paused", 130)
    assert state.campaigns["c2"].state == "paused"
    assert lines == ["running → paused", "running → paused"]


def test_an_action_answer_is_not_undone_by_an_earlier_event() -> None:
    state, feed, lines = _feed()
    feed.answered(_c("paused", 11, 120))  # the operator paused it
    _progress(feed, lines, _c("running", 10, 120))  # published before the pause
    assert state.campaigns["c1"].state == "paused"
    assert lines == []


def test_an_older_daemons_unstamped_versions_apply_as_they_come() -> None:
    state, feed, lines = _feed(_c("running", None))
    _list(feed, lines, _c("paused", None, 120))
    _progress(feed, lines, _c("running", None, 110))
    assert _shown(state) == ("running", 110)
    assert lines == ["running → paused", "paused → running"]
