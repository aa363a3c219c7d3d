"""Sending limits of one chip as pure rules over ``now`` (cloud-api.md 4, 5).

Why pure: each limit is a small state machine over time, so the chip actor owns it
without locks and a test replays exact timings without sleeping. ``now`` is seconds
(the actor's wall clock, UTC epoch); it should not go backwards — if it does, nothing
refills until it catches up.

- throughput: :class:`TokenBucket` at the chip's effective rate (:class:`Throttle`:
  configured or Meta's throughput × quality fraction × slowdown after 130429);
- pair rate: :class:`PairLimiter`, about one message per 6 s to the same user, short
  bursts tolerated; over it Meta answers 131056 for that user only;
- messaging limit: :class:`TierCap`, unique users reached with business-initiated
  messages in a rolling 24 h, capped by the number's tier;
- :class:`RateGate` asks all three and says whether to send now, and if not, why and
  for how long (:class:`Verdict`).
"""

from __future__ import annotations

import math
import re
import sys
from collections import OrderedDict
from dataclasses import dataclass
from itertools import islice
from typing import Final, Literal, TypeAlias

from config.model import LimitsConfig

__all__ = [
    "OK",
    "TIER_1K",
    "TIER_2K",
    "TIER_10K",
    "TIER_50",
    "TIER_100K",
    "TIER_250",
    "TIER_UNLIMITED",
    "PairLimiter",
    "RateGate",
    "Reason",
    "Throttle",
    "TierCap",
    "TokenBucket",
    "Verdict",
    "parse_tier",
]

DAY: Final = 86_400.0
_EPS: Final = 1e-6
"""Slack in seconds: a wait shorter than this is no wait. Epoch seconds as floats are
only exact to ~0.24 µs, so after sleeping exactly the answered wait a re-check may be
short by a few hundred nanoseconds; without the slack it would answer a sub-µs wait."""

TIER_50: Final = 50
TIER_250: Final = 250
TIER_1K: Final = 1_000
TIER_2K: Final = 2_000
TIER_10K: Final = 10_000
TIER_100K: Final = 100_000
TIER_UNLIMITED: Final = None

_TIER = re.compile(r"(?:TIER_)?(\d+)(K?)", re.IGNORECASE | re.ASCII)


def parse_tier(tier: str | int | None) -> int | None:
    """A messaging-limit tier as a cap of unique users per 24 h, None for unlimited.

    Accepts Meta's ``current_limit`` strings (``TIER_50``, ``TIER_250``, ``TIER_1K``,
    ``TIER_2K``, ``TIER_10K``, ``TIER_100K``, ``TIER_UNLIMITED``; case-insensitive, with
    or without ``TIER_``), a number, or None. Raises ValueError for anything else.
    """
    if tier is None:
        return None
    if isinstance(tier, int):
        if tier < 0:
            raise ValueError(f"negative messaging limit: {tier}")
        return tier
    text = tier.strip()
    if text.upper() in ("TIER_UNLIMITED", "UNLIMITED"):
        return None
    m = _TIER.fullmatch(text)
    if m is None:
        raise ValueError(f"unknown messaging-limit tier: {tier!r}")
    return int(m.group(1)) * (1000 if m.group(2) else 1)


