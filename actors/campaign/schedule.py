"""When a campaign may send: dates, weekdays, hours and quiet hours, in local time.

Why one function that answers "the next moment sending is allowed": the runner sleeps
until then instead of polling, ``metad campaign plan`` uses it to estimate the
duration, and tests ask it about any instant without waiting. Local time is the
configured time zone (America/Sao_Paulo by default); a daylight-saving change is
handled by building each day's intervals in local time and converting.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from config.campaign import WEEKDAYS, ScheduleSpec, open_spans

__all__ = [
    "allowed_intervals",
    "next_open",
    "open_interval",
    "open_seconds_between",
    "sending_ends",
]

_HORIZON_DAYS = 8


def _local(value: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)


def allowed_intervals(
    spec: ScheduleSpec, day: dt.date, tz: ZoneInfo
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The day's sending intervals as aware datetimes (empty on a weekday not allowed)."""
    if WEEKDAYS[day.weekday()] not in spec.weekdays:
        return []
    out = []
    for start, end in open_spans(spec.hours, spec.quiet_hours):
        a = dt.datetime.combine(day, start, tz)
        b = (
            dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz)
            if end == dt.time.max
            else dt.datetime.combine(day, end, tz)
        )
        lo = _local(spec.start, tz) if spec.start else None
        hi = _local(spec.end, tz) if spec.end else None
        if lo is not None:
            a = max(a, lo)
        if hi is not None:
            b = min(b, hi)
        if b > a:
            out.append((a, b))
    return out


def open_interval(
    now: dt.datetime, spec: ScheduleSpec, tz: ZoneInfo
) -> tuple[dt.datetime, dt.datetime] | None:
    """The sending interval ``now`` is in, or the next one: (``max(its start, now)``,
    its end). None once the schedule's end has passed or nothing is allowed within a
    week of ``now`` (or of the schedule's start, when that is later)."""
    local = max(now.astimezone(tz), _local(spec.start, tz)) if spec.start else now.astimezone(tz)
    if spec.end is not None and local >= _local(spec.end, tz):
        return None
    for offset in range(_HORIZON_DAYS):
        day = local.date() + dt.timedelta(days=offset)
        for a, b in allowed_intervals(spec, day, tz):
            if b > local:
                return max(a, local), b
    return None


def next_open(now: dt.datetime, spec: ScheduleSpec, tz: ZoneInfo) -> dt.datetime | None:
    """``now`` when sending is allowed now, else the next allowed instant; None once the
    schedule's end has passed or nothing is allowed within the next week."""
    span = open_interval(now, spec, tz)
    return None if span is None else span[0]


def open_seconds_between(
    start: dt.datetime, end: dt.datetime, spec: ScheduleSpec, tz: ZoneInfo
) -> float:
    """How many seconds of sending time the schedule allows in [start, end)."""
    total = 0.0
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    while day <= last:
        for a, b in allowed_intervals(spec, day, tz):
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += dt.timedelta(days=1)
    return total


def sending_ends(
    now: dt.datetime, seconds: float, spec: ScheduleSpec, tz: ZoneInfo
) -> dt.datetime | None:
    """When ``seconds`` of sending that start at ``now`` end, counting only the time the
    schedule allows; None when they do not fit in the schedule (or within a year).

    Why here: the plan's expected end and a running campaign's ETA are the same
    question; answered apart, the ETA said "1s" for a campaign waiting a day and a half
    for its Saturday hours while the plan said Saturday."""
    if seconds != seconds or seconds == float("inf"):
        return None
    start = next_open(now, spec, tz)
    if start is None:
        return None
    day = start
    left = seconds
    for _ in range(366):
        nxt = day + dt.timedelta(days=1)
        available = open_seconds_between(day, nxt, spec, tz)
        if available >= left:
            # Walk forward inside this day to the exact end.
            lo, hi = day, nxt
            for _ in range(40):
                mid = lo + (hi - lo) / 2
                if open_seconds_between(day, mid, spec, tz) >= left:
                    hi = mid
                else:
                    lo = mid
            return hi
        left -= available
        day = nxt
    return None
