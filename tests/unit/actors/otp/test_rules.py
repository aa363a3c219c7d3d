from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from actors.otp.rules import (
    MAX_PURPOSE,
    Code,
    Issue,
    OtpPolicy,
    OtpState,
    check_purpose,
    draw,
    local_time,
    may_issue,
    sent,
    stage,
    unsent,
    verify,
)

UTC3 = dt.timezone(dt.timedelta(hours=-3))
P = OtpPolicy(ttl_s=600, max_attempts=3, lockout_s=900, max_sends_per_hour=2, tz=UTC3)
T0 = 1_000_000.0


def _code(now: float, name: bytes = b"hash") -> Code:
    return draw(b"salt" + name, name, now, P)


def _staged(now: float, state: OtpState | None = None, name: bytes = b"hash") -> OtpState:
    result = stage(state, _code(now, name), now, P)
    assert isinstance(result, Issue)
    return result.state


def _issued(now: float = T0, state: OtpState | None = None, name: bytes = b"hash") -> OtpState:
    """A code drawn, stored pending, then accepted by the chip."""
    return sent(_staged(now, state, name), _code(now, name), now, P)


def right(_: Code) -> bool:
    return True


def wrong(_: Code) -> bool:
    return False


def test_a_fresh_code_verifies_once() -> None:
    state = _issued()
    assert state.code is not None
    assert state.code.expires_at == T0 + 600
    assert state.pending is None
    ok = verify(state, right, T0 + 10, P)
    assert (ok.valid, ok.reason) == (True, "ok")
    assert ok.state is not None
    again = verify(ok.state, right, T0 + 11, P)
    assert (again.valid, again.reason, again.attempts_left) == (False, "used", None)


def test_an_expired_code_is_refused_without_hashing() -> None:
    def boom(_: Code) -> bool:
        raise AssertionError("hashed an expired code")

    verdict = verify(_issued(), boom, T0 + 600, P)
    assert (verdict.valid, verdict.reason, verdict.state) == (False, "expired", None)
    assert verdict.attempts_left is None


def test_no_code_is_no_code_with_no_attempts_to_tell() -> None:
    verdict = verify(None, right, T0, P)
    assert (verdict.reason, verdict.attempts_left) == ("no_code", None)


def test_wrong_guesses_count_down_then_lock_even_the_right_code() -> None:
    state = _issued()
    lefts = []
    for i in range(3):
        verdict = verify(state, wrong, T0 + i, P)
        assert verdict.reason == "wrong"
        assert verdict.state is not None
        state = verdict.state
        lefts.append(verdict.attempts_left)
    assert lefts == [2, 1, 0]
    assert state.locked_until == T0 + 2 + 900
    locked = verify(state, right, T0 + 5, P)
    assert (locked.reason, locked.attempts_left, locked.locked_until) == ("locked", 0, T0 + 902)
    assert may_issue(state, T0 + 5, P) is not None
    # Once the lockout is over the spent code still takes no guesses (even unexpired)…
    assert state.code is not None
    longer = dataclasses.replace(state.code, expires_at=T0 + 5000)
    unexpired = dataclasses.replace(state, code=longer)
    assert verify(unexpired, right, T0 + 1000, P).reason == "locked"
    # …but a new code may be sent, with fresh attempts.
    assert may_issue(state, T0 + 1000, P) is None
    fresh = _issued(T0 + 1000, state, b"hash2")
    assert fresh.attempts == 0
    assert verify(fresh, right, T0 + 1001, P).valid


def test_a_lockout_is_told_in_local_time_with_the_seconds_left() -> None:
    state = dataclasses.replace(_issued(), locked_until=T0 + 840)
    reason = may_issue(state, T0, P)
    assert reason == (f"locked after 3 wrong codes until {local_time(T0 + 840, UTC3)} (840 s left)")
    assert local_time(T0 + 840, UTC3) == "1970-01-12T11:00:40-03:00"


