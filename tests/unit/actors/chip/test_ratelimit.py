from __future__ import annotations

import math

import pytest

from actors.chip.ratelimit import (
    OK,
    TIER_1K,
    TIER_2K,
    TIER_10K,
    TIER_50,
    TIER_100K,
    TIER_250,
    TIER_UNLIMITED,
    PairLimiter,
    RateGate,
    Throttle,
    TierCap,
    TokenBucket,
    Verdict,
    parse_tier,
)
from config.model import LimitsConfig
from sim.limits import TokenBucket as SimBucket

T0 = 1_764_000_000.0
DAY = 86_400.0


def limits(**overrides: float) -> LimitsConfig:
    return LimitsConfig.model_validate(overrides)


# --- TokenBucket -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "burst", "takes", "expected"),
    [
        # (offset, n) → wait answered; 0.0 means taken
        (10.0, 3, [(0.0, 1), (0.0, 1), (0.0, 1), (0.0, 1)], [0.0, 0.0, 0.0, 0.1]),
        (10.0, 3, [(0.0, 3), (0.05, 1), (0.1, 1), (0.1, 1)], [0.0, 0.05, 0.0, 0.1]),
        (1.0, 1, [(0.0, 1), (0.5, 1), (1.0, 1), (1.5, 1)], [0.0, 0.5, 0.0, 0.5]),
        # a long idle refills to the burst only
        (2.0, 2, [(0.0, 2), (100.0, 2), (100.0, 1)], [0.0, 0.0, 0.5]),
        (80.0, 80, [(0.0, 80), (0.0, 1), (0.5, 40), (0.5, 1)], [0.0, 0.0125, 0.0, 0.0125]),
        # time going backwards refills nothing
        (1.0, 1, [(10.0, 1), (5.0, 1), (10.5, 1)], [0.0, 1.0, 0.5]),
    ],
)
def test_token_bucket_refill_and_burst(
    rate: float, burst: int, takes: list[tuple[float, int]], expected: list[float]
) -> None:
    b = TokenBucket(rate, burst)
    waits = [b.try_take(T0 + at, n) for at, n in takes]
    assert waits == pytest.approx(expected)


@pytest.mark.parametrize("rate", [1.0, 7.0, 80.0, 333.0, 1000.0])
def test_token_bucket_waiting_the_answer_is_enough_at_epoch_times(rate: float) -> None:
    # Epoch seconds as floats are exact to ~0.24 µs only; sleeping exactly the answered
    # wait must still find the token there, not a sub-microsecond remainder.
    b = TokenBucket(rate, 1)
    now = T0 + 0.123456
    for _ in range(2_000):
        wait = b.try_take(now)
        if wait:
            now += wait
            assert b.try_take(now) == 0.0


def test_token_bucket_wait_takes_nothing_and_take_goes_into_debt() -> None:
    b = TokenBucket(10.0, 1)
    assert b.wait(T0) == 0.0
    assert b.wait(T0) == 0.0
    b.take(T0)
    b.take(T0)  # a send that left anyway
    assert b.tokens(T0) == pytest.approx(-1.0)
    assert b.wait(T0) == pytest.approx(0.2)
    assert b.try_take(T0 + 0.2) == 0.0


def test_token_bucket_set_rate_refills_the_past_at_the_old_rate() -> None:
    b = TokenBucket(10.0, 10)
    assert b.try_take(T0, 10) == 0.0
    b.set_rate(1.0, T0 + 0.5, burst=2)  # 5 tokens earned at 10/s, clipped to 2
    assert b.tokens(T0 + 0.5) == pytest.approx(2.0)
    assert b.try_take(T0 + 0.5, 2) == 0.0
    assert b.try_take(T0 + 0.5) == pytest.approx(1.0)


