from __future__ import annotations

import pytest

from actors.chip.window import WindowBook, WindowChange, WindowState
from config.model import WindowsConfig

H = 3600.0
T0 = 1_764_000_000.0  # an epoch second (2025-11-24)
MARGIN = 300.0
K = "5511987654321"


def book(**overrides: float) -> WindowBook:
    return WindowBook(WindowsConfig.model_validate(overrides))


@pytest.mark.parametrize(
    ("offset", "service_open", "seconds_left"),
    [
        (0.0, True, 24 * H - MARGIN),
        (24 * H - MARGIN - 1.0, True, 1.0),
        (24 * H - MARGIN - 0.5, True, 0.5),
        (24 * H - MARGIN, False, 0.0),  # exactly expiry - margin: CLOSED
        (24 * H - MARGIN + 1.0, False, 0.0),  # inside the margin
        (24 * H - 1.0, False, 0.0),
        (24 * H, False, 0.0),  # at expiry
        (25 * H, False, 0.0),
    ],
)
def test_service_window_margin_boundary(
    offset: float, service_open: bool, seconds_left: float
) -> None:
    w = book()
    w.on_inbound(K, T0)
    now = T0 + offset
    assert w.state(K, now) == WindowState(
        service_open=service_open,
        free_entry_open=False,
        service_expires_at=T0 + 24 * H,
        free_entry_expires_at=None,
        seconds_left=seconds_left,
    )
    assert w.may_send_free_form(K, now) is service_open
    assert w.open_count(now) == int(service_open)


@pytest.mark.parametrize(
    ("margin", "offset", "service_open"),
    [
        (0.0, 24 * H - 0.001, True),
        (0.0, 24 * H, False),  # no margin: closed at expiry itself
        (60.0, 24 * H - 60.0, False),
        (60.0, 24 * H - 61.0, True),
    ],
)
def test_margin_is_configurable(margin: float, offset: float, service_open: bool) -> None:
    w = book(safety_margin_s=margin)
    w.on_inbound(K, T0)
    assert w.may_send_free_form(K, T0 + offset) is service_open


def test_unknown_contact_has_no_window() -> None:
    w = book()
    assert w.state(K, T0) == WindowState(False, False, None, None, 0.0)
    assert not w.may_send_free_form(K, T0)
    assert not w.is_free(K, T0, "utility")


@pytest.mark.parametrize(
    ("inbound_at", "expected_expiry", "changes"),
    [
        # in order: each message renews
        ((T0, T0 + H, T0 + 2 * H), T0 + 26 * H, 3),
        # out of order: a late, older message never shortens the window
        ((T0 + 2 * H, T0, T0 + H), T0 + 26 * H, 1),
        # duplicates (Meta retries) change nothing
        ((T0, T0, T0), T0 + 24 * H, 1),
        ((T0 + 5 * H, T0 + 4 * H, T0 + 6 * H, T0 + 1 * H), T0 + 30 * H, 2),
    ],
)
def test_renew_never_shortens(
    inbound_at: tuple[float, ...], expected_expiry: float, changes: int
) -> None:
    w = book()
    results = [w.on_inbound(K, at) for at in inbound_at]
    journal = [c for c in results if c is not None]
    assert len(journal) == changes
    assert journal[-1] == WindowChange(K, "service", expected_expiry)
    assert w.state(K, T0).service_expires_at == expected_expiry


@pytest.mark.parametrize(
    ("offset", "service_open", "free_entry_open", "free_form"),
    [
        (H, True, True, True),
        (24 * H - MARGIN - 1, True, True, True),
        (24 * H - MARGIN, False, True, False),  # service closed, free entry still on
        (48 * H, False, True, False),  # templates free, free-form NOT allowed
        (72 * H - MARGIN - 1, False, True, False),
        (72 * H - MARGIN, False, False, False),
        (73 * H, False, False, False),
    ],
)
def test_referral_window_does_not_allow_free_form(
    offset: float, service_open: bool, free_entry_open: bool, free_form: bool
) -> None:
    w = book()
    # A CTWA referral comes on an inbound message: the caller records both.
    assert w.on_inbound(K, T0) == WindowChange(K, "service", T0 + 24 * H)
    assert w.on_referral(K, T0) == WindowChange(K, "free_entry", T0 + 72 * H)
    state = w.state(K, T0 + offset)
    assert state.service_open is service_open
    assert state.free_entry_open is free_entry_open
    assert state.free_entry_expires_at == T0 + 72 * H
    assert w.may_send_free_form(K, T0 + offset) is free_form


def test_referral_alone_opens_no_service_window() -> None:
    w = book()
    w.on_referral(K, T0)
    assert not w.may_send_free_form(K, T0)
    assert w.is_free(K, T0, "marketing")
    assert w.open_count(T0) == 0
    assert w.open_count(T0, "free_entry") == 1


def test_referral_renew_never_shortens() -> None:
    w = book()
    assert w.on_referral(K, T0 + H) is not None
    assert w.on_referral(K, T0) is None
    assert w.state(K, T0).free_entry_expires_at == T0 + 73 * H


