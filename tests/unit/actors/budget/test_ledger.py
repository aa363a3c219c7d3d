from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from actors.budget.ledger import DEFAULT_ALERT_AT, RETAIN_SETTLED_S, Ledger
from actors.budget.values import (
    GLOBAL,
    Alert,
    CapRef,
    Caps,
    LedgerEntry,
    Refusal,
    Release,
    Reservation,
    Scope,
    Settlement,
    Usage,
)
from config.model import BudgetConfig

D = Decimal
SP = ZoneInfo("America/Sao_Paulo")
UTC = ZoneInfo("UTC")


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> float:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=dt.UTC).timestamp()


NOW = utc(2026, 11, 25, 15, 0)  # Wednesday afternoon in São Paulo


def ledger(
    daily: str | None = None,
    weekly: str | None = None,
    monthly: str | None = None,
    alert_at: tuple[str, ...] = ("0.5", "0.8", "0.95"),
) -> Ledger:
    def d(x: str | None) -> Decimal | None:
        return None if x is None else D(x)

    return Ledger(
        tz=SP,
        caps=Caps(daily=d(daily), weekly=d(weekly), monthly=d(monthly)),
        alert_at=[D(a) for a in alert_at],
    )


def reserved(result: Reservation | Refusal) -> Reservation:
    assert isinstance(result, Reservation), getattr(result, "reason", result)
    return result


def refused(result: Reservation | Refusal) -> Refusal:
    assert isinstance(result, Refusal), result
    return result


# --------------------------------------------------------------------------- caps


@pytest.mark.parametrize(
    ("caps", "amount", "cap_label"),
    [
        (("1.00", None, None), "1.01", "daily"),
        ((None, "1.00", None), "1.01", "weekly"),
        ((None, None, "1.00"), "1.01", "monthly"),
        (("5", "1", "0.5"), "1.5", "weekly"),  # first cap crossed, in day-week-month order
    ],
)
def test_reserve_refused_names_the_cap(
    caps: tuple[str | None, str | None, str | None], amount: str, cap_label: str
) -> None:
    lg = ledger(*caps)
    r = refused(lg.reserve("m1", D(amount), NOW))
    assert r.cap.label == cap_label
    assert r.reason.startswith(f"budget: {cap_label} cap would be crossed")
    assert lg.usage(GLOBAL, "day", NOW) == Usage(D(0), D(0), lg.caps(GLOBAL).daily)


def test_reserve_exactly_to_the_cap_fits() -> None:
    lg = ledger("1.00")
    reserved(lg.reserve("a", D("0.40"), NOW))
    reserved(lg.reserve("b", D("0.60"), NOW))
    r = refused(lg.reserve("c", D("0.0001"), NOW))
    assert r.used == D("1.00")
    assert "0.00 of 1.00 USD left" in r.reason


def test_reserve_is_all_or_nothing() -> None:
    lg = ledger("10", "1")
    reserved(lg.reserve("a", D("0.9"), NOW))
    refused(lg.reserve("b", D("0.2"), NOW))  # daily fine, weekly crossed
    for kind in ("day", "week", "month"):
        assert lg.usage(GLOBAL, kind, NOW).reserved == D("0.9")


@pytest.mark.parametrize(
    ("cap", "amounts", "accepted"),
    [
        ("1.00", ["0.0625"] * 50, 16),
        ("1.00", ["0.0068"] * 50, 50),
        ("0.30", ["0.0068"] * 50, 44),
        ("0.10", ["0.0625", "0.0068"] * 25, 6),  # after 1 marketing, 5 utilities still fit
        ("0", ["0.0625"] * 50, 0),
        ("0", ["0"] * 50, 50),  # free messages always go
    ],
)
def test_many_reservations_at_the_edge_never_exceed_the_cap(
    cap: str, amounts: list[str], accepted: int
) -> None:
    # The coordinator actor serialises reservations from all chips; simulate 50 chips
    # racing for the last of the budget as 50 consecutive calls.
    lg = ledger(cap, cap, cap)
    results = [lg.reserve(f"m{i}", D(a), NOW, waba=f"w{i % 5}") for i, a in enumerate(amounts)]
    assert sum(isinstance(r, Reservation) for r in results) == accepted
    for kind in ("day", "week", "month"):
        u = lg.usage(GLOBAL, kind, NOW)
        assert u.used <= D(cap)
        assert u.used == sum((r.amount for r in results if isinstance(r, Reservation)), D(0))
    assert lg.remaining(NOW)["daily"] >= 0