def test_token_bucket_drain() -> None:
    b = TokenBucket(4.0, 4)
    b.drain(T0)
    assert b.try_take(T0) == pytest.approx(0.25)


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0.5)])
def test_token_bucket_rejects_bad_settings(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="bad token bucket"):
        TokenBucket(rate, burst)


def test_token_bucket_rejects_more_than_the_burst() -> None:
    with pytest.raises(ValueError, match="never fit"):
        TokenBucket(1.0, 2).try_take(T0, 3)


# --- PairLimiter -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "burst", "sends", "expected"),
    [
        # each offset: check, and record when allowed
        (6.0, 1, [0.0, 0.0, 3.0, 6.0, 6.0, 12.5], [0.0, 6.0, 3.0, 0.0, 6.0, 0.0]),
        (6.0, 2, [0.0, 0.0, 0.0, 6.0, 6.0, 12.0], [0.0, 0.0, 6.0, 0.0, 6.0, 0.0]),
        # a long pause restores the whole burst
        (6.0, 2, [0.0, 0.0, 100.0, 100.0, 100.0], [0.0, 0.0, 0.0, 0.0, 6.0]),
        (6.0, 3, [0.0, 1.0, 2.0, 3.0], [0.0, 0.0, 0.0, 3.0]),
        # interval 0: no pair limit
        (0.0, 1, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
    ],
)
def test_pair_limiter(
    interval: float, burst: int, sends: list[float], expected: list[float]
) -> None:
    p = PairLimiter(interval, burst)
    waits = []
    for at in sends:
        wait = p.check("a", T0 + at)
        waits.append(wait)
        if wait == 0.0:
            p.record("a", T0 + at)
    assert waits == pytest.approx(expected)


def test_pair_limiter_is_per_contact_and_penalty_hits_one_contact() -> None:
    p = PairLimiter(6.0, 2)
    p.record("a", T0)
    p.record("b", T0)
    p.penalize("a", T0 + 1.0)  # 131056 for a
    assert p.check("a", T0 + 1.0) == pytest.approx(6.0)
    assert p.check("a", T0 + 6.9) == pytest.approx(0.1)
    assert p.check("a", T0 + 7.0) == 0.0
    assert p.check("b", T0 + 1.0) == 0.0  # b still has its burst
    p.penalize("c", T0)  # never sent: still waits a full interval
    assert p.check("c", T0) == pytest.approx(6.0)


def test_pair_limiter_prune_and_rekey() -> None:
    p = PairLimiter(6.0, 1)
    p.record("a", T0)
    p.record("b", T0 + 5.0)
    assert p.prune(T0 + 6.0) == 1
    assert len(p) == 1
    p.rekey("b", "B")
    assert p.check("B", T0 + 5.0) == pytest.approx(6.0)
    assert p.check("b", T0 + 5.0) == 0.0


# --- TierCap ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("TIER_50", TIER_50),
        ("TIER_250", TIER_250),
        ("TIER_1K", TIER_1K),
        ("TIER_2K", TIER_2K),
        ("TIER_10K", TIER_10K),
        ("TIER_100K", TIER_100K),
        ("TIER_UNLIMITED", TIER_UNLIMITED),
        ("tier_1k", 1000),
        ("UNLIMITED", None),
        ("10K", 10_000),
        (500, 500),
        (None, None),
    ],
)
def test_parse_tier(raw: str | int | None, expected: int | None) -> None:
    assert parse_tier(raw) == expected


@pytest.mark.parametrize("raw", ["TIER_", "TIER_1M", "GOLD", "", -1])
def test_parse_tier_rejects_unknown(raw: str | int) -> None:
    with pytest.raises(ValueError, match=r"tier|limit"):
        parse_tier(raw)


