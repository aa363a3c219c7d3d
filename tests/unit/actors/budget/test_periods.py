from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from actors.budget.periods import PeriodKeys, PeriodKind, period_bounds, period_keys

SP = ZoneInfo("America/Sao_Paulo")
UTC = ZoneInfo("UTC")
NY = ZoneInfo("America/New_York")


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> float:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=dt.UTC).timestamp()


NOW = utc(2026, 11, 25, 15, 0)  # Wednesday afternoon in São Paulo


# --------------------------------------------------------------------------- keys and bounds


@pytest.mark.parametrize(
    ("instant", "tz", "day", "week", "month"),
    [
        # 02:30 UTC is still the previous evening in São Paulo (UTC-3)
        (utc(2026, 11, 25, 2, 30), SP, "2026-11-24", "2026-W48", "2026-11"),
        (utc(2026, 11, 25, 2, 30), UTC, "2026-11-25", "2026-W48", "2026-11"),
        (utc(2026, 11, 25, 2, 59, 59), SP, "2026-11-24", "2026-W48", "2026-11"),
        (utc(2026, 11, 25, 3, 0), SP, "2026-11-25", "2026-W48", "2026-11"),  # local midnight
        # week starts on Monday at local midnight
        (utc(2026, 11, 30, 2, 59, 59), SP, "2026-11-29", "2026-W48", "2026-11"),
        (utc(2026, 11, 30, 3, 0), SP, "2026-11-30", "2026-W49", "2026-11"),
        (utc(2026, 11, 30, 1, 0), UTC, "2026-11-30", "2026-W49", "2026-11"),
        # month boundary
        (utc(2026, 12, 1, 2, 59, 59), SP, "2026-11-30", "2026-W49", "2026-11"),
        (utc(2026, 12, 1, 3, 0), SP, "2026-12-01", "2026-W49", "2026-12"),
        # year boundary: New Year in UTC is still December in São Paulo
        (utc(2027, 1, 1, 0, 30), SP, "2026-12-31", "2026-W53", "2026-12"),
        (utc(2027, 1, 1, 0, 30), UTC, "2027-01-01", "2026-W53", "2027-01"),
        (utc(2027, 1, 1, 3, 0), SP, "2027-01-01", "2026-W53", "2027-01"),  # ISO week spans
        (utc(2027, 1, 4, 2, 59), SP, "2027-01-03", "2026-W53", "2027-01"),
        (utc(2027, 1, 4, 3, 0), SP, "2027-01-04", "2027-W01", "2027-01"),
        # a Monday in December opening week 1 of the next ISO year
        (utc(2025, 12, 29, 12, 0), SP, "2025-12-29", "2026-W01", "2025-12"),
    ],
)
def test_period_keys(instant: float, tz: ZoneInfo, day: str, week: str, month: str) -> None:
    assert period_keys(instant, tz) == PeriodKeys(
        day=f"day:{day}", week=f"week:{week}", month=f"month:{month}"
    )


@pytest.mark.parametrize(
    ("instant", "tz", "kind", "start", "end"),
    [
        (NOW, SP, "day", utc(2026, 11, 25, 3), utc(2026, 11, 26, 3)),
        (utc(2026, 11, 25, 2, 30), SP, "day", utc(2026, 11, 24, 3), utc(2026, 11, 25, 3)),
        (NOW, SP, "week", utc(2026, 11, 23, 3), utc(2026, 11, 30, 3)),
        (NOW, SP, "month", utc(2026, 11, 1, 3), utc(2026, 12, 1, 3)),
        (utc(2026, 12, 31, 12), SP, "month", utc(2026, 12, 1, 3), utc(2027, 1, 1, 3)),
        (utc(2027, 1, 1, 12), SP, "week", utc(2026, 12, 28, 3), utc(2027, 1, 4, 3)),
        (NOW, UTC, "day", utc(2026, 11, 25), utc(2026, 11, 26)),
        # São Paulo's last DST start (2018): local midnight did not exist; the day starts
        # at the first instant that did (01:00 -02) and lasts 23 hours
        (utc(2018, 11, 4, 12), SP, "day", utc(2018, 11, 4, 3), utc(2018, 11, 5, 2)),
        # a 23-hour day (DST starts) in a zone that still changes clocks
        (
            utc(2026, 3, 8, 12),
            ZoneInfo("America/New_York"),
            "day",
            utc(2026, 3, 8, 5),
            utc(2026, 3, 9, 4),
        ),
    ],
)
def test_period_bounds(
    instant: float, tz: ZoneInfo, kind: PeriodKind, start: float, end: float
) -> None:
    assert period_bounds(instant, tz, kind) == (start, end)
    key = period_keys(instant, tz).of(kind)
    assert period_keys(start, tz).of(kind) == key
    assert period_keys(end - 0.001, tz).of(kind) == key
    assert period_keys(end, tz).of(kind) != key


