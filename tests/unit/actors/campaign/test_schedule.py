"""When a campaign may send: hours, weekdays, quiet hours, start and end, in local time."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from actors.campaign.schedule import allowed_intervals, next_open, open_seconds_between
from config.campaign import ScheduleSpec

SP = ZoneInfo("America/Sao_Paulo")  # UTC-3 all year (no daylight saving since 2019)
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]

# 2026-12-01 is a Tuesday; 12-04 Friday, 12-05 Saturday, 12-06 Sunday, 12-07 Monday.


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> dt.datetime:
    """A local (São Paulo) instant in December 2026."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SP)


def utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A UTC instant in December 2026 (three hours ahead of São Paulo), for the rows that
    check a schedule is read in local time whatever the offset of ``now``."""
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=dt.UTC)


def spec(**kw: Any) -> ScheduleSpec:
    return ScheduleSpec.model_validate(kw)


OFFICE = {"weekdays": WEEKDAYS, "hours": "08:00-20:00"}

NEXT_OPEN = [
    pytest.param({}, at(1, 3), at(1, 3), id="no-limits-open-now"),
    pytest.param(OFFICE, at(1, 10), at(1, 10), id="inside-hours-now"),
    pytest.param(OFFICE, at(1, 8), at(1, 8), id="at-the-opening-minute"),
    pytest.param(OFFICE, at(1, 19, 59), at(1, 19, 59), id="last-minute"),
    pytest.param(OFFICE, at(1, 6), at(1, 8), id="before-hours-same-day"),
    pytest.param(OFFICE, at(1, 20), at(2, 8), id="at-the-closing-minute-next-day"),
    pytest.param(OFFICE, at(1, 22), at(2, 8), id="after-hours-next-day"),
    pytest.param(OFFICE, at(4, 21), at(7, 8), id="friday-night-to-monday"),
    pytest.param(OFFICE, at(5, 10), at(7, 8), id="saturday-to-monday"),
    pytest.param(OFFICE, at(6, 23, 59), at(7, 8), id="sunday-night-to-monday"),
    pytest.param(
        {"weekdays": ["sat"], "hours": "09:00-10:00"}, at(5, 10), at(12, 9), id="a-week-later"
    ),
    pytest.param(
        {"weekdays": ["sat", "sun"]}, at(2, 12), at(5, 0), id="weekend-only-from-wednesday"
    ),
    pytest.param(
        {"hours": "08:00-20:00", "quiet_hours": ["12:00-13:30"]},
        at(1, 12, 30),
        at(1, 13, 30),
        id="quiet-hours-split-the-day",
    ),
    pytest.param(
        {"hours": "08:00-20:00", "quiet_hours": ["12:00-13:30"]},
        at(1, 11, 59),
        at(1, 11, 59),
        id="just-before-quiet-hours",
    ),
    pytest.param(
        {"hours": "08:00-20:00", "quiet_hours": ["19:00-21:00"]},
        at(1, 19, 30),
        at(2, 8),
        id="quiet-hours-over-the-close",
    ),
    pytest.param(
        {"hours": "08:00-20:00", "quiet_hours": ["07:00-09:00", "12:00-13:00"]},
        at(1, 7),
        at(1, 9),
        id="quiet-hours-over-the-opening",
    ),
    pytest.param(
        {"quiet_hours": ["22:00-24:00", "00:00-07:00"]}, at(1, 23), at(2, 7), id="quiet-nights"
    ),
    pytest.param(
        {**OFFICE, "start": "2026-12-03T10:00:00-03:00"},
        at(1, 9),
        at(3, 10),
        id="start-in-the-future",
    ),
    pytest.param(
        {**OFFICE, "start": "2026-12-05T10:00:00-03:00"},
        at(1, 9),
        at(7, 8),
        id="start-on-a-weekend",
    ),
    pytest.param(
        {**OFFICE, "start": "2026-12-01T06:00:00-03:00"},
        at(1, 7),
        at(1, 8),
        id="start-passed-before-hours",
    ),
    pytest.param(
        {**OFFICE, "start": "2026-12-01T21:00:00-03:00"},
        at(1, 9),
        at(2, 8),
        id="start-after-the-days-hours",
    ),
    pytest.param(
        {**OFFICE, "start": "2027-01-20T10:00:00-03:00"},
        at(1, 9),
        dt.datetime(2027, 1, 20, 10, tzinfo=SP),
        id="start-weeks-in-the-future",
    ),
    pytest.param(
        {**OFFICE, "end": "2026-12-01T15:00:00-03:00"}, at(1, 14), at(1, 14), id="before-the-end"
    ),
    pytest.param({**OFFICE, "end": "2026-12-01T15:00:00-03:00"}, at(1, 15), None, id="at-the-end"),
    pytest.param({**OFFICE, "end": "2026-12-01T15:00:00-03:00"}, at(2, 9), None, id="end-passed"),
    pytest.param(
        {**OFFICE, "end": "2026-12-01T15:00:00-03:00"},
        at(1, 6),
        at(1, 8),
        id="end-later-today",
    ),
    pytest.param(
        {**OFFICE, "end": "2026-12-05T12:00:00-03:00"},
        at(4, 21),
        None,
        id="end-on-a-closed-day",
    ),
    pytest.param(
        {"start": "2026-12-01T10:00:00", "end": "2026-12-01T11:00:00"},
        utc(1, 12, 30),  # 09:30 in São Paulo
        at(1, 10),
        id="naive-start-is-local-time",
    ),
    pytest.param(
        {"end": "2026-12-01T11:00:00"},
        utc(1, 13, 30),  # 10:30 in São Paulo
        utc(1, 13, 30),
        id="naive-end-is-local-time-not-yet",
    ),
    pytest.param(
        {"end": "2026-12-01T11:00:00"},
        utc(1, 14),  # 11:00 in São Paulo
        None,
        id="naive-end-is-local-time-reached",
    ),
    pytest.param(
        OFFICE,
        utc(1, 10, 30),  # 07:30 in São Paulo
        at(1, 8),
        id="utc-now-before-local-hours",
    ),
    pytest.param(
        OFFICE,
        utc(1, 23, 30),  # 20:30 in São Paulo
        at(2, 8),
        id="utc-now-after-local-hours",
    ),
    pytest.param(
        OFFICE,
        utc(5, 1),  # Friday 22:00 in São Paulo
        at(7, 8),
        id="utc-saturday-is-local-friday",
    ),
    pytest.param(
        {**OFFICE, "start": "2026-12-01T14:00:00+01:00"},  # 10:00 in São Paulo
        at(1, 9),
        at(1, 10),
        id="aware-start-with-another-offset",
    ),
    pytest.param(
        {**OFFICE, "end": "2026-12-01T18:00:00+05:00"},  # 10:00 in São Paulo
        at(1, 10),
        None,
        id="aware-end-with-another-offset",
    ),
]


@pytest.mark.parametrize(("kw", "now", "expected"), NEXT_OPEN)
def test_next_open(kw: dict[str, Any], now: dt.datetime, expected: dt.datetime | None) -> None:
    got = next_open(now, spec(**kw), SP)
    assert got == expected
    if got is not None:
        assert got.utcoffset() is not None
        assert got >= now


def test_next_open_keeps_the_instant_when_open() -> None:
    now = dt.datetime(2026, 12, 1, 13, 0, 7, 123, tzinfo=dt.UTC)
    assert next_open(now, spec(), SP) == now


def test_nothing_allowed_all_day_is_never_open() -> None:
    # The file check refuses such a schedule (config.campaign); one stored before it did
    # must still never open.
    s = ScheduleSpec.model_construct(
        **(spec().model_dump() | {"hours": "08:00-12:00", "quiet_hours": ["07:00-13:00"]})
    )
    assert next_open(at(1, 9), s, SP) is None
    assert allowed_intervals(s, dt.date(2026, 12, 1), SP) == []


# --- allowed_intervals -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "day", "expected"),
    [
        pytest.param({}, 1, [(at(1, 0), at(2, 0))], id="whole-day-ends-at-midnight"),
        pytest.param(OFFICE, 5, [], id="saturday-closed"),
        pytest.param(
            {"hours": "08:00-20:00", "quiet_hours": ["12:00-13:30"]},
            1,
            [(at(1, 8), at(1, 12)), (at(1, 13, 30), at(1, 20))],
            id="quiet-hours-split",
        ),
        pytest.param(
            {"hours": "08:00-20:00", "quiet_hours": ["12:00-13:00", "15:00-16:00"]},
            1,
            [(at(1, 8), at(1, 12)), (at(1, 13), at(1, 15)), (at(1, 16), at(1, 20))],
            id="two-quiet-spans",
        ),
        pytest.param(
            {"hours": "08:00-20:00", "quiet_hours": ["06:00-07:00"]},
            1,
            [(at(1, 8), at(1, 20))],
            id="quiet-hours-outside",
        ),
        pytest.param(
            {"hours": "08:00-20:00", "start": "2026-12-01T10:00:00-03:00"},
            1,
            [(at(1, 10), at(1, 20))],
            id="cut-by-start",
        ),
        pytest.param(
            {"hours": "08:00-20:00", "end": "2026-12-01T10:00:00-03:00"},
            1,
            [(at(1, 8), at(1, 10))],
            id="cut-by-end",
        ),
        pytest.param(
            {"hours": "08:00-20:00", "end": "2026-12-01T07:00:00-03:00"},
            1,
            [],
            id="all-after-the-end",
        ),
    ],
)
def test_allowed_intervals(
    kw: dict[str, Any], day: int, expected: list[tuple[dt.datetime, dt.datetime]]
) -> None:
    assert allowed_intervals(spec(**kw), dt.date(2026, 12, day), SP) == expected


# --- open_seconds_between ------------------------------------------------------------------

H = 3600.0


@pytest.mark.parametrize(
    ("kw", "start", "end", "seconds"),
    [
        pytest.param({}, at(1, 0), at(2, 0), 24 * H, id="one-full-day"),
        pytest.param(OFFICE, at(1, 0), at(2, 0), 12 * H, id="office-day"),
        pytest.param(OFFICE, at(1, 10), at(1, 11), H, id="inside"),
        pytest.param(OFFICE, at(1, 19), at(2, 9), 2 * H, id="across-the-night"),
        pytest.param(OFFICE, at(5, 0), at(7, 0), 0.0, id="weekend"),
        pytest.param(OFFICE, at(7, 0), at(14, 0), 5 * 12 * H, id="a-week"),
        pytest.param(
            {"hours": "08:00-20:00", "quiet_hours": ["12:00-13:30"]},
            at(1, 0),
            at(2, 0),
            10.5 * H,
            id="minus-quiet-hours",
        ),
        pytest.param(
            {**OFFICE, "end": "2026-12-01T10:00:00-03:00"}, at(1, 0), at(3, 0), 2 * H, id="end"
        ),
        pytest.param(OFFICE, at(1, 11), at(1, 10), 0.0, id="end-before-start"),
        pytest.param(
            OFFICE,
            utc(1, 12),  # 09:00 local
            utc(1, 15),  # 12:00 local
            3 * H,
            id="utc-bounds",
        ),
    ],
)
def test_open_seconds_between(
    kw: dict[str, Any], start: dt.datetime, end: dt.datetime, seconds: float
) -> None:
    assert open_seconds_between(start, end, spec(**kw), SP) == seconds