def test_tier_cap_counts_unique_contacts_in_a_rolling_day() -> None:
    cap = TierCap("TIER_50")
    cap.set_tier(3)
    for i, key in enumerate("abc"):
        assert cap.check(key, T0 + i * 3600)
        cap.record(key, T0 + i * 3600)
    assert cap.used(T0 + 3 * 3600) == 3
    assert not cap.check("d", T0 + 3 * 3600)
    assert cap.wait(T0 + 3 * 3600) == pytest.approx(DAY - 3 * 3600)
    # a contact already reached is always allowed, and stays one
    assert cap.check("b", T0 + 3 * 3600)
    cap.record("b", T0 + 3 * 3600)
    assert cap.used(T0 + 3 * 3600) == 3
    # "a" ages out 24 h after it was reached: one place frees
    assert not cap.check("d", T0 + DAY - 1)
    assert cap.check("d", T0 + DAY)
    assert cap.used(T0 + DAY) == 2
    # "b" was re-messaged at +3 h: it counts until +27 h, not +25 h
    assert cap.used(T0 + DAY + 2 * 3600) == 1
    assert cap.used(T0 + DAY + 3 * 3600) == 0


def test_tier_cap_unlimited_and_upgrade_downgrade() -> None:
    cap = TierCap(TIER_UNLIMITED)
    for i in range(1000):
        assert cap.check(f"c{i}", T0)
        cap.record(f"c{i}", T0)
    assert cap.used(T0) == 1000
    assert cap.wait(T0) == 0.0
    cap.set_tier("TIER_250")  # downgrade below current use
    assert not cap.check("new", T0 + 1)
    assert cap.check("c5", T0 + 1)
    assert cap.wait(T0 + 1) == pytest.approx(DAY - 1)
    cap.set_tier("TIER_1K")
    assert not cap.check("new", T0 + 1)
    cap.set_tier("TIER_2K")
    assert cap.check("new", T0 + 1)


def test_tier_cap_of_zero_never_frees() -> None:
    cap = TierCap(0)
    assert not cap.check("a", T0)
    assert cap.wait(T0) == math.inf


def test_tier_cap_rekey_counts_a_merged_contact_once() -> None:
    cap = TierCap(10)
    cap.record("BR.1", T0 + 10)
    cap.record("k", T0)
    cap.rekey("BR.1", "k")
    assert cap.used(T0 + 10) == 1
    assert cap.used(T0 + DAY + 5) == 1  # counted from the latest message
    assert cap.used(T0 + DAY + 10) == 0


# --- Throttle --------------------------------------------------------------------


def test_throttle_slows_on_130429_and_recovers_after_quiet_periods() -> None:
    t = Throttle(80, limits())
    assert t.mps == 80.0
    assert t.on_throughput_error(T0)
    assert t.mps == 40.0
    assert not t.on_throughput_error(T0 + 0.5)  # debounced: same burst of errors
    assert t.mps == 40.0
    assert t.on_throughput_error(T0 + 2.0)
    assert t.mps == 20.0
    assert not t.recover(T0 + 61.0)  # quiet since +2 s
    assert t.recover(T0 + 62.0)
    assert t.mps == 40.0
    assert not t.recover(T0 + 100.0)
    assert t.recover(T0 + 122.0)
    assert t.mps == 80.0
    assert not t.recover(T0 + 1000.0)  # never above the limit


@pytest.mark.parametrize(
    ("errors", "now", "mps"),
    [
        ([0.0], 59.0, 40.0),
        ([0.0], 60.0, 80.0),
        ([0.0, 2.0, 4.0], 63.0, 10.0),
        ([0.0, 2.0, 4.0], 64.0, 20.0),
        ([0.0, 2.0, 4.0], 184.0, 80.0),  # several quiet periods at once
        ([0.0, 0.2, 0.4, 0.6], 30.0, 40.0),  # one burst of errors: one halving
        ([float(i * 2) for i in range(20)], 38.0, 1.0),  # floor at 1 msg/s
    ],
)
def test_throttle_table(errors: list[float], now: float, mps: float) -> None:
    t = Throttle(80, limits())
    for at in errors:
        t.on_throughput_error(T0 + at)
    t.recover(T0 + now)
    assert t.mps == pytest.approx(mps)