def test_zero_amount_goes_even_over_the_cap() -> None:
    lg = ledger("0.05")
    reserved(lg.reserve("a", D("0.05"), NOW))
    lg.settle("a", D("0.0625"), NOW)  # overshoot
    refused(lg.reserve("b", D("0.0068"), NOW))
    reserved(lg.reserve("c", D("0"), NOW))


# --------------------------------------------------------------------------- release / settle


def test_release_frees_the_reservation() -> None:
    lg = ledger("0.10")
    reserved(lg.reserve("a", D("0.0625"), NOW, waba="w1", campaign="c1"))
    refused(lg.reserve("b", D("0.0625"), NOW))
    rel = lg.release("a", NOW + 5)
    assert isinstance(rel, Release)
    assert rel.amount == D("0.0625")
    assert rel.entry == LedgerEntry(
        op="release", id="a", amount=D("0.0625"), at=NOW + 5, waba="w1", campaign="c1"
    )
    for scope in (GLOBAL, Scope.waba("w1"), Scope.campaign("c1")):
        assert lg.usage(scope, "day", NOW).used == D(0)
    reserved(lg.reserve("b", D("0.0625"), NOW))
    assert lg.release("a", NOW) is None  # already released
    assert lg.release("nope", NOW) is None


@pytest.mark.parametrize(
    ("estimate", "actual", "spent", "over"),
    [
        ("0.0625", "0.0625", "0.0625", False),
        ("0.0068", "0", "0", False),  # Meta: free_customer_service
        ("0.0068", "0.0625", "0.0625", False),  # recategorised as marketing, still fits
        ("0.0625", "0.0068", "0.0068", False),
        ("0.09", "0.12", "0.12", True),  # overshoot recorded, not refused
    ],
)
def test_settle_replaces_the_reservation(
    estimate: str, actual: str, spent: str, over: bool
) -> None:
    lg = ledger("0.10")
    reserved(lg.reserve("a", D(estimate), NOW))
    s = lg.settle("a", D(actual), NOW + 2)
    assert isinstance(s, Settlement)
    assert (s.amount, s.previous) == (D(actual), D(estimate))
    assert s.over_cap == ((CapRef(GLOBAL, "day"),) if over else ())
    assert lg.usage(GLOBAL, "day", NOW) == Usage(D(spent), D(0), D("0.10"))
    assert lg.reserved("a") is None
    assert lg.release("a", NOW) is None  # a settled cost is never released
    assert lg.usage(GLOBAL, "day", NOW).spent == D(spent)


def test_settle_duplicate_webhook_does_not_count_twice() -> None:
    lg = ledger("1")
    reserved(lg.reserve("a", D("0.0625"), NOW))
    first = lg.settle("a", D("0.0625"), NOW + 1)
    assert first.entry is not None
    again = lg.settle("a", D("0.0625"), NOW + 60)
    assert again.entry is None
    assert again.alerts == ()
    changed = lg.settle("a", D("0.0068"), NOW + 120)
    assert changed.previous == D("0.0625")
    assert changed.entry is not None
    assert lg.usage(GLOBAL, "day", NOW).spent == D("0.0068")


def test_settle_without_reservation_books_at_now() -> None:
    lg = ledger("1")
    s = lg.settle("surprise", D("0.0625"), NOW, waba="w1", campaign="c1")
    assert s.previous is None
    for scope in (GLOBAL, Scope.waba("w1"), Scope.campaign("c1")):
        assert lg.usage(scope, "day", NOW).spent == D("0.0625")


def test_settle_after_midnight_counts_in_the_reservation_day() -> None:
    lg = ledger("1")
    before = utc(2026, 11, 26, 2, 59, 50)  # 23:59:50 local on the 25th
    after = utc(2026, 11, 26, 3, 0, 10)  # 00:00:10 local on the 26th
    reserved(lg.reserve("a", D("0.0625"), before))
    lg.settle("a", D("0.0625"), after)
    assert lg.usage(GLOBAL, "day", before).spent == D("0.0625")
    assert lg.usage(GLOBAL, "day", after).used == D(0)
    assert lg.usage(GLOBAL, "week", after).spent == D("0.0625")  # same week


