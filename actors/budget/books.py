"""What the budget ledger holds, and the form a checkpoint keeps it in.

Why apart from the rules (:mod:`actors.budget.ledger`): the ledger's state is two kinds
of record, a :class:`Bucket` per (scope, period key) and an :class:`Item` per message,
and a checkpoint is those records as JSON. Kept together, the records and their stored
form change in one place, and the ledger module keeps the rules (caps, alerts, what
each booking does to the records).

Internal to :mod:`actors.budget`: nothing outside the ledger builds these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

from actors.budget.periods import PeriodKeys, PeriodKind, period_keys
from actors.budget.values import ZERO, Scope, money

__all__ = [
    "Bucket",
    "BucketKey",
    "Capped",
    "Item",
    "Route",
    "dump",
    "key_seq",
    "load_buckets",
    "load_held",
]


class Bucket:
    """Spent and reserved amounts of one (scope, period key), and the thresholds fired."""

    __slots__ = ("fired", "reserved", "spent")

    def __init__(self) -> None:
        self.spent = ZERO
        self.reserved = ZERO
        self.fired: set[Decimal] = set()


class Item:
    """One message the ledger holds: reserved or settled, and where it counts."""

    __slots__ = ("amount", "at", "campaign", "keys", "settled", "waba")

    def __init__(
        self,
        amount: Decimal,
        at: float,
        keys: PeriodKeys,
        waba: str | None,
        campaign: str | None,
        *,
        settled: bool,
    ) -> None:
        self.amount = amount
        self.at = at
        self.keys = keys
        self.waba = waba
        self.campaign = campaign
        self.settled = settled


BucketKey: TypeAlias = tuple[str, str, str]
"""``(scope kind, scope id, period key)``: plain strings, whose hashes Python caches,
where a :class:`~actors.budget.values.Scope` in the key cost a call to its dataclass
``__hash__`` on every lookup, dozens of times per message."""


Capped: TypeAlias = tuple[tuple[PeriodKind, int, Decimal], ...]
"""A scope's caps that are set: period, its index in :func:`key_seq`, amount."""

Route: TypeAlias = tuple[Scope, str, str, Capped]
"""One scope a message counts in: the scope, its kind and id (its buckets' key), and its
set caps."""


def key_seq(keys: PeriodKeys) -> tuple[str, str, str]:
    """The day, week and month keys, in the order of :data:`~actors.budget.periods.PERIODS`."""
    return (keys.day, keys.week, keys.month)


def dump(
    tz: ZoneInfo, now: float, buckets: Mapping[BucketKey, Bucket], held: Mapping[str, Item]
) -> dict[str, Any]:
    """The checkpoint of these records at ``now``, JSON-safe: the buckets of the periods
    current at ``now`` (closed ones no longer matter) and the reservations ``held``."""
    current = set(key_seq(period_keys(now, tz)))
    return {
        "tz": tz.key,
        "at": now,
        "buckets": [
            [sk, sid, key, str(b.spent), str(b.reserved), sorted(str(t) for t in b.fired)]
            for (sk, sid, key), b in buckets.items()
            if key in current
        ],
        "held": [[ref, str(it.amount), it.at, it.waba, it.campaign] for ref, it in held.items()],
    }


def load_buckets(checkpoint: Mapping[str, Any]) -> dict[BucketKey, Bucket]:
    """The buckets of a :func:`dump`. Raises ValueError, KeyError or TypeError for a
    malformed one."""
    out: dict[BucketKey, Bucket] = {}
    rows: Iterable[Any] = checkpoint["buckets"]
    for sk, sid, key, spent, reserved, fired in rows:
        bucket = out[(str(sk), str(sid), str(key))] = Bucket()
        bucket.spent = money(spent, "checkpoint spent")
        bucket.reserved = money(reserved, "checkpoint reserved")
        bucket.fired = {Decimal(t) for t in fired}
    return out


def load_held(checkpoint: Mapping[str, Any], tz: ZoneInfo) -> dict[str, Item]:
    """The reservations held in a :func:`dump`, their periods in ``tz``. Raises
    ValueError, KeyError or TypeError for a malformed one."""
    out: dict[str, Item] = {}
    rows: Iterable[Any] = checkpoint["held"]
    for ref, amount, at, waba, campaign in rows:
        when = float(at)
        out[str(ref)] = Item(
            money(amount, "checkpoint amount"),
            when,
            period_keys(when, tz),
            waba,
            campaign,
            settled=False,
        )
    return out
