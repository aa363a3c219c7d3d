"""Budget periods: which local day, ISO week and month an instant falls in, and their bounds.

Why this is its own module: naming a period is calendar and time-zone work (local
midnights, DST days, ISO weeks that run into January, microsecond rounding at midnight)
that has nothing to do with money, and the day cache that makes it cheap has edge cases
of its own. The ledger only compares the keys it gets from here; keeping the two apart
lets each be read, and tested, without the other.

Pure: no I/O, no clock. ``now`` is epoch seconds (float, UTC) as everywhere in actors;
the zone turns it into local periods. The one piece of state is the per-zone day cache,
which only answers for the span it was filled for, so it never changes an answer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias
from zoneinfo import ZoneInfo

__all__ = [
    "PERIODS",
    "PeriodKeys",
    "PeriodKind",
    "period_bounds",
    "period_keys",
]

PeriodKind: TypeAlias = Literal["day", "week", "month"]
PERIODS: Final[tuple[PeriodKind, ...]] = ("day", "week", "month")


@dataclass(frozen=True, slots=True)
class PeriodKeys:
    """The day, week and month an instant falls in, in the ledger's zone."""

    day: str
    week: str
    month: str

    def of(self, kind: PeriodKind) -> str:
        match kind:
            case "day":
                return self.day
            case "week":
                return self.week
            case "month":
                return self.month

    def items(self) -> tuple[tuple[PeriodKind, str], ...]:
        return (("day", self.day), ("week", self.week), ("month", self.month))


def _local_date(now: float, tz: ZoneInfo) -> dt.date:
    return dt.datetime.fromtimestamp(now, tz).date()


_DAY_S: Final = 86400.0
_EDGE_S: Final = 0.001
"""Left out at the end of a cached day: ``fromtimestamp`` rounds to the microsecond, so
an instant just before midnight may already name the next day."""
_PERIOD_CACHE: dict[ZoneInfo, tuple[float, float, PeriodKeys]] = {}
"""Per zone, the last local day seen: ``[start, end)`` and its keys."""
_PERIOD_CACHE_MAX: Final = 64


def period_keys(now: float, tz: ZoneInfo) -> PeriodKeys:
    """Name the local day, ISO week (Monday start) and month of epoch second ``now``.

    Every reservation asks for its periods and converting ``now`` to a local date was
    the costliest step of one. The keys only change at local midnight, so the current
    day's span is remembered per zone: an instant inside it gets the same keys without
    a zone conversion. Time still comes in as the argument; the cache only answers for
    the span it was filled for.
    """
    span = _PERIOD_CACHE.get(tz)
    if span is not None and span[0] <= now < span[1]:
        return span[2]
    d = _local_date(now, tz)
    iso = d.isocalendar()
    keys = PeriodKeys(
        day=f"day:{d.isoformat()}",
        week=f"week:{iso.year:04d}-W{iso.week:02d}",
        month=f"month:{d.year:04d}-{d.month:02d}",
    )
    bounds = _plain_day(d, tz)
    if bounds is not None and bounds[0] <= now < bounds[1]:
        if len(_PERIOD_CACHE) >= _PERIOD_CACHE_MAX and tz not in _PERIOD_CACHE:
            _PERIOD_CACHE.clear()  # many throwaway zone objects (ZoneInfo.no_cache)
        _PERIOD_CACHE[tz] = (bounds[0], bounds[1], keys)
    return keys


def _plain_day(d: dt.date, tz: ZoneInfo) -> tuple[float, float] | None:
    """``[start, end)`` of local day ``d`` if every instant in it is on ``d``, else None.

    Only a day of exactly 24 h with the same UTC offset at both ends qualifies: no zone
    in tzdata changes its offset twice within 24 h and back, so such a day holds no
    transition at all. A DST-change day, or one at the edge of what datetime can
    represent, is not cached and is converted on every call.
    """
    try:
        start = _local_midnight(d, tz)
        end = _local_midnight(d + dt.timedelta(days=1), tz)
        first = dt.datetime.fromtimestamp(start, tz)
        last = dt.datetime.fromtimestamp(end - 1.0, tz)
    except (OverflowError, ValueError, OSError):
        return None
    if (
        end - start != _DAY_S
        or first.utcoffset() != last.utcoffset()
        or first.date() != d
        or last.date() != d
    ):
        return None
    return start, end - _EDGE_S


def _local_midnight(d: dt.date, tz: ZoneInfo) -> float:
    # A midnight skipped by a DST change (Brazil did that until 2019) resolves, with
    # fold=0, to the first instant of the day, which is what a period start must be.
    return dt.datetime.combine(d, dt.time(0), tzinfo=tz).timestamp()


def period_bounds(now: float, tz: ZoneInfo, kind: PeriodKind) -> tuple[float, float]:
    """``[start, end)`` in epoch seconds of the ``kind`` period holding ``now``.

    For showing when a cap resets; the ledger itself only compares keys.
    """
    d = _local_date(now, tz)
    match kind:
        case "day":
            start, end = d, d + dt.timedelta(days=1)
        case "week":
            start = d - dt.timedelta(days=d.weekday())
            end = start + dt.timedelta(days=7)
        case "month":
            start = d.replace(day=1)
            end = (start + dt.timedelta(days=32)).replace(day=1)
    return _local_midnight(start, tz), _local_midnight(end, tz)