def test_settle_ignores_scopes_of_a_known_reservation() -> None:
    lg = ledger()
    reserved(lg.reserve("a", D("1"), NOW, waba="w1"))
    s = lg.settle("a", D("1"), NOW, waba="w2")
    assert s.entry is not None
    assert s.entry.waba == "w1"
    assert lg.usage(Scope.waba("w2"), "day", NOW).used == D(0)


# --------------------------------------------------------------------------- scopes


def test_per_waba_and_per_campaign_caps() -> None:
    lg = ledger("100")
    lg.set_caps(Scope.waba("123"), Caps(daily=D("0.10")))
    lg.set_caps(Scope.campaign("natal"), Caps(weekly=D("0.13")))
    reserved(lg.reserve("a", D("0.0625"), NOW, waba="123"))
    r = refused(lg.reserve("b", D("0.0625"), NOW, waba="123"))
    assert r.reason.startswith("budget: WABA 123 daily cap would be crossed")
    reserved(lg.reserve("c", D("0.0625"), NOW, waba="456"))  # another WABA: no cap
    reserved(lg.reserve("d", D("0.0625"), NOW, waba="456", campaign="natal"))
    reserved(lg.reserve("e", D("0.0625"), NOW, waba="456", campaign="natal"))
    r = refused(lg.reserve("f", D("0.0068"), NOW, waba="456", campaign="natal"))
    assert r.reason.startswith("budget: campaign natal weekly cap would be crossed")
    assert lg.usage(GLOBAL, "day", NOW).used == D("0.25")
    assert lg.remaining(NOW, waba="123", campaign="natal") == {
        "daily": D("99.75"),
        "WABA 123 daily": D("0.0375"),
        "campaign natal weekly": D("0.005"),
    }
    lg.set_caps(Scope.waba("123"), Caps())  # cleared
    reserved(lg.reserve("b", D("0.0625"), NOW, waba="123"))


@pytest.mark.parametrize(("kind", "ident"), [("global", "x"), ("waba", ""), ("campaign", "")])
def test_scope_validation(kind: str, ident: str) -> None:
    with pytest.raises(ValueError, match="scope"):
        Scope(kind, ident)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- alerts


def crossed(alerts: tuple[Alert, ...] | list[Alert]) -> list[tuple[str, str, str]]:
    return [(a.cap.label, a.period_key.split(":")[0], str(a.threshold)) for a in alerts]


def test_thresholds_fire_once_per_period() -> None:
    lg = ledger("10", alert_at=("0.5", "0.8", "0.95"))
    assert lg.thresholds == (D("0.5"), D("0.8"), D("0.95"), D("1"))
    steps = [
        ("4.99", []),
        ("0.01", [("daily", "day", "0.5")]),  # exactly 50 %
        ("2.00", []),
        ("1.00", [("daily", "day", "0.8")]),
        ("2.00", [("daily", "day", "0.95"), ("daily", "day", "1")]),  # jump over two
    ]
    for i, (amount, expected) in enumerate(steps):
        assert crossed(reserved(lg.reserve(f"m{i}", D(amount), NOW)).alerts) == expected
    # falling under and crossing again in the same period does not fire again
    for i in range(5):
        lg.release(f"m{i}", NOW)
    assert lg.usage(GLOBAL, "day", NOW).used == D(0)
    assert reserved(lg.reserve("again", D("10"), NOW)).alerts == ()
    assert lg.alerts(NOW) == []
    # the next day starts afresh
    tomorrow = NOW + 86400
    assert crossed(reserved(lg.reserve("next", D("6"), tomorrow)).alerts) == [
        ("daily", "day", "0.5")
    ]


def test_alert_content() -> None:
    lg = ledger(daily="10", alert_at=("0.8",))
    a = reserved(lg.reserve("m", D("8.5"), NOW, waba="w")).alerts
    assert len(a) == 1
    assert a[0] == Alert(
        cap=CapRef(GLOBAL, "day"),
        period_key="day:2026-11-25",
        threshold=D("0.8"),
        used=D("8.5"),
        cap_amount=D("10"),
        at=NOW,
    )
    assert a[0].message == "budget: daily cap at 80% (8.5 of 10 USD, day:2026-11-25)"
    assert json.loads(json.dumps(a[0].to_json()))["threshold"] == "0.8"


