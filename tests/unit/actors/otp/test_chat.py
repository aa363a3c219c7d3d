"""Which purpose a code typed in the chat answers, and whether a miss counts."""

from __future__ import annotations

import dataclasses

import pytest

from actors.otp.chat import ChatGuess, awaiting, guessable, pick, typed_code
from actors.otp.rules import OtpPolicy, OtpState, draw, verify

P = OtpPolicy(ttl_s=600, max_attempts=3, lockout_s=900, max_sends_per_hour=2)
T0 = 1_000_000.0


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("123456", "123456"),
        ("  123456\n", "123456"),
        ("123 456", "123456"),
        ("123-456", "123456"),
        ("12 34-56", "123456"),
        ("123\u00a0456", "123456"),  # a no-break space pasted from the message
        ("123\u2013456", "123456"),  # an en dash
        ("012345", "012345"),
    ],
)
def test_a_whole_message_of_code_digits_is_a_code(text: str, code: str) -> None:
    assert typed_code(text, 6) == code


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "12345",
        "1234567",
        "my code is 123456",
        "123456!",
        "+55 11 98765-4321",
        "१२३४५६",  # Devanagari digits: str.isdigit, but no code has them
        "12a456",
        "ok",
    ],
)
def test_anything_else_is_ordinary_chat(text: str | None) -> None:
    assert typed_code(text, 6) is None


def test_the_configured_length_decides() -> None:
    assert typed_code("1234", 4) == "1234"
    assert typed_code("123456", 4) is None


def _live(now: float = T0) -> OtpState:
    return OtpState(code=draw(b"s", b"h", now, P), window_start=now, window_sends=1)


def test_purposes_await_a_code_while_one_is_live_even_locked() -> None:
    states = {
        "login": _live(),
        "shift:V2": dataclasses.replace(_live(), locked_until=T0 + 900),
        "used": dataclasses.replace(_live(), consumed=True),
        "expired": _live(T0 - 601),
        "none": OtpState(window_start=T0),
    }
    assert awaiting(states, T0) == ("login", "shift:V2")


def test_a_locked_or_exhausted_purpose_takes_no_guess() -> None:
    assert guessable(_live(), T0, P)
    assert not guessable(dataclasses.replace(_live(), locked_until=T0 + 1), T0, P)
    assert not guessable(dataclasses.replace(_live(), attempts=3), T0, P)


def test_one_awaiting_purpose_takes_the_guess_and_a_miss_counts() -> None:
    assert pick(("login",), ()) == ChatGuess("login", counts=True)


def test_with_several_only_a_single_match_is_taken_and_counts_nothing() -> None:
    both = ("login", "shift:V2")
    assert pick(both, ("shift:V2",)) == ChatGuess("shift:V2", counts=False)
    assert pick(both, ()) is None  # a wrong number locks out nobody
    assert pick(both, both) is None  # the same digits for two: which one was meant?


def test_nothing_awaiting_is_ordinary_chat() -> None:
    assert pick((), ()) is None


def test_an_uncounted_miss_stores_nothing_and_a_hit_is_consumed() -> None:
    state = _live()
    miss = verify(state, lambda _: False, T0, P, counts=False)
    assert (miss.valid, miss.reason, miss.attempts_left, miss.state) == (False, "wrong", 3, None)
    hit = verify(state, lambda _: True, T0, P, counts=False)
    assert hit.valid
    assert hit.state is not None
    assert hit.state.consumed