def test_sends_per_hour_are_capped_and_the_window_rolls() -> None:
    first = _issued(T0)
    second = _issued(T0 + 60, first, b"h2")
    assert second.window_sends == 2
    assert isinstance(stage(second, _code(T0 + 120, b"h3"), T0 + 120, P), str)
    third = _issued(T0 + 3600, second, b"h4")
    assert (third.window_start, third.window_sends) == (T0 + 3600, 1)


def test_a_new_code_replaces_the_current_one_once_sent() -> None:
    old = _issued(T0)
    staged = _staged(T0 + 30, old, b"hash2")
    assert staged.code == old.code  # not yet: the chip has not answered
    new = sent(staged, _code(T0 + 30, b"hash2"), T0 + 31, P)
    assert new.code is not None
    assert new.code.code_hash == b"hash2"
    assert new.code.expires_at == T0 + 630
    assert new.pending is None


def test_a_refused_send_leaves_the_held_code_valid_and_uncounted() -> None:
    held = _issued(T0)
    state: OtpState | None = held
    for i in range(1, 6):  # more refusals than the hourly limit
        drawn = _code(T0 + i, b"refused%d" % i)
        decision = stage(state, drawn, T0 + i, P)
        assert isinstance(decision, Issue)
        state = unsent(decision.state, drawn)
    assert state == held
    ok = verify(state, lambda c: c == held.code, T0 + 10, P)
    assert ok.valid
    assert may_issue(held, T0 + 10, P) is None


def test_a_refused_first_send_leaves_no_code() -> None:
    drawn = _code(T0)
    decision = stage(None, drawn, T0, P)
    assert isinstance(decision, Issue)
    state = unsent(decision.state, drawn)
    assert state is not None
    assert state.window_sends == 0
    verdict = verify(state, right, T0 + 1, P)
    assert (verdict.reason, verdict.attempts_left) == ("no_code", None)


def test_a_pending_code_verifies_after_a_crash_and_counts_then() -> None:
    """The daemon died after the POST: the code may have reached the contact."""
    held = _issued(T0)
    pending = _staged(T0 + 30, held, b"hash2")
    new = _code(T0 + 30, b"hash2")
    assert verify(pending, lambda c: c == held.code, T0 + 40, P).valid  # the old one too
    ok = verify(pending, lambda c: c == new, T0 + 40, P)
    assert ok.valid
    assert ok.state is not None
    assert (ok.state.code, ok.state.pending, ok.state.consumed) == (new, None, True)
    assert ok.state.window_sends == 2
    # The chip's late answer does not count it twice nor revive it.
    late = sent(ok.state, new, T0 + 41, P)
    assert (late.window_sends, late.consumed) == (2, True)


def test_a_late_answer_for_an_older_code_does_not_replace_a_newer_one() -> None:
    older, newer = _code(T0, b"a"), _code(T0 + 1, b"b")
    state = _staged(T0 + 1, _staged(T0, None, b"a"), b"b")
    state = sent(state, newer, T0 + 2, P)
    state = sent(state, older, T0 + 3, P)
    assert (state.code, state.window_sends) == (newer, 2)


def test_a_purpose_is_one_to_128_characters() -> None:
    assert check_purpose("shift:V1002") == "shift:V1002"
    assert check_purpose("x" * MAX_PURPOSE)
    for bad in ("", "x" * 5000):
        with pytest.raises(ValueError, match="purpose: 1 to 128 characters"):
            check_purpose(bad)


def test_a_code_read_back_with_rounded_times_is_still_that_code() -> None:
    """Storage keeps microseconds: the code it returns must still be recognised."""
    now = T0 + 0.123456789
    drawn = _code(now)
    stored = _staged(now)
    assert stored.pending is not None
    rounded = dataclasses.replace(stored.pending, issued_at=round(now, 6))
    read_back = dataclasses.replace(stored, pending=rounded)
    assert unsent(read_back, drawn) == dataclasses.replace(read_back, pending=None)
    promoted = sent(read_back, drawn, now, P)
    assert (promoted.pending, promoted.window_sends) == (None, 1)