def test_alerts_per_scope_and_period() -> None:
    lg = ledger(daily="10", weekly="20", monthly="100", alert_at=("0.5",))
    lg.set_caps(Scope.waba("w"), Caps(daily=D("10")))
    got = crossed(reserved(lg.reserve("m", D("10"), NOW, waba="w", campaign="c")).alerts)
    assert got == [
        ("daily", "day", "0.5"),
        ("daily", "day", "1"),
        ("weekly", "week", "0.5"),
        ("WABA w daily", "day", "0.5"),
        ("WABA w daily", "day", "1"),
    ]


def test_settle_can_fire_alerts() -> None:
    lg = ledger("1", alert_at=("0.5",))
    assert reserved(lg.reserve("m", D("0.4"), NOW)).alerts == ()
    s = lg.settle("m", D("1.2"), NOW + 1)
    assert crossed(s.alerts) == [("daily", "day", "0.5"), ("daily", "day", "1")]
    assert s.over_cap == (CapRef(GLOBAL, "day"),)


def test_lowering_a_cap_alerts_via_alerts_now() -> None:
    lg = ledger("10", alert_at=("0.5",))
    reserved(lg.reserve("m", D("3"), NOW))
    lg.set_caps(GLOBAL, Caps(daily=D("4")))
    assert crossed(lg.alerts(NOW)) == [("daily", "day", "0.5")]
    assert lg.alerts(NOW) == []


def test_zero_cap_alerts_only_when_something_is_spent() -> None:
    lg = ledger("0")
    reserved(lg.reserve("free", D("0"), NOW))
    assert lg.alerts(NOW) == []
    s = lg.settle("surprise", D("0.0625"), NOW)
    assert crossed(s.alerts)[-1] == ("daily", "day", "1")


def test_from_config() -> None:
    cfg = BudgetConfig(daily_usd=50.0, weekly_usd=300.0, alert_at=[0.8, 0.5])
    lg = Ledger.from_config(cfg, "America/Sao_Paulo")
    assert lg.tz == SP
    assert lg.caps(GLOBAL) == Caps(daily=D("50.0"), weekly=D("300.0"), monthly=None)
    assert lg.thresholds == (D("0.5"), D("0.8"), D("1"))
    assert Ledger.from_config(BudgetConfig(), SP).thresholds == DEFAULT_ALERT_AT


@pytest.mark.parametrize("bad", [["0"], ["1.5"], ["-0.1"]])
def test_bad_thresholds(bad: list[str]) -> None:
    with pytest.raises(ValueError, match="threshold"):
        Ledger(tz=SP, alert_at=[D(b) for b in bad])


# --------------------------------------------------------------------------- errors


def test_errors() -> None:
    lg = ledger("1")
    with pytest.raises(ValueError, match=">= 0"):
        lg.reserve("a", D("-0.01"), NOW)
    with pytest.raises(ValueError, match=">= 0"):
        lg.reserve("a", D("NaN"), NOW)
    reserved(lg.reserve("a", D("0.1"), NOW))
    with pytest.raises(ValueError, match="already held"):
        lg.reserve("a", D("0.1"), NOW)
    with pytest.raises(ValueError, match=">= 0"):
        lg.settle("a", D("-1"), NOW)
    with pytest.raises(ValueError, match="cap"):
        Caps(daily=D("-1"))


# --------------------------------------------------------------------------- journal


def test_replay_rebuilds_the_same_state() -> None:
    def fresh() -> Ledger:
        lg = ledger("1", "5", "20")
        lg.set_caps(Scope.waba("w1"), Caps(daily=D("0.5")))
        return lg

    live = fresh()
    journal: list[LedgerEntry] = []
    t = NOW
    for i in range(30):
        t += 60
        r = live.reserve(f"m{i}", D("0.0625"), t, waba=f"w{i % 2}", campaign="c")
        if isinstance(r, Reservation):
            journal.append(r.entry)
            if i % 3 == 0:
                rel = live.release(f"m{i}", t + 1)
                assert rel is not None
                journal.append(rel.entry)
            elif i % 3 == 1:
                s = live.settle(f"m{i}", D("0.0068"), t + 2)
                assert s.entry is not None
                journal.append(s.entry)
    s = live.settle("stray", D("0.0625"), t + 3, waba="w9")
    assert s.entry is not None
    journal.append(s.entry)

    stored = [json.loads(json.dumps(e.to_json())) for e in journal]
    rebuilt = fresh()
    assert rebuilt.replay(LedgerEntry.from_json(x) for x in stored) == len(journal)

    for scope in (
        GLOBAL,
        Scope.waba("w0"),
        Scope.waba("w1"),
        Scope.waba("w9"),
        Scope.campaign("c"),
    ):
        for kind in ("day", "week", "month"):
            assert rebuilt.usage(scope, kind, t) == live.usage(scope, kind, t)
    assert rebuilt.remaining(t, waba="w1") == live.remaining(t, waba="w1")
    assert rebuilt.stale_reservations(t + 10) == live.stale_reservations(t + 10)
    # fired thresholds were rebuilt too: nothing fires again
    assert rebuilt.alerts(t) == live.alerts(t) == []
    # and both keep behaving alike
    assert rebuilt.reserve("x", D("0.3"), t) == live.reserve("x", D("0.3"), t)


