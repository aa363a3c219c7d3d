"""A code whose message fails after Meta took it (a ``failed`` status webhook, e.g.
131026): it stops counting toward the hourly limit, and the code it replaced, which the
contact still holds, verifies again unless used, exhausted or expired. No sleeping:
every rule takes ``now``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from actors.otp.rules import (
    Code,
    Issue,
    OtpPolicy,
    OtpState,
    draw,
    failed,
    may_issue,
    sent,
    stage,
    verify,
)

P = OtpPolicy(ttl_s=600, max_attempts=3, lockout_s=900, max_sends_per_hour=2)
T0 = 1_000_000.0


def _code(now: float, name: bytes) -> Code:
    return draw(b"salt" + name, name, now, P)


def _send(state: OtpState | None, now: float, name: bytes, outbox_id: int) -> OtpState:
    """Draw, stage and send a code whose message is ``outbox_id`` (the chip accepted)."""
    drawn = _code(now, name)
    decision = stage(state, drawn, now, P)
    assert isinstance(decision, Issue), decision
    return sent(decision.state, dataclasses.replace(drawn, outbox_id=outbox_id), now + 1, P)


def _is(name: bytes) -> Callable[[Code], bool]:
    return lambda code: code.code_hash == name


def _wrong(_: Code) -> bool:
    return False


def test_a_failed_code_is_uncounted_and_the_previous_one_verifies_again() -> None:
    held = _send(None, T0, b"old", outbox_id=1)
    new = _send(held, T0 + 60, b"new", outbox_id=2)
    assert new.window_sends == 2
    assert may_issue(new, T0 + 70, P) == "2 codes already sent this hour"
    # The previous code does not verify while the new one stands…
    assert verify(new, _is(b"old"), T0 + 70, P).reason == "wrong"
    back = failed(new, 2)
    assert back is not None
    assert back.window_sends == 1
    assert may_issue(back, T0 + 70, P) is None  # the failed code did not use the hour's
    assert back.undelivered == 2
    assert back.code is not None
    assert back.code.code_hash == b"old"
    # …and does once the new one failed; the failed one no longer does.
    assert not verify(back, _is(b"new"), T0 + 70, P).valid
    ok = verify(back, _is(b"old"), T0 + 70, P)
    assert (ok.valid, ok.reason) == (True, "ok")


def test_a_failure_told_twice_changes_nothing_the_second_time() -> None:
    new = _send(_send(None, T0, b"old", outbox_id=1), T0 + 60, b"new", outbox_id=2)
    once = failed(new, 2)
    assert once is not None
    assert failed(once, 2) is None
    assert failed(once, 99) is None  # another message: not this row's


def test_the_only_code_failing_leaves_none_and_no_count() -> None:
    only = _send(None, T0, b"only", outbox_id=7)
    after = failed(only, 7)
    assert after is not None
    assert (after.code, after.window_sends, after.undelivered) == (None, 0, 7)
    verdict = verify(after, _is(b"only"), T0 + 5, P)
    assert (verdict.reason, verdict.attempts_left) == ("no_code", None)


def test_the_previous_code_comes_back_with_its_attempts_and_its_use() -> None:
    held = _send(None, T0, b"old", outbox_id=1)
    for i in range(2):  # two of three guesses spent on the old code
        step = verify(held, _wrong, T0 + 10 + i, P).state
        assert step is not None
        held = step
    new = _send(held, T0 + 60, b"new", outbox_id=2)
    assert new.attempts == 0
    spent = verify(new, _wrong, T0 + 61, P).state  # a guess at the new code
    assert spent is not None
    back = failed(spent, 2)
    assert back is not None
    assert back.attempts == 2  # the old code's own, not the new one's
    assert verify(back, _wrong, T0 + 70, P).attempts_left == 0

    used = verify(_send(None, T0, b"old", outbox_id=1), _is(b"old"), T0 + 5, P).state
    assert used is not None
    again = failed(_send(used, T0 + 60, b"new", outbox_id=2), 2)
    assert again is not None
    assert verify(again, _is(b"old"), T0 + 70, P).reason == "used"


def test_an_expired_previous_code_comes_back_expired() -> None:
    new = _send(_send(None, T0, b"old", outbox_id=1), T0 + 500, b"new", outbox_id=2)
    back = failed(new, 2)
    assert back is not None
    assert verify(back, _is(b"old"), T0 + 700, P).reason == "expired"


def test_a_lockout_earned_on_the_failed_code_stays() -> None:
    new = _send(_send(None, T0, b"old", outbox_id=1), T0 + 60, b"new", outbox_id=2)
    state = new
    for i in range(3):
        step = verify(state, _wrong, T0 + 61 + i, P).state
        assert step is not None
        state = step
    assert state.locked_until is not None
    back = failed(state, 2)
    assert back is not None
    assert back.locked_until == state.locked_until
    assert verify(back, _is(b"old"), T0 + 100, P).reason == "locked"


def test_a_code_that_verified_stays_used_when_its_message_is_said_failed() -> None:
    new = _send(_send(None, T0, b"old", outbox_id=1), T0 + 60, b"new", outbox_id=2)
    used = verify(new, _is(b"new"), T0 + 70, P).state
    assert used is not None
    after = failed(used, 2)
    assert after is not None
    assert (after.consumed, after.window_sends) == (True, 1)
    assert after.code is not None
    assert after.code.code_hash == b"new"


def test_a_send_counted_in_an_hour_that_is_over_uncounts_nothing_now() -> None:
    first = _send(None, T0, b"a", outbox_id=1)
    second = _send(first, T0 + 3700, b"b", outbox_id=2)  # a new hour
    third = _send(second, T0 + 3800, b"c", outbox_id=3)
    assert third.window_sends == 2
    # The previous code's message fails late: counted in this hour, so uncounted.
    late = failed(third, 2)
    assert late is not None
    assert (late.window_sends, late.previous) == (1, None)
    # The failed code's replacement never comes back after its own failure.
    gone = failed(late, 3)
    assert gone is not None
    assert (gone.code, gone.window_sends) == (None, 0)


def test_a_pending_code_verified_first_learns_its_message_then_fails() -> None:
    """A guess matched the pending code before the chip's answer came: the answer still
    tells the code its outbox id, so a failed status finds it."""
    held = _send(None, T0, b"old", outbox_id=1)
    drawn = _code(T0 + 60, b"new")
    decision = stage(held, drawn, T0 + 60, P)
    assert isinstance(decision, Issue)
    guessed = verify(decision.state, _is(b"new"), T0 + 61, P).state
    assert guessed is not None
    told = sent(guessed, dataclasses.replace(drawn, outbox_id=5), T0 + 62, P)
    assert told.code is not None
    assert (told.code.outbox_id, told.window_sends) == (5, 2)
    assert failed(told, 5) is not None