class TokenBucket:
    """``rate_per_s`` tokens per second, at most ``burst`` saved up; starts full.

    The first call fixes the clock origin, so a bucket can be built before time is known.
    """

    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate_per_s: float, burst: float) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"bad token bucket: rate {rate_per_s}/s, burst {burst}")
        self.rate = float(rate_per_s)
        self.burst = float(burst)
        self._tokens = self.burst
        self._stamp: float | None = None

    def _refill(self, now: float) -> float:
        stamp = self._stamp
        if stamp is None:
            self._stamp = now
        elif now > stamp:
            tokens = self._tokens + (now - stamp) * self.rate
            self._tokens = tokens if tokens < self.burst else self.burst
            self._stamp = now
        return self._tokens

    def tokens(self, now: float) -> float:
        """Tokens available at ``now`` (negative while a debt is being repaid)."""
        return self._refill(now)

    def wait(self, now: float, n: float = 1.0) -> float:
        """Seconds until ``n`` tokens are there (0.0 if now); takes nothing."""
        if n > self.burst:
            raise ValueError(f"{n} tokens never fit a burst of {self.burst}")
        wait = (n - self._refill(now)) / self.rate
        return wait if wait > _EPS else 0.0

    def try_take(self, now: float, n: float = 1.0) -> float:
        """Take ``n`` tokens and return 0.0, or take nothing and return the seconds to
        wait before they are there."""
        wait = self.wait(now, n)
        if wait == 0.0:
            self._tokens -= n
        return wait

    def take(self, now: float, n: float = 1.0) -> None:
        """Take ``n`` tokens even if they are not there (the bucket goes into debt).

        For a send that already left, so later sends pay for it."""
        self._refill(now)
        self._tokens -= n

    def drain(self, now: float) -> None:
        """Spend every saved token (Meta just said we are over the rate)."""
        if self._refill(now) > 0.0:
            self._tokens = 0.0

    def set_rate(self, rate: float, now: float, burst: float | None = None) -> None:
        """Change the rate (and burst) from ``now`` on; time before it refills at the old
        rate. Saved tokens are clipped to the new burst."""
        if rate <= 0 or (burst is not None and burst < 1):
            raise ValueError(f"bad token bucket: rate {rate}/s, burst {burst}")
        self._refill(now)
        self.rate = float(rate)
        if burst is not None:
            self.burst = float(burst)
            if self._tokens > self.burst:
                self._tokens = self.burst


class PairLimiter:
    """Pair rate limit: per contact, one message per ``interval_s``, ``burst`` back to back.

    Stored as one float per contact, its *theoretical arrival time* (GCRA): the time the
    next message would be due if messages went at exactly one per interval. A send at
    ``now`` is allowed when ``tat - (burst - 1) * interval <= now``. That is the same
    rule as a token bucket per contact but costs one dict entry, and an entry whose
    ``tat`` has passed carries no information, so :meth:`prune` drops it.
    ``interval_s == 0`` turns the limit off.
    """

    __slots__ = ("_tat", "_tolerance", "burst", "interval_s")

    def __init__(self, interval_s: float, burst: int = 1) -> None:
        if interval_s < 0 or burst < 1:
            raise ValueError(f"bad pair limit: interval {interval_s} s, burst {burst}")
        self.interval_s = float(interval_s)
        self.burst = burst
        self._tolerance = (burst - 1) * self.interval_s
        self._tat: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._tat)

    def check(self, key: str, now: float) -> float:
        """Seconds to wait before the next message to ``key`` (0.0: allowed now)."""
        tat = self._tat.get(key)
        if tat is None:
            return 0.0
        wait = tat - self._tolerance - now
        return wait if wait > _EPS else 0.0

    def record(self, key: str, now: float) -> None:
        """A message to ``key`` left at ``now``."""
        if self.interval_s <= 0:
            return
        tat = self._tat.get(key)
        if tat is None:
            self._tat[sys.intern(key)] = now + self.interval_s
        else:
            self._tat[key] = (tat if tat > now else now) + self.interval_s

    def penalize(self, key: str, now: float) -> None:
        """Meta answered 131056 for ``key``: its next slot is a full interval from now,
        with the burst used up. Other contacts are not touched."""
        if self.interval_s <= 0:
            return
        due = now + self.interval_s + self._tolerance
        tat = self._tat.get(key)
        if tat is None:
            self._tat[sys.intern(key)] = due
        elif due > tat:
            self._tat[key] = due

    def prune(self, now: float) -> int:
        """Forget contacts whose limit has fully recovered; return how many."""
        stale = [k for k, tat in self._tat.items() if tat <= now]
        for k in stale:
            del self._tat[k]
        return len(stale)

    def rekey(self, old: str, new: str) -> None:
        """Fold ``old``'s state into ``new`` (one contact learned under two keys)."""
        tat = self._tat.pop(old, None) if old != new else None
        if tat is not None and tat > self._tat.get(new, tat - 1.0):
            self._tat[new] = tat