def test_replay_rejects_a_double_reserve() -> None:
    e = LedgerEntry(op="reserve", id="a", amount=D("1"), at=NOW)
    with pytest.raises(ValueError, match="twice"):
        ledger().replay([e, e])


@pytest.mark.parametrize(
    "data",
    [
        {"op": "spend", "id": "a", "amount": "1", "at": 1.0},
        {"op": "reserve", "id": 3, "amount": "1", "at": 1.0},
        {"op": "reserve", "id": "a", "amount": "x", "at": 1.0},
        {"op": "reserve", "id": "a", "amount": None, "at": 1.0},
        {"op": "reserve", "id": "a", "amount": "1", "at": 1.0, "waba": 7},
    ],
)
def test_entry_from_json_rejects_malformed(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"ledger|amount|number"):
        LedgerEntry.from_json(data)


def test_stale_reservations_and_prune() -> None:
    lg = ledger("10")
    reserved(lg.reserve("old", D("1"), NOW))
    reserved(lg.reserve("done", D("1"), NOW))
    lg.settle("done", D("1"), NOW + 1)
    reserved(lg.reserve("new", D("1"), NOW + 3600))
    assert lg.stale_reservations(NOW + 60) == ["old"]
    assert lg.reserved("old") == D("1")
    # Ten days later: the settled message and the empty buckets of ended periods go;
    # the open reservation and the buckets it holds stay.
    later = NOW + 10 * 86400
    dropped = lg.prune(later)
    assert dropped > 0
    assert lg.reserved("old") == D("1")
    assert lg.usage(GLOBAL, "day", NOW).reserved == D("2")
    assert lg.release("old", later) is not None
    assert lg.release("new", later) is not None
    lg.prune(later)
    assert lg.usage(GLOBAL, "day", NOW) == Usage(D(0), D(0), D("10"))
    # a settlement for a pruned message books anew at now (not in the closed period)
    s = lg.settle("done", D("1"), later)
    assert s.previous is None
    assert lg.usage(GLOBAL, "day", later).spent == D("1")


def test_reservations_across_local_midnight_book_each_day() -> None:
    lg = ledger("1")
    midnight = utc(2026, 11, 26, 3)
    reserved(lg.reserve("a", D("1"), midnight - 1))
    refused(lg.reserve("b", D("0.01"), midnight - 0.5))
    r = reserved(lg.reserve("c", D("1"), midnight))
    assert r.periods.day == "day:2026-11-26"
    # a late timestamp of the day before still counts there, after the new day was seen
    refused(lg.reserve("d", D("0.01"), midnight - 0.25))
    assert lg.usage(GLOBAL, "day", midnight - 1).reserved == D("1")
    assert lg.usage(GLOBAL, "day", midnight).reserved == D("1")
    assert lg.usage(GLOBAL, "week", midnight).reserved == D("2")


def test_caps_set_after_reservations_apply_to_the_next_one() -> None:
    # The ledger remembers each (waba, campaign)'s scopes and caps; set_caps must
    # invalidate that, both ways.
    lg = ledger()
    waba = Scope.waba("w1")
    reserved(lg.reserve("a", D("1"), NOW, waba="w1", campaign="c1"))
    lg.set_caps(waba, Caps(daily=D("1.5")))
    r = refused(lg.reserve("b", D("1"), NOW, waba="w1", campaign="c1"))
    assert r.cap == CapRef(waba, "day")
    lg.set_caps(waba, Caps())
    reserved(lg.reserve("b", D("1"), NOW, waba="w1", campaign="c1"))
    lg.set_caps(Scope.campaign("c1"), Caps(monthly=D("2")))
    assert refused(lg.reserve("c", D("1"), NOW, campaign="c1")).cap == CapRef(
        Scope.campaign("c1"), "month"
    )
    assert lg.remaining(NOW, waba="w1", campaign="c1") == {"campaign c1 monthly": D("0")}