def test_throttle_quality_fraction_and_floor() -> None:
    t = Throttle(80, limits(slow_factor=0.1), quality_fraction=0.5)
    assert t.mps == 40.0
    t.on_throughput_error(T0)
    assert t.mps == pytest.approx(4.0)
    t.on_throughput_error(T0 + 2)
    assert t.mps == pytest.approx(1.0)  # floor
    t.set_quality_fraction(1.0)
    assert t.mps == pytest.approx(2.0)
    tiny = Throttle(1, limits(), quality_fraction=0.5)
    tiny.on_throughput_error(T0)
    assert tiny.mps == 0.5  # never raised above its own limit by the floor
    with pytest.raises(ValueError, match="fraction"):
        t.set_quality_fraction(1.5)
    t.set_quality_fraction(0.0)
    assert t.mps == 0.0
    assert not t.on_throughput_error(T0 + 10)


def test_rate_gate_quality_fraction_zero_stops_the_chip() -> None:
    g = RateGate(80, limits(), tier=None, quality_fraction=0.0)
    assert g.check("a", T0, False) == Verdict(False, math.inf, "throughput")
    g.set_quality_fraction(0.25, T0)
    assert g.bucket.rate == 20.0
    assert g.check("a", T0, False) is OK
    g.set_quality_fraction(0.0, T0 + 1)
    assert not g.check("a", T0 + 1, False).allowed


# --- RateGate --------------------------------------------------------------------


def test_rate_gate_throughput() -> None:
    g = RateGate(2, limits(pair_interval_s=0, burst_s=1), tier=None)
    assert g.acquire("a", T0, False) is OK
    assert g.acquire("b", T0, False) is OK
    v = g.check("c", T0, False)
    assert (v.allowed, v.reason) == (False, "throughput")
    assert v.wait_s == pytest.approx(0.5)
    assert g.check("c", T0 + 0.5, False) is OK


def test_rate_gate_pair_rate_with_burst() -> None:
    g = RateGate(80, limits(pair_interval_s=6, pair_burst=2), tier=None)
    assert g.acquire("a", T0, False).allowed
    assert g.acquire("a", T0 + 0.1, False).allowed
    v = g.check("a", T0 + 0.2, False)
    assert (v.allowed, v.reason) == (False, "pair_rate")
    assert v.wait_s == pytest.approx(5.8)
    assert g.check("b", T0 + 0.2, False) is OK


def test_rate_gate_pair_rate_error_pushes_only_that_contact() -> None:
    g = RateGate(80, limits(), tier=None)
    g.commit("a", T0, False)
    g.commit("b", T0, False)
    g.on_pair_rate_error("a", T0 + 7)
    v = g.check("a", T0 + 7, False)
    assert v.reason == "pair_rate"
    assert v.wait_s == pytest.approx(6.0)
    assert g.check("b", T0 + 7, False) is OK


def test_rate_gate_tier_cap_only_for_business_initiated() -> None:
    g = RateGate(80, limits(pair_interval_s=0), tier=2)
    assert g.acquire("a", T0, True).allowed
    assert g.acquire("b", T0 + 10, True).allowed
    v = g.check("c", T0 + 20, True)
    assert v == Verdict(False, DAY - 20, "tier_cap")
    assert g.check("c", T0 + 20, False) is OK  # in-window sends do not count
    assert g.check("a", T0 + 20, True) is OK  # already reached
    assert g.check("c", T0 + DAY, True) is OK
    g.set_tier("TIER_UNLIMITED")
    assert g.check("z", T0 + 30, True) is OK


def test_rate_gate_reason_order_is_narrowest_first() -> None:
    g = RateGate(1, limits(), tier=1)
    g.commit("a", T0, True)
    assert g.check("b", T0, True).reason == "tier_cap"
    assert g.check("a", T0, True).reason == "pair_rate"
    assert g.check("b", T0, False).reason == "throughput"


