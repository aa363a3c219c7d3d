"""When a code may be sent and whether a guess is accepted, per (contact, purpose).

Why per (contact, purpose) and not per phone: the old system kept one code per phone,
so offering a second shift overwrote the first shift's code, and five bad guesses by
anyone locked the phone out of everything (behaviour.md 7.16, 15.5 #31). Here each
purpose ("login", "shift:V1002") has its own code, attempts, send budget and lockout,
and the contact is its key, so every spelling of one phone shares them.

Why a code is *pending* until its send is known: the chip may refuse the send (paused,
window, policy, budget). A refused code never reached the contact, so it must neither
kill the code the contact already holds nor count toward the hourly limit. But its hash
must be stored before the POST: if the daemon dies after Meta took the message, the
code the contact receives must still verify. So a drawn code is stored as ``pending``
(:func:`stage`), becomes the current one when the chip accepted it or is in doubt
(:func:`sent`), and is forgotten when the chip refused it (:func:`unsent`). Until then
both verify.

Why the code a sent one replaced is kept as *previous*: Meta may take a message and
report later, on a status webhook, that it failed (131026: undeliverable). The contact
never got that code, so it must not count toward the hourly limit, and the code it
replaced, which the contact still holds, must verify again (:func:`failed`), with the
attempts it had and unless it was used. Each code knows the outbox id of the message
that carried it, so a failure names its code and a replayed one changes nothing.

Pure: the state is a value; each function takes ``now`` (epoch seconds) and returns the
decision and the next state, which the caller stores.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "MAX_PURPOSE",
    "Code",
    "Issue",
    "OtpPolicy",
    "OtpState",
    "Verdict",
    "check_purpose",
    "draw",
    "failed",
    "live_codes",
    "local_time",
    "may_issue",
    "same",
    "sent",
    "stage",
    "unsent",
    "verify",
]

HOUR = 3600.0
MAX_PURPOSE = 128
"""A purpose names what a code is for (``login``, ``shift:<id>``): a shift id has 1 to
128 characters (:data:`actors.otp.shifts.MAX_SHIFT_ID`), so a purpose may too."""


@dataclass(frozen=True, slots=True)
class OtpPolicy:
    ttl_s: float = 600.0
    max_attempts: int = 5
    lockout_s: float = 900.0
    max_sends_per_hour: int = 5
    tz: dt.tzinfo | None = None
    """The zone times are told in (refusal reasons); None: the host's."""


@dataclass(frozen=True, slots=True)
class Code:
    """One drawn code as stored: its salted hash and its lifetime, never the code."""

    salt: bytes
    code_hash: bytes
    issued_at: float
    expires_at: float
    outbox_id: int | None = None
    """The outbox row of the message that carried it, once the chip said (None before,
    or when the chip's answer gave none): what a failed status names it by."""


@dataclass(frozen=True, slots=True)
class OtpState:
    """The stored row of one (contact, purpose)."""

    code: Code | None = None
    """The code last sent (Meta took it, or may have): the one the contact holds."""
    attempts: int = 0
    """Wrong guesses since ``code`` was sent."""
    consumed: bool = False
    """``code`` verified once already."""
    locked_until: float | None = None
    window_start: float = 0.0
    """Start of the hour in which ``window_sends`` codes were sent."""
    window_sends: int = 0
    pending: Code | None = None
    """A code stored before its send, whose fate the chip has not told yet."""
    previous: Code | None = None
    """The code ``code`` replaced, kept in case ``code``'s message fails (:func:`failed`);
    it does not verify meanwhile."""
    previous_attempts: int = 0
    previous_consumed: bool = False
    undelivered: int | None = None
    """The outbox id of the latest code's message when it failed after Meta took it;
    cleared when another code is sent."""


@dataclass(frozen=True, slots=True)
class Issue:
    """A new code may go: store ``state`` (the code pending), then send it."""

    state: OtpState


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    reason: Literal["ok", "no_code", "expired", "wrong", "locked", "used"]
    attempts_left: int | None
    """None when no live code was guessed at (no code, expired, used)."""
    state: OtpState | None
    """The row to store (None: nothing changed)."""
    locked_until: float | None = None
    """When ``reason`` is ``locked`` by time: when the lockout ends."""