# --------------------------------------------------------------------------- cached periods
# period_keys remembers the current local day per zone; these would fail if it answered
# for an instant outside the day it was filled for.


def _uncached_keys(now: float, tz: ZoneInfo) -> PeriodKeys:
    d = dt.datetime.fromtimestamp(now, tz).date()
    iso = d.isocalendar()
    return PeriodKeys(
        day=f"day:{d.isoformat()}",
        week=f"week:{iso.year:04d}-W{iso.week:02d}",
        month=f"month:{d.year:04d}-{d.month:02d}",
    )


@pytest.mark.parametrize(
    ("tz", "midnight"),
    [
        (SP, utc(2026, 11, 26, 3)),  # an ordinary day
        (SP, utc(2026, 11, 30, 3)),  # a new ISO week
        (SP, utc(2027, 1, 1, 3)),  # a new month and year, same ISO week
        (UTC, utc(2026, 11, 26)),
        (SP, utc(2018, 11, 4, 3)),  # DST start: local midnight did not exist
        (SP, utc(2019, 2, 17, 3)),  # DST end: 23:00-24:00 of the 16th happened twice
        (NY, utc(2026, 3, 8, 5)),  # 23-hour day
        (NY, utc(2026, 11, 1, 4)),  # 25-hour day
    ],
)
def test_period_keys_cache_turns_over_at_local_midnight(tz: ZoneInfo, midnight: float) -> None:
    # Walk from a day and a half before to a day and a half after, in the order a
    # running daemon sees time, so every answer may come from the cache.
    instants = [midnight + k * 599.9 for k in range(-216, 217)]
    instants += [midnight - 0.002, midnight - 0.0004, midnight - 4e-7, midnight, midnight + 1e-6]
    for now in sorted(instants):
        assert period_keys(now, tz) == _uncached_keys(now, tz), now
    # The last instant of the day, then the first of the next, back to back.
    before = period_keys(midnight - 1, tz)
    after = period_keys(midnight, tz)
    assert before.day != after.day
    assert period_keys(midnight - 1, tz) == before  # time going back is not stale either


def test_period_keys_sub_microsecond_before_midnight_is_the_next_day() -> None:
    # fromtimestamp rounds to the microsecond: the cache must not claim this instant.
    midnight = utc(2026, 11, 26, 3)
    period_keys(midnight - 60, SP)
    assert period_keys(midnight - 1e-7, SP).day == "day:2026-11-26"
    assert period_keys(midnight - 1e-7, SP) == _uncached_keys(midnight - 1e-7, SP)


def test_period_keys_cache_is_per_zone() -> None:
    instant = utc(2026, 11, 25, 2, 30)  # 23:30 the day before in São Paulo
    for _ in range(3):
        assert period_keys(instant, SP).day == "day:2026-11-24"
        assert period_keys(instant, UTC).day == "day:2026-11-25"
        assert period_keys(instant, ZoneInfo("Asia/Tokyo")).day == "day:2026-11-25"
        assert period_keys(instant, ZoneInfo("Pacific/Honolulu")).day == "day:2026-11-24"
