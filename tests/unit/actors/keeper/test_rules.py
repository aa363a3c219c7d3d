from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from actors.keeper import QuietHours, due

SP = ZoneInfo("America/Sao_Paulo")
NEVER = QuietHours(dt.time(0), dt.time(0), SP)
NIGHT = QuietHours(dt.time(20), dt.time(8), SP)
LEAD, MARGIN, DAY = 7200.0, 300.0, 86_400.0


def at(hour: int, minute: int = 0) -> float:
    return dt.datetime(2026, 12, 1, hour, minute, tzinfo=SP).timestamp()


def check(
    now: float,
    expiry: float | None,
    *,
    marked: bool = True,
    last: float | None = None,
    quiet: QuietHours = NEVER,
) -> bool:
    return due(now, expiry, marked, last, quiet, lead_s=LEAD, margin_s=MARGIN, window_s=DAY)


def test_due_in_the_lead_before_expiry_only() -> None:
    now = at(12)
    assert check(now, now + LEAD)
    assert check(now, now + MARGIN + 1)
    assert not check(now, now + LEAD + 1)  # too early
    assert not check(now, now + MARGIN)  # too late: it may land after the close
    assert not check(now, now - 1)  # closed


def test_only_marked_conversations_with_a_window() -> None:
    now = at(12)
    assert not check(now, now + 3600, marked=False)
    assert not check(now, None)


def test_once_per_window() -> None:
    now, expiry = at(12), at(13)
    opened = expiry - DAY
    assert not check(now, expiry, last=now - 60)  # kept earlier in this window
    assert not check(now, expiry, last=opened)
    assert check(now, expiry, last=opened - 1)  # kept in the previous window


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [(20, 0, True), (23, 59, True), (0, 0, True), (7, 59, True), (8, 0, False), (19, 59, False)],
)
def test_quiet_hours_span_midnight_in_the_configured_zone(
    hour: int, minute: int, quiet: bool
) -> None:
    now = at(hour, minute)
    assert NIGHT.contains(now) is quiet
    assert check(now, now + 3600, quiet=NIGHT) is not quiet


def test_daytime_quiet_hours_and_none() -> None:
    lunch = QuietHours(dt.time(12), dt.time(14), SP)
    assert lunch.contains(at(12, 30))
    assert not lunch.contains(at(14))
    assert not NEVER.contains(at(3))