class TierCap:
    """The messaging limit: unique contacts reached with business-initiated messages
    (templates sent outside the service window) in a rolling ``window_s`` (24 h).

    A contact counts from its latest such message: Meta counts users reached in the last
    24 h, so one re-messaged at hour 20 still counts at hour 30. (Counting from the first
    message would admit more; this never admits more than Meta.) A contact already
    counted is always allowed — it adds nothing. Lowering the tier below the current use
    blocks new contacts until enough age out.

    An ``OrderedDict`` oldest-first, so ageing out pops from the front in O(1) (a plain
    dict would rescan its deleted head on every pop).
    """

    __slots__ = ("_reached", "limit", "window_s")

    def __init__(self, tier: str | int | None, window_s: float = DAY) -> None:
        self.limit = parse_tier(tier)
        self.window_s = float(window_s)
        self._reached: OrderedDict[str, float] = OrderedDict()

    def set_tier(self, tier: str | int | None) -> None:
        """Meta moved the number to another tier (``phone_number_quality_update``)."""
        self.limit = parse_tier(tier)

    def _age_out(self, now: float) -> None:
        reached = self._reached
        horizon = now - self.window_s
        while reached:
            key = next(iter(reached))
            if reached[key] > horizon:
                return
            del reached[key]

    def used(self, now: float) -> int:
        """Unique contacts counted at ``now``."""
        self._age_out(now)
        return len(self._reached)

    def check(self, key: str, now: float) -> bool:
        """True if a business-initiated message to ``key`` fits under the cap now."""
        if self.limit is None:
            return True
        self._age_out(now)
        return key in self._reached or len(self._reached) < self.limit

    def wait(self, now: float) -> float:
        """Seconds until a new contact fits (0.0 if one fits now)."""
        if self.limit is None:
            return 0.0
        self._age_out(now)
        over = len(self._reached) - self.limit
        if over < 0:
            return 0.0
        if over >= len(self._reached):  # a cap of 0: nothing ever fits
            return math.inf
        # The (over + 1)-th oldest must age out; the front is oldest.
        at = next(islice(self._reached.values(), over, None))
        return max(at + self.window_s - now, _EPS)

    def record(self, key: str, now: float) -> None:
        """A business-initiated message to ``key`` left at ``now``."""
        reached = self._reached
        if key in reached:
            reached.move_to_end(key)
            reached[key] = now
        else:
            reached[sys.intern(key)] = now

    def rekey(self, old: str, new: str) -> None:
        """Fold ``old`` into ``new``: one contact counts once, from its latest message."""
        at = self._reached.pop(old, None) if old != new else None
        if at is not None and at > self._reached.get(new, at - 1.0):
            self.record(new, at)