@pytest.mark.parametrize(
    ("steps", "fired"),
    [
        # one reservation past three thresholds fires them all, ascending
        (["0.96"], ["0.5", "0.8", "0.95"]),
        (["0.5", "0.29", "0.01"], ["0.5", "0.8"]),
        (["0.49", "0.01", "0.3", "0.2"], ["0.5", "0.8", "0.95", "1"]),
    ],
)
def test_thresholds_fire_in_order_each_once(steps: list[str], fired: list[str]) -> None:
    lg = ledger("1")
    got: list[Decimal] = []
    for i, amount in enumerate(steps):
        got += [a.threshold for a in reserved(lg.reserve(f"m{i}", D(amount), NOW)).alerts]
    assert got == [D(f) for f in fired]
    lg.release("m0", NOW)  # falling back under does not re-arm a threshold
    got = [a.threshold for a in reserved(lg.reserve("again", D(steps[0]), NOW)).alerts]
    assert got == []


def test_prune_walks_from_the_oldest_and_stops_at_the_first_young_message() -> None:
    lg = ledger("1000")
    reserved(lg.reserve("open", D("1"), NOW))  # an old open reservation: kept, passed
    for n in range(5):
        reserved(lg.reserve(f"m{n}", D("1"), NOW + n * 86400))
        lg.settle(f"m{n}", D("1"), NOW + n * 86400 + 1)
    assert len(lg) == 6
    # Eight days after m1 was booked: m0 and m1 are past retention, m2.. are not.
    lg.prune(NOW + 86400 + RETAIN_SETTLED_S + 1)
    assert len(lg) == 4
    assert lg.reserved("open") == D("1")
    assert lg.settle("m2", D("1"), NOW + 9 * 86400).previous is not None  # still known
    assert lg.settle("m1", D("1"), NOW + 9 * 86400).previous is None  # forgotten


def test_stale_reservations_are_those_still_held_and_survive_a_replay() -> None:
    lg = ledger("1000")
    entries = []
    for n in range(4):
        entries.append(reserved(lg.reserve(f"m{n}", D("1"), NOW + n)).entry)
    settle = lg.settle("m1", D("1"), NOW + 10).entry
    release = lg.release("m2", NOW + 10)
    assert settle is not None
    assert release is not None
    entries += [settle, release.entry]
    lg.settle("late", D("1"), NOW + 11)  # a price with no reservation: settled at once
    assert lg.stale_reservations(NOW + 100) == ["m0", "m3"]
    assert lg.stale_reservations(NOW + 3) == ["m0"]
    again = ledger("1000")
    again.replay(entries)
    assert again.stale_reservations(NOW + 100) == ["m0", "m3"]


@pytest.mark.parametrize(
    ("local_now", "expected_start"),
    [
        # Wednesday 25 Nov: the month began on the 1st, before the week (23rd) and
        # before 8 days ago (17th).
        ((2026, 11, 25, 15, 0), (2026, 11, 1, 0, 0)),
        # Wednesday 2 Dec: the week began on Monday 30 Nov, the month on the 1st; 8 days
        # back (24 Nov, 15:00) is older than both.
        ((2026, 12, 2, 15, 0), (2026, 11, 24, 15, 0)),
        # Friday 1 Jan 2027: ISO week 2026-W53 began on Monday 28 Dec; 8 days back wins.
        ((2027, 1, 1, 9, 30), (2026, 12, 24, 9, 30)),
    ],
)
def test_a_rebuild_replays_from_the_oldest_current_period_or_eight_days_back(
    local_now: tuple[int, ...], expected_start: tuple[int, ...]
) -> None:
    tz = ZoneInfo("America/Sao_Paulo")
    now = dt.datetime(*local_now, tzinfo=tz).timestamp()
    assert ledger("10").replay_from(now) == dt.datetime(*expected_start, tzinfo=tz).timestamp()
