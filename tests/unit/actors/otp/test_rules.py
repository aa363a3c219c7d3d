from __future__ import annotations

import dataclasses

from actors.otp.rules import Issue, OtpPolicy, OtpState, issue, may_issue, verify

P = OtpPolicy(ttl_s=600, max_attempts=3, lockout_s=900, max_sends_per_hour=2)
T0 = 1_000_000.0


def _issued(now: float = T0, state: OtpState | None = None) -> OtpState:
    result = issue(state, b"salt", b"hash", now, P)
    assert isinstance(result, Issue)
    return result.state


def right(_: OtpState) -> bool:
    return True


def wrong(_: OtpState) -> bool:
    return False


def test_a_fresh_code_verifies_once() -> None:
    state = _issued()
    assert state.expires_at == T0 + 600
    ok = verify(state, right, T0 + 10, P)
    assert (ok.valid, ok.reason) == (True, "ok")
    assert ok.state is not None
    again = verify(ok.state, right, T0 + 11, P)
    assert (again.valid, again.reason) == (False, "used")


def test_an_expired_code_is_refused_without_hashing() -> None:
    def boom(_: OtpState) -> bool:
        raise AssertionError("hashed an expired code")

    verdict = verify(_issued(), boom, T0 + 600, P)
    assert (verdict.valid, verdict.reason, verdict.state) == (False, "expired", None)


def test_no_code_is_no_code() -> None:
    assert verify(None, right, T0, P).reason == "no_code"


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
    assert verify(state, right, T0 + 5, P).reason == "locked"
    assert may_issue(state, T0 + 5, P) is not None
    # Once the lockout is over the spent code still takes no guesses (even unexpired)…
    unexpired = dataclasses.replace(state, expires_at=T0 + 5000)
    assert verify(unexpired, right, T0 + 1000, P).reason == "locked"
    # …but a new code may be sent, with fresh attempts.
    assert may_issue(state, T0 + 1000, P) is None
    fresh = _issued(T0 + 1000, state)
    assert fresh.attempts == 0
    assert verify(fresh, right, T0 + 1001, P).valid


def test_sends_per_hour_are_capped_and_the_window_rolls() -> None:
    first = _issued(T0)
    second = _issued(T0 + 60, first)
    assert second.window_sends == 2
    assert isinstance(issue(second, b"s", b"h", T0 + 120, P), str)
    third = _issued(T0 + 3600, second)
    assert (third.window_start, third.window_sends) == (T0 + 3600, 1)


def test_a_new_code_replaces_the_pending_one() -> None:
    old = _issued(T0)
    new = issue(old, b"salt2", b"hash2", T0 + 30, P)
    assert isinstance(new, Issue)
    assert new.state.code_hash == b"hash2"
    assert new.state.expires_at == T0 + 630