class Throttle:
    """The chip's effective throughput in messages per second.

    ``base_mps`` (configured, or Meta's ``throughput.level``) × ``quality_fraction`` (set
    by the quality rules: a YELLOW chip keeps a share) × ``slowdown``. Each 130429
    multiplies the slowdown by ``slow_factor``, but not below ``min_mps``; errors within
    ``debounce_s`` of the last slowdown only restart the quiet period (they come from
    sends that left before it). After ``slow_recover_s`` without 130429 the slowdown
    doubles back, once per quiet period, up to 1.0.
    """

    __slots__ = (
        "_debounce_s",
        "_last_slow",
        "_min_mps",
        "_quiet_since",
        "_recover_s",
        "_slow_factor",
        "base_mps",
        "quality_fraction",
        "slowdown",
    )

    def __init__(
        self,
        base_mps: float,
        limits: LimitsConfig,
        *,
        quality_fraction: float = 1.0,
        min_mps: float = 1.0,
        debounce_s: float = 1.0,
    ) -> None:
        if base_mps <= 0 or min_mps <= 0:
            raise ValueError(f"bad throughput: {base_mps} msg/s, floor {min_mps}")
        self.base_mps = float(base_mps)
        self.quality_fraction = _fraction(quality_fraction)
        self.slowdown = 1.0
        self._slow_factor = float(limits.slow_factor)
        self._recover_s = float(limits.slow_recover_s)
        self._min_mps = float(min_mps)
        self._debounce_s = float(debounce_s)
        self._last_slow: float | None = None
        self._quiet_since = 0.0

    @property
    def mps(self) -> float:
        """Messages per second the chip may send now."""
        full = self.base_mps * self.quality_fraction
        return max(full * self.slowdown, min(full, self._min_mps))

    @property
    def slowed(self) -> bool:
        return self.slowdown < 1.0

    def set_base(self, mps: float) -> None:
        if mps <= 0:
            raise ValueError(f"bad throughput: {mps} msg/s")
        self.base_mps = float(mps)

    def set_quality_fraction(self, fraction: float) -> None:
        """Share of its throughput the chip keeps for its quality (0 <= fraction <= 1),
        as ``quality.policy(...).throughput_fraction`` gives it; 0 stops the chip."""
        self.quality_fraction = _fraction(fraction)

    def on_throughput_error(self, now: float) -> bool:
        """Meta answered 130429. Returns True if the rate went down."""
        self._quiet_since = now
        last = self._last_slow
        if last is not None and now - last < self._debounce_s:
            return False
        full = self.base_mps * self.quality_fraction
        floor = min(1.0, self._min_mps / full) if full > 0.0 else 1.0
        slowed = max(self.slowdown * self._slow_factor, floor)
        self._last_slow = now
        if slowed >= self.slowdown:
            return False
        self.slowdown = slowed
        return True

    def recover(self, now: float) -> bool:
        """Double the slowdown back for each full quiet period up to ``now``; True if the
        rate went up."""
        if self.slowdown >= 1.0:
            return False
        periods = int((now - self._quiet_since) / self._recover_s)
        if periods <= 0:
            return False
        self.slowdown = min(1.0, self.slowdown * 2.0 ** min(periods, 64))
        self._quiet_since += periods * self._recover_s
        return True


def _fraction(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"throughput fraction must be in [0, 1]: {value}")
    return float(value)