def test_rate_gate_slows_and_recovers() -> None:
    g = RateGate(80, limits(pair_interval_s=0), tier=None)
    g.on_throughput_error(T0)
    assert g.throttle.mps == 40.0
    v = g.check("a", T0, False)  # saved burst spent
    assert v.reason == "throughput"
    assert v.wait_s == pytest.approx(1 / 40)
    assert g.bucket.rate == 40.0
    assert g.check("a", T0 + 60, False) is OK  # check lets it recover
    assert g.bucket.rate == 80.0
    g.set_quality_fraction(0.5, T0 + 61)
    assert g.bucket.rate == 40.0
    g.set_throughput(1000, T0 + 62)
    assert g.bucket.rate == 500.0
    assert g.bucket.burst == 250.0  # half a second's worth ([limits] burst_s)


def test_rate_gate_bursts_half_a_second_by_default_and_as_configured() -> None:
    """Below Meta's one second (see test_a_campaign_start_draws_no_130429 below)."""
    half = RateGate(80, limits(pair_interval_s=0), tier=None)
    sent = 0
    while half.acquire(f"c{sent}", T0, False).allowed:
        sent += 1
    assert sent == 40
    assert RateGate(80, limits(burst_s=1), tier=None).bucket.burst == 80.0
    assert RateGate(1, limits(), tier=None).bucket.burst == 1.0  # never below one message


def test_rate_gate_prunes_pair_state_while_committing() -> None:
    g = RateGate(1000, limits(), tier=None, prune_every_s=60)
    for i in range(100):
        g.commit(f"c{i}", T0, False)
    assert len(g.pairs) == 100
    g.commit("late", T0 + 61, False)
    assert len(g.pairs) == 1


def test_rate_gate_rekey() -> None:
    g = RateGate(80, limits(), tier=1)
    g.commit("BR.1", T0, True)
    g.rekey("BR.1", "k")
    assert g.check("k", T0 + 1, True).reason == "pair_rate"
    assert g.tier.used(T0 + 1) == 1
    assert g.check("other", T0 + 7, True).reason == "tier_cap"


def _rejected_by_meta(burst_s: float, first_late_s: float, seconds: float = 30.0) -> int:
    """A chip sending as fast as its gate allows, each request reaching Meta (the
    simulator's own bucket: 80/s, one second deep) as its token is spent, but the first
    one ``first_late_s`` late (its connection still opening): how many Meta refuses
    with 130429."""
    gate = RateGate(80, limits(pair_interval_s=0, burst_s=burst_s), tier=None)
    now, arrivals = T0, []
    while now < T0 + seconds:
        key = f"c{len(arrivals)}"
        verdict = gate.check(key, now, False)
        if verdict.allowed:
            gate.commit(key, now, False)
            arrivals.append(now + (first_late_s if not arrivals else 0.0))
        else:
            now += verdict.wait_s
    meta = SimBucket(rate=80.0, burst=80.0)  # full at the first request: an idle number
    return sum(not meta.take(at) for at in sorted(arrivals))


@pytest.mark.parametrize("late_s", [0.02, 0.1, 0.45])
def test_a_campaign_start_draws_no_130429_with_the_default_burst(late_s: float) -> None:
    """The daemon's bucket (half a second deep) leaves Meta's (one second) half a
    second of headroom, so a request that reaches Meta late, behind the ones sent after
    it, still finds a token. With a bucket as deep as Meta's it did not: one 130429 per
    number at every campaign start, each halving that number's rate for a minute (a
    20-chip campaign then ran at 800 msg/s, not 1,600)."""
    assert _rejected_by_meta(burst_s=0.5, first_late_s=late_s) == 0
    assert _rejected_by_meta(burst_s=1.0, first_late_s=late_s) == 1
