"""A code typed back in the WhatsApp chat: which purpose it answers, and whether a miss
counts.

Why: people (doctors confirming a shift) type the code they received into the chat
instead of the app that asked for it; the old system ignored those messages
(behaviour.md 7.16), so the contact was stuck. Here a message whose whole text is a code
of the configured length is judged as ``otp verify`` would judge it.

Why the care with several purposes: a contact may await codes for several purposes at
once (``login``, ``shift:V1002``) and a chat message does not say which one it answers.
Counting a wrong number against every purpose would let one typo lock out a purpose the
contact was not addressing. So:

* one purpose awaits a code: the number is a guess at it, counted like any guess (a
  miss costs an attempt, enough of them lock it out);
* several await: the number is tried against each one not locked, without counting;
  exactly one matching is verified (and consumed); none or more than one (the same
  digits drawn for two purposes) changes nothing, since nobody can tell which was meant;
* none awaits (no code, or every code used or expired): the message is ordinary chat.

A purpose "awaits" while it has a live code (:func:`actors.otp.rules.live_codes`), even
when locked: a contact typing the code of a locked purpose is addressing it, and that
must not turn a second purpose into the only one whose attempts the number costs.

Pure: text and states in, decisions out; ``now`` is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from actors.otp.rules import OtpPolicy, OtpState, live_codes

__all__ = ["ChatGuess", "awaiting", "guessable", "pick", "typed_code"]

_SEPARATORS = re.compile(r"[\s\-\u2010\u2011\u2012\u2013\u2014\u2212]+")
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class ChatGuess:
    """The purpose a typed code is judged against, and whether a miss counts."""

    purpose: str
    counts: bool


def typed_code(text: str | None, digits: int) -> str | None:
    """The code ``text`` is, or None: its whole text, trimmed and without spaces or
    dashes ("123 456", "123-456"), must be ``digits`` ASCII digits. Anything else
    ("my code is 123456", a phone number, "12345") is ordinary chat."""
    if not text:
        return None
    compact = _SEPARATORS.sub("", text)
    if len(compact) != digits or not _DIGITS.fullmatch(compact):
        return None
    return compact


def awaiting(states: Mapping[str, OtpState], now: float) -> tuple[str, ...]:
    """The purposes a typed code may answer: those with a live code (locked or not),
    in name order so that a decision never depends on storage order."""
    return tuple(sorted(p for p, s in states.items() if live_codes(s, now)))


def guessable(state: OtpState, now: float, policy: OtpPolicy) -> bool:
    """Whether a guess at ``state`` may be compared at all: not locked out by time nor
    out of attempts (:func:`actors.otp.rules.verify` would answer ``locked``)."""
    if state.locked_until is not None and now < state.locked_until:
        return False
    return state.attempts < policy.max_attempts


def pick(waiting: tuple[str, ...], matching: tuple[str, ...]) -> ChatGuess | None:
    """Whom a typed code is for. ``waiting``: :func:`awaiting`; ``matching``: those of
    them (guessable) whose live code the number matches, needed only when several wait.
    """
    if len(waiting) == 1:
        return ChatGuess(waiting[0], counts=True)
    if len(waiting) > 1 and len(matching) == 1:
        return ChatGuess(matching[0], counts=False)
    return None
