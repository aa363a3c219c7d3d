"""When the budget's alerts fire: thresholds of each cap, once per period.

Why apart from the ledger's bookings: which thresholds a cap has, when usage has reached
one and that each fires once per (scope, period, threshold) are one rule, applied after
every booking and when caps change (:meth:`~actors.budget.ledger.Ledger.alerts`); the
ledger calls :func:`fire` with the buckets a booking touched.

The usage (spent + reserved) reaching a threshold fires it; falling back under it and
rising again in the same period does not; the next period starts afresh. 100 % is always
among the thresholds, whatever the config lists: reaching a cap is when sends start
being refused, which the operator must hear about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Final

from actors.budget.books import Bucket, BucketKey, Route
from actors.budget.values import ONE, ZERO, Alert, CapRef, money

__all__ = ["DEFAULT_ALERT_AT", "fire", "fire_routes", "reached", "thresholds"]

DEFAULT_ALERT_AT: Final[tuple[Decimal, ...]] = (
    Decimal("0.5"),
    Decimal("0.8"),
    Decimal("0.95"),
    ONE,
)


def thresholds(alert_at: Iterable[Decimal | float]) -> tuple[Decimal, ...]:
    """The alert fractions, ascending, 1 always last. Raises ValueError for one outside
    (0, 1]."""
    out = {money(t, "alert threshold") for t in alert_at}
    if any(t <= ZERO or t > ONE for t in out):
        raise ValueError("alert thresholds must be fractions in (0, 1]")
    # Normalised so 0.80 and 0.8 are one threshold.
    return tuple(sorted({t.normalize() for t in out} | {ONE}))


def reached(used: Decimal, cap: Decimal, threshold: Decimal) -> bool:
    # A zero cap means "no paid sends": it is reached only once something is spent.
    if cap == ZERO:
        return used > ZERO
    return used >= threshold * cap


def fire(
    out: list[Alert],
    buckets: Mapping[BucketKey, Bucket],
    fractions: tuple[Decimal, ...],
    route: Route,
    ks: tuple[str, str, str],
    now: float,
) -> None:
    """Append to ``out`` the alerts of ``route``'s caps that usage reached in the periods
    ``ks``, and mark them fired in their buckets.

    Thresholds ascend and so does ``threshold * cap``, so the first one not reached
    ends the scan: most calls, far below every threshold, do one comparison per cap.
    """
    scope, sk, sid, capped = route
    for kind, i, cap in capped:
        key = ks[i]
        bucket = buckets.get((sk, sid, key))
        if bucket is None:
            continue
        used = bucket.spent + bucket.reserved
        fired = bucket.fired
        for threshold in fractions:
            if not reached(used, cap, threshold):
                break
            if threshold in fired:
                continue
            fired.add(threshold)
            out.append(
                Alert(
                    cap=CapRef(scope, kind),
                    period_key=key,
                    threshold=threshold,
                    used=used,
                    cap_amount=cap,
                    at=now,
                )
            )


def fire_routes(
    buckets: Mapping[BucketKey, Bucket],
    fractions: tuple[Decimal, ...],
    routes: Iterable[Route],
    ks: tuple[str, str, str],
    now: float,
) -> list[Alert]:
    """The alerts a booking in ``routes`` (periods ``ks``) fires, for the capped ones."""
    out: list[Alert] = []
    for route in routes:
        if route[3]:
            fire(out, buckets, fractions, route, ks, now)
    return out
