"""When a code may be sent and whether a guess is accepted, per (contact, purpose).

Why per (contact, purpose) and not per phone: the old system kept one code per phone,
so offering a second shift overwrote the first shift's code, and five bad guesses by
anyone locked the phone out of everything (behaviour.md 7.16, 15.5 #31). Here each
purpose ("login", "shift:V1002") has its own code, attempts, send budget and lockout,
and the contact is its key, so every spelling of one phone shares them.

Pure: the state is a value; each function takes ``now`` (epoch seconds) and returns the
decision and the next state, which the caller stores.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Issue", "OtpPolicy", "OtpState", "Verdict", "issue", "may_issue", "verify"]

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class OtpPolicy:
    ttl_s: float = 600.0
    max_attempts: int = 5
    lockout_s: float = 900.0
    max_sends_per_hour: int = 5


@dataclass(frozen=True, slots=True)
class OtpState:
    """The stored row of one (contact, purpose)."""

    salt: bytes
    code_hash: bytes
    issued_at: float
    expires_at: float
    attempts: int = 0
    consumed: bool = False
    locked_until: float | None = None
    window_start: float = 0.0
    """Start of the hour in which ``window_sends`` codes were sent."""
    window_sends: int = 1


@dataclass(frozen=True, slots=True)
class Issue:
    """A new code may go: store ``state`` (its hash), then send the code."""

    state: OtpState


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    reason: Literal["ok", "no_code", "expired", "wrong", "locked", "used"]
    attempts_left: int
    state: OtpState | None
    """The row to store (None: nothing changed)."""


def _locked(state: OtpState, now: float) -> bool:
    return state.locked_until is not None and now < state.locked_until


def may_issue(state: OtpState | None, now: float, policy: OtpPolicy) -> str | None:
    """Why a new code may not be sent now, or None."""
    if state is None:
        return None
    if _locked(state, now):
        return f"locked after {policy.max_attempts} wrong codes until {state.locked_until:.0f}"
    in_window = now - state.window_start < HOUR
    if in_window and state.window_sends >= policy.max_sends_per_hour:
        return f"{policy.max_sends_per_hour} codes already sent this hour"
    return None


def issue(
    state: OtpState | None, salt: bytes, code_hash: bytes, now: float, policy: OtpPolicy
) -> Issue | str:
    """The new row for a freshly drawn code (replacing any pending one), or a refusal.

    A new code resets the attempts of the old one (it is dead), but not a lockout and
    not the hourly send count.
    """
    refusal = may_issue(state, now, policy)
    if refusal is not None:
        return refusal
    if state is not None and now - state.window_start < HOUR:
        window_start, sends = state.window_start, state.window_sends + 1
    else:
        window_start, sends = now, 1
    return Issue(
        OtpState(
            salt=salt,
            code_hash=code_hash,
            issued_at=now,
            expires_at=now + policy.ttl_s,
            window_start=window_start,
            window_sends=sends,
            locked_until=state.locked_until if state is not None else None,
        )
    )


def verify(
    state: OtpState | None,
    matches: Callable[[OtpState], bool],
    now: float,
    policy: OtpPolicy,
) -> Verdict:
    """Judge one guess. ``matches`` hashes the guess with the row's salt (only called when
    the code is live, so a locked or expired row costs no hashing)."""
    if state is None:
        return Verdict(False, "no_code", 0, None)
    left = max(0, policy.max_attempts - state.attempts)
    if _locked(state, now):
        return Verdict(False, "locked", 0, None)
    if state.consumed:
        return Verdict(False, "used", left, None)
    if now >= state.expires_at:
        return Verdict(False, "expired", left, None)
    if left == 0:
        return Verdict(False, "locked", 0, None)
    if matches(state):
        return Verdict(True, "ok", left, dataclasses.replace(state, consumed=True))
    attempts = state.attempts + 1
    locked = now + policy.lockout_s if attempts >= policy.max_attempts else state.locked_until
    after = dataclasses.replace(state, attempts=attempts, locked_until=locked)
    return Verdict(False, "wrong", max(0, policy.max_attempts - attempts), after)