def check_purpose(purpose: str) -> str:
    """``purpose`` when it is 1 to :data:`MAX_PURPOSE` characters, else ValueError.

    Why bounded: it is a key of the stored row and part of every log line about it.
    """
    if not purpose or len(purpose) > MAX_PURPOSE:
        raise ValueError(f"purpose: 1 to {MAX_PURPOSE} characters (got {len(purpose)})")
    return purpose


def local_time(epoch: float, tz: dt.tzinfo | None = None) -> str:
    """An instant as people read it: ISO 8601 to the second, in ``tz`` (None: the
    host's zone), with its offset, instead of raw epoch seconds."""
    return dt.datetime.fromtimestamp(epoch, tz).astimezone(tz).isoformat(timespec="seconds")


def same(a: Code | None, b: Code | None) -> bool:
    """Whether two values are one drawn code. By salt and hash, not by times: a time read
    back from storage is rounded (microseconds), and a salt is never drawn twice."""
    if a is None or b is None:
        return a is b
    return a.salt == b.salt and a.code_hash == b.code_hash


def draw(salt: bytes, code_hash: bytes, now: float, policy: OtpPolicy) -> Code:
    """The stored form of a code drawn at ``now``."""
    return Code(salt=salt, code_hash=code_hash, issued_at=now, expires_at=now + policy.ttl_s)


def _locked(state: OtpState, now: float) -> bool:
    return state.locked_until is not None and now < state.locked_until


def _in_window(state: OtpState, now: float) -> bool:
    return now - state.window_start < HOUR


def may_issue(state: OtpState | None, now: float, policy: OtpPolicy) -> str | None:
    """Why a new code may not be sent now, or None. Only sent codes count."""
    if state is None:
        return None
    if state.locked_until is not None and _locked(state, now):
        until = local_time(state.locked_until, policy.tz)
        left = int(state.locked_until - now + 0.999)
        return f"locked after {policy.max_attempts} wrong codes until {until} ({left} s left)"
    if _in_window(state, now) and state.window_sends >= policy.max_sends_per_hour:
        return f"{policy.max_sends_per_hour} codes already sent this hour"
    return None


def stage(state: OtpState | None, code: Code, now: float, policy: OtpPolicy) -> Issue | str:
    """Store ``code`` as pending before its send, or a refusal.

    The current code, its attempts and the hourly count are left alone: the chip has
    not said yet whether the new code goes. A pending code left by an earlier send
    whose fate never came (a crash) is replaced.
    """
    refusal = may_issue(state, now, policy)
    if refusal is not None:
        return refusal
    if state is None:
        return Issue(OtpState(window_start=now, pending=code))
    return Issue(dataclasses.replace(state, pending=code))


def sent(state: OtpState | None, code: Code, now: float, policy: OtpPolicy) -> OtpState:
    """``code`` left (Meta took it, or may have): it is now the contact's code.

    It counts toward the hourly limit and replaces the previous code (whose attempts
    die with it, not a lockout; it is kept as ``previous`` should this send fail),
    unless a code drawn later was sent first: two sends racing, the newest code is the
    contact's, and the older one is the one it replaced. Told twice (a guess matched the
    pending code first), it is counted once and learns its message's outbox id.
    """
    base = state if state is not None else OtpState(window_start=min(now, code.issued_at))
    pending = None if same(base.pending, code) else base.pending
    if base.code is not None and same(base.code, code):
        carried = base.code if code.outbox_id is None else code
        return dataclasses.replace(base, code=carried, pending=pending)
    if _in_window(base, now):
        counted = dataclasses.replace(base, window_sends=base.window_sends + 1, pending=pending)
    else:
        # The hour starts when the code was drawn, so that "counted in this hour" is
        # "issued since the hour began", which :func:`failed` can tell from the code.
        start = min(now, code.issued_at)
        counted = dataclasses.replace(base, window_start=start, window_sends=1, pending=pending)
    if base.code is not None and base.code.issued_at > code.issued_at:
        if base.previous is None or base.previous.issued_at < code.issued_at:
            return dataclasses.replace(
                counted, previous=code, previous_attempts=0, previous_consumed=False
            )
        return counted
    return dataclasses.replace(
        counted,
        code=code,
        attempts=0,
        consumed=False,
        previous=base.code,
        previous_attempts=base.attempts,
        previous_consumed=base.consumed,
        undelivered=None,
    )


