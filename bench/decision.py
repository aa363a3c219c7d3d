"""Latency of one chip's "may I send this now?" decision.

One chip with 20,000 contacts (a tenth registered without the ninth digit, some with a
BSUID), their windows and a RateGate; then N decisions, each timed on its own with
``time.perf_counter_ns``: resolve the contact key from the identifier a campaign holds
(CRM phone in any format, wa_id or BSUID) → window state → rate verdict (committed when
allowed, so the limiters fill up as a real run's would). Time is injected and advances
at the chip's throughput.

Prints, one per line:
  decisions=<n>
  p50_us=<float>    median decision latency, microseconds
  p99_us=<float>    goal: <= 50
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.chip.contacts import ContactBook
from actors.chip.ratelimit import RateGate
from actors.chip.window import WindowBook
from config.model import LimitsConfig, WindowsConfig

_DDDS = ("11", "21", "31", "41", "51", "61", "71", "81", "85", "91", "19", "27", "48", "62")
T0 = 1_764_000_000.0


def build(contacts: int, rng: random.Random) -> tuple[ContactBook, WindowBook, RateGate, list[str]]:
    """The chip's state, and the identifiers a campaign would send to."""
    book = ContactBook()
    windows = WindowBook(WindowsConfig())
    gate = RateGate(80, LimitsConfig(), "TIER_10K")
    targets: list[str] = []
    seen: set[str] = set()
    while len(targets) < contacts:
        ddd = rng.choice(_DDDS)
        local = rng.randrange(10**8)
        mobile = f"55{ddd}9{local:08d}"
        if mobile in seen:
            continue
        seen.add(mobile)
        legacy = rng.random() < 0.1
        wa_id = f"55{ddd}{local:08d}" if legacy else mobile
        bsuid = f"BR.{rng.randrange(10**19):019d}" if rng.random() < 0.05 else None
        key = book.learn(wa_id=wa_id, bsuid=bsuid)
        if rng.random() < 0.6:  # talked to us within the last 30 h
            at = T0 - rng.uniform(0.0, 30 * 3600.0)
            windows.on_inbound(key, at)
            if rng.random() < 0.05:
                windows.on_referral(key, at)
        # what the campaign holds: mostly the CRM phone in some format
        r = rng.random()
        if bsuid is not None and r < 0.3:
            targets.append(bsuid)
        elif r < 0.5:
            targets.append(wa_id)
        elif r < 0.8:
            targets.append(mobile)
        elif r < 0.9:
            targets.append(f"+55 ({ddd}) 9{local // 10**4:04d}-{local % 10**4:04d}")
        else:
            targets.append(f"{ddd}9{local:08d}")
    return book, windows, gate, targets


def decide(book: ContactBook, windows: WindowBook, gate: RateGate, target: str, now: float) -> bool:
    """One decision: key → window → verdict; True if the message goes now."""
    key = book.key_for_send(target)
    state = windows.state(key, now)
    business_initiated = not state.service_open
    verdict = gate.check(key, now, business_initiated)
    if verdict.allowed:
        gate.commit(key, now, business_initiated)
    return verdict.allowed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--decisions", type=int, default=200_000)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    book, windows, gate, targets = build(args.contacts, rng)
    order = [rng.choice(targets) for _ in range(args.decisions)]
    step = 1.0 / 80  # decisions arrive at the chip's throughput
    for i in range(2_000):  # warm-up, not timed
        decide(book, windows, gate, order[i % len(order)], T0 - 10.0 + i * 1e-4)

    samples = [0] * args.decisions
    clock = time.perf_counter_ns
    gc.collect()
    now = T0
    for i, target in enumerate(order):
        t = clock()
        decide(book, windows, gate, target, now)
        samples[i] = clock() - t
        now += step
    samples.sort()
    n = len(samples)
    print(f"decisions={n}")
    print(f"p50_us={samples[n // 2] / 1000:.2f}")
    print(f"p99_us={samples[min(n - 1, (n * 99) // 100)] / 1000:.2f}")


if __name__ == "__main__":
    main()