@pytest.mark.parametrize(
    ("windows", "offset", "category", "free"),
    [
        # service window open: service (free-form) and utility are free
        ("service", H, "service", True),
        ("service", H, "utility", True),
        ("service", H, "marketing", False),
        ("service", H, "authentication", False),
        ("service", H, "authentication_international", False),
        # service window inside the margin: nothing free
        ("service", 24 * H - MARGIN, "utility", False),
        ("service", 24 * H - MARGIN, "service", False),
        # free entry point open: everything free
        ("both", H, "marketing", True),
        ("both", H, "authentication", True),
        ("both", 48 * H, "marketing", True),
        ("both", 48 * H, "utility", True),
        ("both", 72 * H - MARGIN, "marketing", False),
        ("referral", H, "authentication_international", True),
        # no window
        ("none", H, "service", False),
        ("none", H, "utility", False),
        ("none", H, "marketing", False),
    ],
)
def test_is_free(windows: str, offset: float, category: str, free: bool) -> None:
    w = book()
    if windows in ("service", "both"):
        w.on_inbound(K, T0)
    if windows in ("referral", "both"):
        w.on_referral(K, T0)
    assert w.is_free(K, T0 + offset, category) is free


def test_is_free_rejects_unknown_category() -> None:
    with pytest.raises(ValueError, match="unknown pricing category"):
        book().is_free(K, T0, "promotional")


def test_expire_drops_only_expired_entries() -> None:
    w = book()
    w.on_inbound("a", T0)
    w.on_inbound("b", T0 + 10 * H)
    w.on_referral("b", T0 + 10 * H)
    w.on_inbound("c", T0 - 30 * H)
    assert len(w) == 4
    assert w.expire(T0) == 1  # c
    assert w.expire(T0 + 24 * H - 1) == 0  # a is inside the margin, not expired yet
    assert w.expire(T0 + 24 * H) == 1  # a, exactly at expiry
    assert w.expire(T0 + 34 * H) == 1  # b's service window
    assert w.state("b", T0 + 34 * H).free_entry_open
    assert w.expire(T0 + 82 * H) == 1
    assert len(w) == 0


def test_open_count() -> None:
    w = book()
    for i in range(10):
        w.on_inbound(f"c{i}", T0 + i * H)
    assert w.open_count(T0 + 9 * H) == 10
    assert w.open_count(T0 + 24 * H - MARGIN) == 9
    assert w.open_count(T0 + 30 * H) == 3


def test_load_keeps_latest_and_skips_expired() -> None:
    w = book()
    rows = [
        (K, "service", T0 + 5 * H),
        (K, "service", T0 + 2 * H),  # older row later in the list
        (K, "free_entry", T0 + 50 * H),
        ("old", "service", T0 - 1.0),
        ("b", "service", T0 + H),
    ]
    assert w.load(rows, now=T0) == 4
    assert w.state(K, T0).service_expires_at == T0 + 5 * H
    assert w.state(K, T0).free_entry_expires_at == T0 + 50 * H
    assert w.state("old", T0).service_expires_at is None
    # load then inbound: the journal of the running book continues from there
    assert w.on_inbound("b", T0 - 24 * H) is None


def test_load_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown window kind"):
        book().load([(K, "user_initiated", T0)])


def test_journal_replays_to_the_same_state() -> None:
    w = book()
    journal = [
        c
        for c in (
            w.on_inbound(K, T0),
            w.on_inbound(K, T0 + H),
            w.on_referral(K, T0 + H),
            w.on_inbound("x", T0 + 2 * H),
            w.on_inbound(K, T0),
        )
        if c is not None
    ]
    rebuilt = book()
    rebuilt.load((c.key, c.kind, c.expires_at) for c in journal if c.expires_at is not None)
    for key in (K, "x"):
        assert rebuilt.state(key, T0) == w.state(key, T0)


@pytest.mark.parametrize(
    ("old_service", "new_service", "expected"),
    [
        (T0 + 5 * H, None, T0 + 5 * H),
        (T0 + 5 * H, T0 + 3 * H, T0 + 5 * H),
        (T0 + 3 * H, T0 + 5 * H, T0 + 5 * H),
    ],
)
def test_rekey_keeps_the_later_expiry(
    old_service: float, new_service: float | None, expected: float
) -> None:
    w = book()
    w.load([("BR.1", "service", old_service), ("BR.1", "free_entry", T0 + 9 * H)])
    if new_service is not None:
        w.load([(K, "service", new_service)])
    changes = w.rekey("BR.1", K)
    assert WindowChange("BR.1", "service", None) in changes
    assert WindowChange("BR.1", "free_entry", None) in changes
    assert WindowChange(K, "free_entry", T0 + 9 * H) in changes
    assert w.state(K, T0).service_expires_at == expected
    assert w.state("BR.1", T0).service_expires_at is None
    assert w.rekey(K, K) == []


def test_hours_are_configurable() -> None:
    w = book(service_hours=1.0, free_entry_hours=2.0, safety_margin_s=0.0)
    assert w.on_inbound(K, T0) == WindowChange(K, "service", T0 + H)
    assert w.on_referral(K, T0) == WindowChange(K, "free_entry", T0 + 2 * H)


def test_close_service_removes_only_the_service_window() -> None:
    book = WindowBook(WindowsConfig())
    book.on_inbound("5511987654321", 1000.0)
    book.on_referral("5511987654321", 1000.0)
    change = book.close_service("5511987654321")
    assert change is not None
    assert change.expires_at is None
    state = book.state("5511987654321", 1001.0)
    assert not state.service_open
    assert state.free_entry_open
    assert book.close_service("5511987654321") is None
