"""An answered shift offer is not silently offered again (behaviour: a resend erased
the doctor's confirmation)."""

from __future__ import annotations

import datetime as dt

import pytest

from actors.otp.shifts import reoffer_refusal, replaces_answer, shift_of_purpose

UTC3 = dt.timezone(dt.timedelta(hours=-3))


@pytest.mark.parametrize("state", ["confirmed", "declined"])
def test_an_answered_offer_is_offered_again_only_when_forced(state: str) -> None:
    reason = reoffer_refusal(state, 1_800_000_000.0, force=False, tz=UTC3)
    assert reason == (
        f"already {state} at 2027-01-15T05:00:00-03:00; to ask again, send with force"
        " (metad ctl shift send --again)"
    )
    assert reoffer_refusal(state, 1_800_000_000.0, force=True, tz=UTC3) is None
    assert not replaces_answer(state, force=False)
    assert replaces_answer(state, force=True)


@pytest.mark.parametrize("state", ["pending", "failed"])
def test_an_unanswered_offer_may_be_sent_again(state: str) -> None:
    assert reoffer_refusal(state, None, force=False) is None
    assert replaces_answer(state, force=False)


def test_a_passcode_purpose_names_its_shift() -> None:
    assert shift_of_purpose("shift:V1002") == "V1002"
    assert shift_of_purpose("shift:a:b") == "a:b"
    for purpose in ("login", "shift:", "shift", "shifts:V1", "shift:" + "x" * 129):
        assert shift_of_purpose(purpose) is None
