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
from actors.budget.values import GLOBAL, ZERO, CapRef, Scope, money

__all__ = [
    "FORM",
    "Bucket",
    "BucketKey",
    "Capped",
    "Item",
    "Route",
    "check_form",
    "dump",
    "ended_buckets",
    "held_buckets",
    "key_seq",
    "load_buckets",
    "load_held",
    "open_buckets",
    "over_caps",
    "scopes_of",
    "settled_before",
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


def scopes_of(waba: str | None, campaign: str | None) -> tuple[Scope, ...]:
    """The scopes a message counts in: always the global one, and its WABA's and its
    campaign's when it has them."""
    out = [GLOBAL]
    if waba is not None:
        out.append(Scope.waba(waba))
    if campaign is not None:
        out.append(Scope.campaign(campaign))
    return tuple(out)


def open_buckets(
    buckets: dict[BucketKey, Bucket], routes: tuple[Route, ...], ks: tuple[str, str, str]
) -> list[Bucket]:
    """Every bucket a new message counts in, created where missing."""
    out: list[Bucket] = []
    for _, sk, sid, _ in routes:
        for key in ks:
            bucket = buckets.get((sk, sid, key))
            if bucket is None:
                bucket = buckets[(sk, sid, key)] = Bucket()
            out.append(bucket)
    return out


def held_buckets(
    buckets: Mapping[BucketKey, Bucket], routes: tuple[Route, ...], ks: tuple[str, str, str]
) -> list[Bucket]:
    """The buckets a booked message still counts in (a pruned one is a closed period:
    nothing more is booked there)."""
    return [
        bucket
        for _, sk, sid, _ in routes
        for key in ks
        if (bucket := buckets.get((sk, sid, key))) is not None
    ]


def dump(
    tz: ZoneInfo, now: float, buckets: Mapping[BucketKey, Bucket], held: Mapping[str, Item]
) -> dict[str, Any]:
    """The checkpoint of these records at ``now``, JSON-safe: the buckets of the periods
    current at ``now`` (closed ones no longer matter) and the reservations ``held``."""
    current = set(key_seq(period_keys(now, tz)))
    return {
        "form": FORM,
        "tz": tz.key,
        "at": now,
        "buckets": [
            [sk, sid, key, str(b.spent), str(b.reserved), sorted(str(t) for t in b.fired)]
            for (sk, sid, key), b in buckets.items()
            if key in current
        ],
        "held": [[ref, str(it.amount), it.at, it.waba, it.campaign] for ref, it in held.items()],
    }


FORM = 2
"""The checkpoint's form. 2: restored alone, with the journal after it (settlements say
what they replace). The first form (no ``form`` key) was restored with the 8 days of
journal before it, whose settlements did not: a start from one replays the journal."""


def check_form(checkpoint: Mapping[str, Any]) -> None:
    """Raises ValueError for a checkpoint of another form than :data:`FORM`."""
    if checkpoint.get("form") != FORM:
        raise ValueError(f"budget checkpoint of form {checkpoint.get('form', 1)!r}")


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


def ended_buckets(buckets: Mapping[BucketKey, Bucket], current: set[str]) -> list[BucketKey]:
    """Buckets of periods no longer current that hold no reservation: nothing can book
    into them any more (a late price of a dropped period is not booked)."""
    return [k for k, b in buckets.items() if k[2] not in current and b.reserved == ZERO]


def settled_before(items: Mapping[str, Item], cutoff: float) -> list[str]:
    """Settled messages booked before ``cutoff``; open reservations are kept whatever
    their age.

    Messages are remembered in the order they were booked, so the walk stops at the
    first younger one: a pass costs what it drops (plus the open reservations ahead),
    not the days of messages kept. Another daemon's entry, caught up a moment late, may
    sit behind a younger one; the next pass takes it."""
    dead: list[str] = []
    for ref, item in items.items():
        if item.at >= cutoff:
            break
        if item.settled:
            dead.append(ref)
    return dead


def over_caps(
    buckets: Mapping[BucketKey, Bucket], routes: Iterable[Route], ks: tuple[str, str, str]
) -> tuple[CapRef, ...]:
    """The caps a message's buckets (``routes`` in the periods ``ks``) are over."""
    out: list[CapRef] = []
    for scope, sk, sid, capped in routes:
        for kind, i, cap in capped:
            bucket = buckets.get((sk, sid, ks[i]))
            if bucket is not None and bucket.spent + bucket.reserved > cap:
                out.append(CapRef(scope, kind))
    return tuple(out)