Reason: TypeAlias = Literal["ok", "throughput", "pair_rate", "tier_cap"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to "may I send to this contact now?".

    ``reason`` says what to do when not allowed: ``tier_cap`` — no new contact may get a
    business-initiated message (others, and in-window sends, still may); ``pair_rate`` —
    skip this contact for ``wait_s``, try others; ``throughput`` — the chip is busy,
    nobody goes for ``wait_s`` (``inf`` while the quality fraction is 0).
    """

    allowed: bool
    wait_s: float
    reason: Reason


OK: Final = Verdict(True, 0.0, "ok")
_STOPPED: Final = Verdict(False, math.inf, "throughput")
"""Quality fraction 0 (``PAUSED_ALL``): nothing goes until the quality rules say so."""


class RateGate:
    """Throughput, pair rate and messaging limit of one chip behind one question.

    Use: ``v = gate.check(key, now, business_initiated)``; if ``v.allowed``, send and call
    :meth:`commit` in the same actor step, before awaiting the HTTP call (a later commit
    lets concurrent sends all see the same free token). :meth:`acquire` does both.
    ``business_initiated`` is true for a template sent while the contact's service
    window is closed — only those count against the tier.

    Checks run tier → pair → throughput, so the reason is the narrowest blocker.
    """

    __slots__ = (
        "_burst_s",
        "_next_prune",
        "_prune_every_s",
        "bucket",
        "pairs",
        "throttle",
        "tier",
    )

    def __init__(
        self,
        throughput_mps: float,
        limits: LimitsConfig,
        tier: str | int | None = TIER_250,
        *,
        quality_fraction: float = 1.0,
        min_mps: float = 1.0,
        prune_every_s: float = 60.0,
    ) -> None:
        self.throttle = Throttle(
            throughput_mps, limits, quality_fraction=quality_fraction, min_mps=min_mps
        )
        mps = self.throttle.mps
        self._burst_s = float(limits.burst_s)
        self.bucket = TokenBucket(mps if mps > 0.0 else 1.0, _burst(mps, self._burst_s))
        self.pairs = PairLimiter(limits.pair_interval_s, limits.pair_burst)
        self.tier = TierCap(tier)
        self._prune_every_s = float(prune_every_s)
        self._next_prune: float | None = None

    def check(self, key: str, now: float, business_initiated: bool) -> Verdict:
        """Whether a message to ``key`` may go at ``now``; takes nothing.

        Also lets the throttle recover if it has been quiet long enough.
        """
        if business_initiated and not self.tier.check(key, now):
            return Verdict(False, self.tier.wait(now), "tier_cap")
        wait = self.pairs.check(key, now)
        if wait > 0.0:
            return Verdict(False, wait, "pair_rate")
        throttle = self.throttle
        if throttle.slowdown < 1.0:
            self.recover(now)
        if throttle.quality_fraction <= 0.0:
            return _STOPPED
        wait = self.bucket.wait(now)
        if wait > 0.0:
            return Verdict(False, wait, "throughput")
        return OK

    def commit(self, key: str, now: float, business_initiated: bool) -> None:
        """A message to ``key`` is going out at ``now``: spend its token, its pair slot
        and (business-initiated) its place under the tier."""
        self.bucket.take(now)
        self.pairs.record(key, now)
        if business_initiated:
            self.tier.record(key, now)
        if self._next_prune is None:
            self._next_prune = now + self._prune_every_s
        elif now >= self._next_prune:
            self.pairs.prune(now)
            self._next_prune = now + self._prune_every_s

    def acquire(self, key: str, now: float, business_initiated: bool) -> Verdict:
        """:meth:`check` then, if allowed, :meth:`commit`."""
        verdict = self.check(key, now, business_initiated)
        if verdict.allowed:
            self.commit(key, now, business_initiated)
        return verdict

    def on_pair_rate_error(self, key: str, now: float) -> None:
        """Meta answered 131056 for ``key``: its next slot moves a full interval away."""
        self.pairs.penalize(key, now)

    def on_throughput_error(self, now: float) -> None:
        """Meta answered 130429: slow the chip and spend the saved burst."""
        if self.throttle.on_throughput_error(now):
            self._apply_rate(now)
        self.bucket.drain(now)

    def recover(self, now: float) -> None:
        """Let the throttle step back up if it has been quiet long enough."""
        if self.throttle.recover(now):
            self._apply_rate(now)

    def set_throughput(self, mps: float, now: float) -> None:
        """Configured or Meta-reported throughput changed."""
        self.throttle.set_base(mps)
        self._apply_rate(now)

    def set_quality_fraction(self, fraction: float, now: float) -> None:
        """The quality rules changed the share of throughput the chip keeps."""
        self.throttle.set_quality_fraction(fraction)
        self._apply_rate(now)

    def set_tier(self, tier: str | int | None) -> None:
        self.tier.set_tier(tier)

    def rekey(self, old: str, new: str) -> None:
        """Fold ``old``'s pair and tier state into ``new`` (see ``ContactBook``)."""
        self.pairs.rekey(old, new)
        self.tier.rekey(old, new)

    def _apply_rate(self, now: float) -> None:
        mps = self.throttle.mps
        if mps > 0.0:  # at 0 the bucket keeps its rate; check() answers _STOPPED
            self.bucket.set_rate(mps, now, _burst(mps, self._burst_s))


def _burst(mps: float, seconds: float) -> float:
    """``seconds``' worth of messages (``[limits] burst_s``), at least one."""
    return max(1.0, mps * seconds)
