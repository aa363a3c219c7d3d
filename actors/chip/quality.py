"""Quality state machine of one phone number ("chip"): pure rules.

Why this module exists: the system metad replaces polled the quality rating, wrote a
history row per poll and moved degraded numbers to a status its own poll never looked at,
so a degraded number never recovered; its anti-flap counted samples, not changes, and
measured the cool-down from the last poll. Here quality is an explicit state machine:

* fed by both sources Meta offers: ``phone_number_quality_update`` webhooks and polls of
  ``GET /{phone_number_id}`` (degraded numbers are polled too, so recovery is seen);
* it emits :class:`QualityTransition` values only when something really changes, and the
  actor journals those (transitions, not samples); :func:`rebuild` folds the journal back
  into the exact state after a restart;
* :func:`policy` turns the state into what the send path may do.

Modes, from least to most restrictive::

    FULL ── RAMPING (25 % → 50 % → 75 %, ``ramp_hours`` each) ── SLOWED (YELLOW)
         ── PAUSED_BUSINESS (RED, FLAGGED, error 131048)
         ── PAUSED_ALL (RESTRICTED, BANNED, DISCONNECTED, …; errors 368, 133010)

A degrade is applied at once, from any mode. An improvement to another degraded mode is
applied at once too, and an improvement to health (GREEN or UNKNOWN, CONNECTED, no error
hold) always goes through the ramp. Anti-flap: when more than ``flap_max_changes`` rating
changes fall within ``flap_window_h``, no improvement is applied until ``flap_block_h``
after the last change; the ratings seen meanwhile are still recorded, and the improvement
happens when the block ends (stamped with the block's end, not with the next tick).

Nothing here does I/O or reads a clock: ``now`` (seconds since the epoch, UTC) is always
an argument, so the same inputs give the same states and transitions however often
:func:`tick` is called.

The WABA kill switch and the operator's pause are separate layers on top of
:func:`policy` (see :mod:`actors.waba.killswitch`); they are not modes of this machine.

This module is the machine itself (:func:`tick`, :func:`observe`, :func:`from_error`,
:func:`rebuild`). Its types are in :mod:`actors.chip.quality_state`, the reading of Meta's
webhooks and polls in :mod:`actors.chip.quality_observations`, and :func:`policy` in
:mod:`actors.chip.quality_policy`; the names callers import from here are re-exported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from actors.chip.quality_observations import (
    normalize_status,
    observation_from_poll,
    observation_from_webhook,
    parse_rating,
)
from actors.chip.quality_policy import policy, ramp_fraction
from actors.chip.quality_state import (
    CONNECTED,
    DEGRADED,
    ERROR_HOLDS,
    FLAGGED,
    SEVERITY,
    Cause,
    ErrorHold,
    Mode,
    QualityObservation,
    QualityState,
    QualityTransition,
    Rating,
    SendPolicy,
    Source,
    is_blocked,
    status_mode,
    target_mode,
    utc_text,
)
from config.model import QualityConfig

__all__ = [
    "CONNECTED",
    "ERROR_HOLDS",
    "FLAGGED",
    "Cause",
    "ErrorHold",
    "Mode",
    "QualityObservation",
    "QualityState",
    "QualityTransition",
    "Rating",
    "SendPolicy",
    "Source",
    "from_error",
    "is_blocked",
    "normalize_status",
    "observation_from_poll",
    "observation_from_webhook",
    "observe",
    "parse_rating",
    "policy",
    "rebuild",
    "target_mode",
    "tick",
]

_HOUR = 3600.0


def _counts_as_change(before: Rating, after: Rating) -> bool:
    # GREEN <-> UNKNOWN is the same thing for sending, so it is no flap.
    return before != after and {before, after} != {Rating.GREEN, Rating.UNKNOWN}


def _pruned(changes: tuple[float, ...], now: float, cfg: QualityConfig) -> tuple[float, ...]:
    # A change exactly flap_window_h old is out of the window.
    start = now - cfg.flap_window_h * _HOUR
    return tuple(t for t in changes if t > start)


def _recovered(at: float, cfg: QualityConfig) -> tuple[Mode, int | None, float | None]:
    """Where a recovery to health starts: the first ramp step, or FULL if no ramp."""
    if cfg.ramp_hours:
        return Mode.RAMPING, 0, at
    return Mode.FULL, None, None


def _mode_text(mode: Mode, step: int | None, cfg: QualityConfig) -> str:
    if mode is Mode.RAMPING and step is not None:
        return f"RAMPING {round(ramp_fraction(step, cfg) * 100)}%"
    return str(mode)


def _settle(
    prev: QualityState,
    now: float,
    cfg: QualityConfig,
    *,
    rating: Rating,
    status: str,
    tier: str | None,
    hold: int | None,
    hold_since: float | None,
) -> tuple[QualityState, list[str]]:
    """Apply new facts at ``now``: record a rating change, maybe block, pick the mode.

    Returns the new state and notes for the transition's reason (anti-flap only; the
    field changes themselves are described by :func:`_transition`).
    """
    notes: list[str] = []
    changes = _pruned(prev.changes, now, cfg)
    blocked_until = prev.blocked_until
    if _counts_as_change(prev.rating, rating):
        changes = (*changes, now)
        if len(changes) > cfg.flap_max_changes:
            blocked_until = now + cfg.flap_block_h * _HOUR
            notes.append(
                f"anti-flap: {len(changes)} rating changes in {cfg.flap_window_h:g} h, "
                f"recovery blocked until {utc_text(blocked_until)}"
            )
    blocked = blocked_until is not None and now < blocked_until

    target = target_mode(rating, status, hold)
    mode, step, since = prev.mode, prev.ramp_step, prev.ramp_since
    held_in: Mode | None = None
    if target is Mode.FULL:
        if mode in DEGRADED:
            if blocked:
                held_in = mode
            else:
                mode, step, since = _recovered(now, cfg)
    elif target is not mode:
        # Worse: always at once, also mid-ramp. Better but still degraded: unless blocked.
        if SEVERITY[target] > SEVERITY[mode] or not blocked:
            mode, step, since = target, None, None
        else:
            held_in = mode
    if held_in is not None and not notes and blocked_until is not None:
        notes.append(f"recovery held in {held_in} until {utc_text(blocked_until)}")

    nxt = QualityState(
        rating=rating,
        status=status,
        mode=mode,
        ramp_step=step,
        ramp_since=since,
        blocked_until=blocked_until,
        changes=changes,
        tier=tier,
        hold=hold,
        hold_since=hold_since,
    )
    return nxt, notes


def _transition(
    prev: QualityState,
    nxt: QualityState,
    at: float,
    cause: Cause,
    cfg: QualityConfig,
    *,
    prefix: str,
    notes: Iterable[str] = (),
) -> QualityTransition | None:
    """The transition from ``prev`` to ``nxt``, or None when nothing journaled changed."""
    parts: list[str] = []
    if prev.rating is not nxt.rating:
        parts.append(f"rating {prev.rating}→{nxt.rating}")
    if prev.status != nxt.status:
        parts.append(f"status {prev.status}→{nxt.status}")
    if prev.tier != nxt.tier:
        parts.append(f"tier {prev.tier}→{nxt.tier}")
    if prev.hold != nxt.hold:
        if nxt.hold is not None:
            parts.append(f"error hold: {ERROR_HOLDS[nxt.hold].text}")
        else:
            parts.append(f"error hold {prev.hold} cleared by a healthy poll")
    if (prev.mode, prev.ramp_step) != (nxt.mode, nxt.ramp_step):
        parts.append(
            f"mode {_mode_text(prev.mode, prev.ramp_step, cfg)}"
            f"→{_mode_text(nxt.mode, nxt.ramp_step, cfg)}"
        )
    changed = (
        parts
        or prev.ramp_since != nxt.ramp_since
        or prev.blocked_until != nxt.blocked_until
        or prev.hold_since != nxt.hold_since
    )
    if not changed:
        return None
    parts.extend(notes)
    return QualityTransition(
        at=at,
        cause=cause,
        from_rating=prev.rating,
        to_rating=nxt.rating,
        from_status=prev.status,
        to_status=nxt.status,
        from_mode=prev.mode,
        to_mode=nxt.mode,
        from_tier=prev.tier,
        to_tier=nxt.tier,
        ramp_step=nxt.ramp_step,
        ramp_since=nxt.ramp_since,
        blocked_until=nxt.blocked_until,
        hold=nxt.hold,
        hold_since=nxt.hold_since,
        reason=f"{prefix}: " + "; ".join(parts) if parts else prefix,
    )


def tick(
    state: QualityState, now: float, cfg: QualityConfig
) -> tuple[QualityState, list[QualityTransition]]:
    """Let time pass up to ``now``: end an expired anti-flap block, advance the ramp.

    Every change is stamped with the moment it was due (the block's end, the step's
    boundary), not with ``now``, so the result does not depend on how often this is
    called. The actor calls it periodically; :func:`observe` and :func:`from_error` call
    it first, so boundaries that passed are journaled before the new fact.
    """
    state = dataclasses.replace(state, changes=_pruned(state.changes, now, cfg))
    out: list[QualityTransition] = []
    while True:
        nxt: QualityState | None = None
        at = now
        prefix = "tick"
        if state.mode in DEGRADED:
            target = target_mode(state.rating, state.status, state.hold)
            if SEVERITY[target] < SEVERITY[state.mode] and not is_blocked(state, now):
                # Only a block keeps an improvement pending, so it was due at its end.
                if state.blocked_until is not None and state.blocked_until <= now:
                    at = state.blocked_until
                prefix = "anti-flap block ended"
                if target is Mode.FULL:
                    mode, step, since = _recovered(at, cfg)
                else:
                    mode, step, since = target, None, None
                nxt = dataclasses.replace(state, mode=mode, ramp_step=step, ramp_since=since)
        elif state.mode is Mode.RAMPING:
            step = state.ramp_step if state.ramp_step is not None else 0
            since = state.ramp_since if state.ramp_since is not None else now
            hours = cfg.ramp_hours
            # A ramp longer than the configured one (config shrank across a restart)
            # counts as finished.
            end = since + hours[step] * _HOUR if step < len(hours) else since
            if now >= end:
                at = end
                prefix = "ramp step done"
                if step + 1 < len(hours):
                    nxt = dataclasses.replace(state, ramp_step=step + 1, ramp_since=end)
                else:
                    nxt = dataclasses.replace(
                        state, mode=Mode.FULL, ramp_step=None, ramp_since=None
                    )
        if nxt is None:
            return state, out
        tr = _transition(state, nxt, at, "tick", cfg, prefix=prefix)
        if tr is not None:
            out.append(tr)
        state = nxt


def _next_status(current: str, obs: QualityObservation) -> str:
    if obs.status is not None:
        return normalize_status(obs.status)
    if obs.flagged is True and status_mode(current) is not Mode.PAUSED_ALL:
        return FLAGGED
    if obs.flagged is False and current == FLAGGED:
        return CONNECTED
    return current


def observe(
    state: QualityState, obs: QualityObservation, now: float, cfg: QualityConfig
) -> tuple[QualityState, list[QualityTransition]]:
    """Apply one observation (webhook or poll) at ``now``.

    Returns the new state and the transitions to journal: those :func:`tick` produced up
    to ``now``, then at most one for the observation itself. A poll repeating what is
    known produces none. An error hold is cleared only by a poll that shows CONNECTED and
    a rating other than RED, taken at least ``poll_interval_s`` after the error (so the
    pause lasts at least one regular poll period); the recovery then ramps as usual.
    """
    state, out = tick(state, now, cfg)
    rating = obs.rating if obs.rating is not None else state.rating
    status = _next_status(state.status, obs)
    tier = obs.tier if obs.tier is not None else state.tier
    hold, hold_since = state.hold, state.hold_since
    if (
        hold is not None
        and obs.source == "poll"
        and obs.status is not None
        and normalize_status(obs.status) == CONNECTED
        and rating is not Rating.RED
        and (hold_since is None or now >= hold_since + cfg.poll_interval_s)
    ):
        hold, hold_since = None, None
    nxt, notes = _settle(
        state, now, cfg, rating=rating, status=status, tier=tier, hold=hold, hold_since=hold_since
    )
    prefix = obs.source if obs.event is None else f"{obs.source} {obs.event}"
    tr = _transition(state, nxt, now, obs.source, cfg, prefix=prefix, notes=notes)
    if tr is not None:
        out.append(tr)
    return nxt, out


def from_error(
    state: QualityState, code: int, now: float, cfg: QualityConfig
) -> tuple[QualityState, list[QualityTransition]]:
    """React to a chip-level send error (see :data:`ERROR_HOLDS`).

    131048 pauses business-initiated sends; 368 and 133010 pause everything. The hold
    stays until a healthy poll (see :func:`observe`). A more severe hold replaces a
    milder one, never the reverse; a repeated error changes nothing. Other codes are not
    quality events: they only let time pass (like :func:`tick`).
    """
    state, out = tick(state, now, cfg)
    if code not in ERROR_HOLDS:
        return state, out
    hold, hold_since = state.hold, state.hold_since
    if hold is None or SEVERITY[ERROR_HOLDS[code].mode] > SEVERITY[ERROR_HOLDS[hold].mode]:
        hold, hold_since = code, now
    nxt, notes = _settle(
        state,
        now,
        cfg,
        rating=state.rating,
        status=state.status,
        tier=state.tier,
        hold=hold,
        hold_since=hold_since,
    )
    tr = _transition(state, nxt, now, "error", cfg, prefix=f"error {code}", notes=notes)
    if tr is not None:
        out.append(tr)
    return nxt, out


def rebuild(
    transitions: Iterable[QualityTransition],
    now: float,
    cfg: QualityConfig,
    *,
    initial: QualityState | None = None,
) -> QualityState:
    """Reconstruct the state from the journal (in journal order) after a restart.

    The last transition holds the whole state; the rating changes still inside the
    anti-flap window come from all of them. A final :func:`tick` at ``now`` applies what
    fell due while the daemon was down (its transitions are not returned: call
    :func:`tick` on the result to get them for journaling). ``initial`` must be the state
    the live machine started from (default: :class:`QualityState` defaults).
    """
    state = initial if initial is not None else QualityState()
    changes = list(state.changes)
    for tr in transitions:
        if _counts_as_change(tr.from_rating, tr.to_rating):
            changes.append(tr.at)
        state = QualityState(
            rating=tr.to_rating,
            status=tr.to_status,
            mode=tr.to_mode,
            ramp_step=tr.ramp_step,
            ramp_since=tr.ramp_since,
            blocked_until=tr.blocked_until,
            tier=tr.to_tier,
            hold=tr.hold,
            hold_since=tr.hold_since,
        )
    state = dataclasses.replace(state, changes=tuple(changes))
    return tick(state, now, cfg)[0]
