"""Meta's sending limits as pure rate rules: throughput, pair rate, messaging-limit tier.

Why pure: each is a small state machine over ``now`` (seconds on any clock that only
goes forward), so the simulator and its tests share one implementation and a test can
replay exact timings without sleeping.

- throughput: a token bucket per number, ``throughput_mps`` per second, one second of
  burst; over it → 130429;
- pair rate: a token bucket per (number, user), one message per ``pair_interval_s``
  with ``pair_burst`` back to back; over it → 131056;
- messaging limit: unique users reached with business-initiated messages (templates sent
  outside a window) in a rolling 24 h, capped by the tier. Meta documents no dedicated
  code for it; the simulator fails such messages with 131048 (spam rate limit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Limits", "TokenBucket", "UniqueUsers"]

DAY = 86_400.0


@dataclass(slots=True)
class TokenBucket:
    rate: float
    """Tokens per second."""
    burst: float
    tokens: float = -1.0
    stamp: float = 0.0

    def take(self, now: float) -> bool:
        """Spend one token if there is one; refill first by the time elapsed."""
        if self.tokens < 0:  # first use: full
            self.tokens, self.stamp = self.burst, now
        elif now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(slots=True)
class UniqueUsers:
    """Users first reached in the rolling 24 h, oldest first (dict keeps insertion order)."""

    first_seen: dict[str, float] = field(default_factory=dict)

    def expire(self, now: float) -> None:
        while self.first_seen:
            user, at = next(iter(self.first_seen.items()))
            if now - at < DAY:
                return
            del self.first_seen[user]

    def admit(self, user: str, cap: int | None, now: float) -> bool:
        """True if ``user`` may be reached: already counted, or room under ``cap``."""
        self.expire(now)
        if user in self.first_seen:
            return True
        if cap is not None and len(self.first_seen) >= cap:
            return False
        self.first_seen[user] = now
        return True


class Limits:
    """All limiters of the simulated fleet."""

    def __init__(self, *, pair_interval_s: float, pair_burst: int) -> None:
        self.pair_interval_s = pair_interval_s
        self.pair_burst = pair_burst
        self._numbers: dict[str, TokenBucket] = {}
        self._pairs: dict[tuple[str, str], TokenBucket] = {}
        self._reached: dict[str, UniqueUsers] = {}
        self._last_prune = 0.0

    def throughput(self, pid: str, mps: int, now: float) -> bool:
        b = self._numbers.get(pid)
        if b is None or b.rate != mps:
            b = self._numbers[pid] = TokenBucket(rate=float(mps), burst=float(mps))
        return b.take(now)

    def pair(self, pid: str, user: str, now: float) -> bool:
        if self.pair_interval_s <= 0:
            return True
        self._prune(now)
        key = (pid, user)
        b = self._pairs.get(key)
        if b is None:
            b = self._pairs[key] = TokenBucket(1.0 / self.pair_interval_s, self.pair_burst)
        return b.take(now)

    def tier(self, pid: str, user: str, cap: int | None, now: float) -> bool:
        return self._reached.setdefault(pid, UniqueUsers()).admit(user, cap, now)

    def reached(self, pid: str, now: float) -> int:
        users = self._reached.get(pid)
        if users is None:
            return 0
        users.expire(now)
        return len(users.first_seen)

    def _prune(self, now: float) -> None:
        """Forget pair buckets that have refilled, so memory follows active pairs only."""
        full_after = self.pair_interval_s * self.pair_burst
        if now - self._last_prune < max(full_after, 60.0):
            return
        self._last_prune = now
        stale = [k for k, b in self._pairs.items() if now - b.stamp > full_after]
        for k in stale:
            del self._pairs[k]
