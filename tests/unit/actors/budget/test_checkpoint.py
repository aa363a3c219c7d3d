"""A ledger rebuilt from a checkpoint and the journal after it is the ledger that wrote
them: the same totals in every current period, the same reservations held, the same
answer to a late price (for a message it no longer holds, once recalled from the
journal as the coordinator does)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from actors.budget.ledger import Ledger
from actors.budget.values import GLOBAL, Caps, LedgerEntry, Reservation, Scope

D = Decimal
SP = ZoneInfo("America/Sao_Paulo")
START = dt.datetime(2026, 11, 16, 8, 0, tzinfo=SP).timestamp()  # ends on a Saturday
DAY = 86400.0
WABAS = ("w1", "w2")
CAMPAIGNS = (None, "c1", "c2")


def _ledger() -> Ledger:
    # Caps that fire alerts and refuse some sends, so both are part of what is compared.
    return Ledger(tz=SP, caps=Caps(daily=D("10"), weekly=D("45")))


def _journal(seed: int, messages: int = 1500) -> tuple[Ledger, list[LedgerEntry], float]:
    """The live ledger, the entries it wrote in order, and the time of the last one."""
    rng = random.Random(seed)
    events: list[tuple[float, int, str, int]] = []
    for n in range(messages):
        at = START + rng.uniform(0, 12 * DAY)
        events.append((at, 0, "reserve", n))
        fate = rng.random()
        if fate < 0.6:
            events.append((at + rng.uniform(1, 3 * DAY), 1, "settle", n))
            if rng.random() < 0.3:  # Meta prices sent and delivered: a second price
                events.append((at + rng.uniform(3 * DAY, 4 * DAY), 2, "settle", n))
            if rng.random() < 0.1:  # Meta re-categorises it: another price, days later
                events.append((at + rng.uniform(4 * DAY, 6 * DAY), 3, "reprice", n))
        elif fate < 0.8:
            events.append((at + rng.uniform(1, DAY), 1, "release", n))
        # else: still held (a message in doubt)
    # The journal ends while messages are still sent (what is due later is in flight),
    # so the periods current at its end hold traffic, alerts and refusals.
    events = sorted(e for e in events if e[0] <= START + 12 * DAY)
    live = _ledger()
    entries: list[LedgerEntry] = []
    for at, _, op, n in events:
        ref, waba, campaign = f"o:{n}", WABAS[n % 2], CAMPAIGNS[n % 3]
        if op == "reserve":
            result = live.reserve(ref, D("0.0625"), at, waba=waba, campaign=campaign)
            if isinstance(result, Reservation):
                entries.append(result.entry)
        elif op == "release":
            released = live.release(ref, at)
            if released is not None:
                entries.append(released.entry)
        else:
            price = D("0.0625") if n % 5 else D("0.0800")  # some priced above the estimate
            if op == "reprice":
                price = D("0.0310")
            settled = live.settle(ref, price, at, waba=waba, campaign=campaign)
            if settled.entry is not None:
                entries.append(settled.entry)
    return live, entries, events[-1][0]


def _scopes() -> list[Scope]:
    return [GLOBAL, *(Scope.waba(w) for w in WABAS), *(Scope.campaign(c) for c in ("c1", "c2"))]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("cut", [0.3, 0.7, 0.95, 1.0])  # 1.0: nothing after it
def test_restore_and_the_entries_after_rebuild_the_ledger(seed: int, cut: float) -> None:
    live, entries, end = _journal(seed)
    # The checkpoint is taken when the ledger holds exactly the entries up to ``p``.
    p = min(int(len(entries) * cut), len(entries) - 1)
    writer = _ledger()
    writer.replay(entries[: p + 1])
    taken_at = entries[p].at
    checkpoint = writer.checkpoint(taken_at)

    rebuilt = _ledger()
    rebuilt.restore(checkpoint)
    rebuilt.replay(entries[p + 1 :])
    replaced = [e for e in entries[p + 1 :] if e.prev is not None and e.booked_at is not None]
    assert not entries[p + 1 :] or replaced or cut > 0.9  # the journal re-prices after it

    now = end + 1
    for scope in _scopes():
        for kind in ("day", "week", "month"):
            assert rebuilt.usage(scope, kind, now) == live.usage(scope, kind, now), (scope, kind)
    assert rebuilt.stale_reservations(now) == live.stale_reservations(now)
    assert rebuilt.alerts(now) == live.alerts(now) == []
    # A late price for a message settled before the checkpoint adjusts it in both.
    last = next(
        e.id for e in reversed(entries[: p + 1]) if e.op == "settle" and not rebuilt.knows(e.id)
    )
    recall(rebuilt, entries, last)
    late_live = live.settle(last, D("0.0700"), now)
    late_rebuilt = rebuilt.settle(last, D("0.0700"), now)
    assert late_rebuilt.previous == late_live.previous is not None
    assert rebuilt.usage(GLOBAL, "month", now) == live.usage(GLOBAL, "month", now)


def recall(ledger: Ledger, entries: list[LedgerEntry], ref: str) -> None:
    """What the coordinator recalls of ``ref`` from the journal (the store's
    ``BudgetJournalRepository.settled``): its last entry when that settles it, booked
    when that entry says, or when its reservation was made."""
    mine = [e for e in entries if e.id == ref]
    last = mine[-1]
    assert last.op == "settle"
    reserved = [e.at for e in mine if e.op == "reserve"]
    booked = last.booked_at if last.booked_at is not None else (reserved or [last.at])[-1]
    ledger.remember_settled(ref, last.amount, booked, last.waba, last.campaign)


def test_a_checkpoint_of_another_zone_is_refused() -> None:
    checkpoint = Ledger(tz=ZoneInfo("UTC")).checkpoint(START)
    with pytest.raises(ValueError, match="zone"):
        _ledger().restore(checkpoint)


def test_a_checkpoint_of_the_first_form_is_refused() -> None:
    """It was restored with the 8 days of journal before it, whose settlements do not
    say what they replace: a start from it replays the journal instead."""
    checkpoint = _ledger().checkpoint(START)
    del checkpoint["form"]
    with pytest.raises(ValueError, match="form 1"):
        _ledger().restore(checkpoint)


def test_a_price_that_replaces_another_says_what_it_replaces() -> None:
    ledger = _ledger()
    ledger.reserve("o:1", D("0.0625"), START, waba="w1", campaign="c1")
    first = ledger.settle("o:1", D("0.0625"), START + 60)
    assert first.entry is not None
    assert (first.entry.prev, first.entry.booked_at) == (None, START)
    again = ledger.settle("o:1", D("0.0625"), START + 120)
    assert again.entry is None  # the same price: nothing to journal
    other = ledger.settle("o:1", D("0.0310"), START + DAY)
    assert other.entry is not None
    assert (other.entry.prev, other.entry.booked_at) == (D("0.0625"), START)
    assert LedgerEntry.from_json(other.entry.to_json()) == other.entry


def test_a_ledger_that_never_held_the_message_applies_the_difference() -> None:
    """From a checkpoint that counts the first price, the second one's entry alone gives
    the running ledger's totals, in the message's own (earlier) periods."""
    live = _ledger()
    live.reserve("o:1", D("0.0625"), START, waba="w1")
    live.settle("o:1", D("0.0625"), START + 60)
    rebuilt = _ledger()
    rebuilt.restore(live.checkpoint(START + 120))
    later = START + 2 * DAY  # another day: the change belongs to the first one
    entry = live.settle("o:1", D("0.0310"), later).entry
    assert entry is not None
    rebuilt.apply(entry)
    for kind in ("day", "week", "month"):
        for at in (START, later):
            assert rebuilt.usage(GLOBAL, kind, at) == live.usage(GLOBAL, kind, at)
    assert rebuilt.usage(GLOBAL, "day", START).spent == D("0.0310")


def test_a_recalled_message_is_not_counted_twice() -> None:
    live = _ledger()
    live.reserve("o:1", D("0.0625"), START)
    live.settle("o:1", D("0.0800"), START + 60)
    rebuilt = _ledger()
    rebuilt.restore(live.checkpoint(START + 120))
    assert not rebuilt.knows("o:1")
    rebuilt.remember_settled("o:1", D("0.0800"), START, None, None)
    assert rebuilt.settle("o:1", D("0.0800"), START + 300).entry is None
    assert rebuilt.usage(GLOBAL, "day", START).spent == D("0.0800")
    assert rebuilt.settle("o:1", D("0.0625"), START + 400).previous == D("0.0800")
    assert rebuilt.usage(GLOBAL, "day", START).spent == D("0.0625")