def _uncounted(state: OtpState, code: Code) -> OtpState:
    """``state`` without ``code``'s send in the hourly count, if it was counted in the
    current hour (issued since it began; an older hour is over and counts no more)."""
    if state.window_sends > 0 and code.issued_at >= state.window_start:
        return dataclasses.replace(state, window_sends=state.window_sends - 1)
    return state


def failed(state: OtpState | None, outbox_id: int) -> OtpState | None:
    """The message ``outbox_id`` failed after Meta took it (a status webhook): the code
    it carried never reached the contact. None when that changes nothing (no code of
    this row went with that message, or the failure was applied already).

    The contact's code: it no longer counts toward the hourly limit and stops verifying;
    the code it replaced comes back with the attempts and the use it had (so a used or
    exhausted one still does not verify, and an expired one is told expired). The
    lockout is the row's and stays. Should the failed code have verified already (it
    reached someone after all), it stays used and nothing comes back. The previous code:
    it no longer counts and will not come back. A pending code has no outbox id yet;
    its failure applies once the chip's answer made it the contact's code.
    """
    if state is None:
        return None
    code, previous = state.code, state.previous
    if code is not None and code.outbox_id == outbox_id:
        after = dataclasses.replace(_uncounted(state, code), undelivered=outbox_id)
        if state.consumed:
            return after
        return dataclasses.replace(
            after,
            code=previous,
            attempts=state.previous_attempts if previous is not None else 0,
            consumed=state.previous_consumed if previous is not None else False,
            previous=None,
            previous_attempts=0,
            previous_consumed=False,
        )
    if previous is not None and previous.outbox_id == outbox_id:
        return dataclasses.replace(
            _uncounted(state, previous),
            previous=None,
            previous_attempts=0,
            previous_consumed=False,
        )
    return None


def unsent(state: OtpState | None, code: Code) -> OtpState | None:
    """The chip refused ``code``: forget it, and nothing else (None: nothing to store)."""
    if state is None or not same(state.pending, code):
        return None
    return dataclasses.replace(state, pending=None)


def live_codes(state: OtpState | None, now: float) -> tuple[Code, ...]:
    """The codes a guess may match now: the current one unless used or expired, and a
    pending one (it may have reached the contact) unless expired."""
    if state is None:
        return ()
    codes = []
    if state.code is not None and not state.consumed and now < state.code.expires_at:
        codes.append(state.code)
    if state.pending is not None and now < state.pending.expires_at:
        codes.append(state.pending)
    return tuple(codes)


def _dead(state: OtpState) -> Literal["no_code", "expired", "used"]:
    """Why nothing can be guessed at although the row exists."""
    if state.code is None and state.pending is None:
        return "no_code"
    if state.code is not None and state.consumed:
        return "used"
    return "expired"


def verify(
    state: OtpState | None,
    matches: Callable[[Code], bool],
    now: float,
    policy: OtpPolicy,
    *,
    counts: bool = True,
) -> Verdict:
    """Judge one guess. ``matches`` hashes the guess with a code's salt (only called for
    :func:`live_codes`, so a locked or expired row costs no hashing). ``counts=False``:
    a miss is told but costs no attempt (a code typed in the chat when several purposes
    await one, :mod:`actors.otp.chat`)."""
    if state is None:
        return Verdict(False, "no_code", None, None)
    if _locked(state, now):
        return Verdict(False, "locked", 0, None, state.locked_until)
    live = live_codes(state, now)
    if not live:
        return Verdict(False, _dead(state), None, None)
    left = max(0, policy.max_attempts - state.attempts)
    if left == 0:
        return Verdict(False, "locked", 0, None)
    hits = [code for code in live if matches(code)]
    if hits:
        # A pending code that verifies reached the contact: it was sent after all.
        after = state if same(hits[0], state.code) else sent(state, hits[0], now, policy)
        return Verdict(True, "ok", left, dataclasses.replace(after, consumed=True))
    if not counts:
        return Verdict(False, "wrong", left, None)
    attempts = state.attempts + 1
    locked = now + policy.lockout_s if attempts >= policy.max_attempts else state.locked_until
    after = dataclasses.replace(state, attempts=attempts, locked_until=locked)
    return Verdict(False, "wrong", max(0, policy.max_attempts - attempts), after)
