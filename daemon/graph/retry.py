"""Backoff for retried Graph calls: a pure function of the attempt number and an rng.

Why pure: the client, the chip actors and the tests all need the same delays, and a
policy that read the clock or slept itself could not be unit-tested or reused by an
actor that schedules its own retries. Delays use "full jitter" (uniform between zero and
the exponential ceiling) so many chips backing off at once do not retry in lockstep.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry an idempotent call (reads, deletes).

    ``delay(attempt, rng)`` is the wait before retry number ``attempt`` (1 for the
    first retry). ``max_attempts`` counts the first try too: 4 means up to 3 retries.
    """

    max_attempts: int = 4
    base_s: float = 0.25
    cap_s: float = 8.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.base_s < 0 or self.cap_s < self.base_s or self.multiplier < 1:
            raise ValueError("need 0 <= base_s <= cap_s and multiplier >= 1")

    def ceiling(self, attempt: int) -> float:
        """The largest delay before retry ``attempt`` (the exponential curve, capped)."""
        if attempt < 1:
            raise ValueError("attempt starts at 1")
        # min() before the power would overflow: cap the exponent instead.
        exponent = min(attempt - 1, 64)
        return min(self.cap_s, self.base_s * self.multiplier**exponent)

    def delay(self, attempt: int, rng: random.Random) -> float:
        """A jittered wait in ``[0, ceiling(attempt)]``; same rng state, same delay."""
        return rng.uniform(0.0, self.ceiling(attempt))

    def should_retry(self, attempt: int) -> bool:
        """True when ``attempt`` tries have been made and another one is allowed."""
        return attempt < self.max_attempts
