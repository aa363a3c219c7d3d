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
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

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


class Rating(StrEnum):
    """Meta's phone-number quality rating. Anything else Meta sends maps to UNKNOWN."""

    GREEN = "GREEN"
    YELLOW = "YELLOW"
    RED = "RED"
    UNKNOWN = "UNKNOWN"


class Mode(StrEnum):
    """How much a chip may send, least restrictive first (see the module docstring)."""

    FULL = "FULL"
    RAMPING = "RAMPING"
    SLOWED = "SLOWED"
    PAUSED_BUSINESS = "PAUSED_BUSINESS"
    PAUSED_ALL = "PAUSED_ALL"


_SEVERITY: Mapping[Mode, int] = {
    Mode.FULL: 0,
    Mode.RAMPING: 1,
    Mode.SLOWED: 2,
    Mode.PAUSED_BUSINESS: 3,
    Mode.PAUSED_ALL: 4,
}
_DEGRADED = frozenset({Mode.SLOWED, Mode.PAUSED_BUSINESS, Mode.PAUSED_ALL})

Source = Literal["poll", "webhook"]
"""Where an observation came from. Only a poll may clear an error hold."""

Cause = Literal["poll", "webhook", "error", "tick"]
"""What produced a transition: an observation, a send error, or time passing."""

CONNECTED = "CONNECTED"
FLAGGED = "FLAGGED"

# Phone statuses under which the number may still answer users inside their window but
# must not start conversations. Every other status except CONNECTED (RESTRICTED, BANNED,
# DISCONNECTED, DELETED, MIGRATED, PENDING, UNVERIFIED, UNKNOWN and any string Meta adds
# later) pauses everything: for a status we do not understand, stopping and alerting is
# cheaper than sending from a number that may be banned.
_BUSINESS_PAUSE_STATUSES = frozenset({FLAGGED, "RATE_LIMITED"})


@dataclass(frozen=True, slots=True)
class ErrorHold:
    """What a chip-level send error does until a poll shows the number healthy again."""

    mode: Mode
    text: str


ERROR_HOLDS: Mapping[int, ErrorHold] = {
    131048: ErrorHold(Mode.PAUSED_BUSINESS, "spam rate limit hit (131048)"),
    368: ErrorHold(Mode.PAUSED_ALL, "blocked for policy violations (368)"),
    133010: ErrorHold(Mode.PAUSED_ALL, "phone number not registered (133010)"),
}
"""Send error codes that hold a chip in a degraded mode. Others are not quality events."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityObservation:
    """One thing Meta told us about the number; ``None`` fields were not observed.

    ``flagged`` carries the webhook's FLAGGED (True) / UNFLAGGED (False) events: they
    move the status between CONNECTED and FLAGGED but never override a worse status.
    A poll's ``status`` is taken as is.
    """

    source: Source
    rating: Rating | None = None
    status: str | None = None
    flagged: bool | None = None
    tier: str | None = None
    event: str | None = None
    """The webhook event name (FLAGGED, UNFLAGGED, DOWNGRADE, UPGRADE), for reasons."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityState:
    """Quality state of one chip.

    The defaults describe a number nothing has been observed about yet: CONNECTED with an
    UNKNOWN rating, like a freshly registered number, so it may send (the first poll at
    start-up corrects this within seconds).
    """

    rating: Rating = Rating.UNKNOWN
    status: str = CONNECTED
    mode: Mode = Mode.FULL
    ramp_step: int | None = None
    """Index into ``ramp_hours`` while RAMPING, else None."""
    ramp_since: float | None = None
    """When the current ramp step began (not when it was noticed), else None."""
    blocked_until: float | None = None
    """End of the last anti-flap block. Kept after it passes; compare with ``now``."""
    changes: tuple[float, ...] = ()
    """Times of the rating changes within ``flap_window_h`` (changes, not samples)."""
    tier: str | None = None
    """Messaging limit tier (TIER_250, TIER_1K, …) as Meta last reported it."""
    hold: int | None = None
    """Error code (a key of ERROR_HOLDS) holding the chip degraded, else None."""
    hold_since: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityTransition:
    """One real change of a chip's quality state: what the actor journals.

    It carries the whole state after the change (``to_*`` plus the ramp, block and hold
    fields), so :func:`rebuild` needs nothing but the journal. ``at`` is when the change
    took effect, which for a ramp step or the end of a block is the exact boundary, even
    when it was processed later.
    """

    at: float
    cause: Cause
    from_rating: Rating
    to_rating: Rating
    from_status: str
    to_status: str
    from_mode: Mode
    to_mode: Mode
    from_tier: str | None
    to_tier: str | None
    ramp_step: int | None
    ramp_since: float | None
    blocked_until: float | None
    hold: int | None
    hold_since: float | None
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SendPolicy:
    """What the send path may do with this chip right now, as far as quality goes.

    ``business_initiated_allowed``: may open conversations (templates outside a user's
    24 h window). ``marketing_allowed``: may send MARKETING templates at all.
    ``free_form_allowed``: may answer inside an open window. ``throughput_fraction``
    scales the chip's messages per second for whatever is allowed.
    """

    business_initiated_allowed: bool
    marketing_allowed: bool
    free_form_allowed: bool
    throughput_fraction: float
    reason: str


# --------------------------------------------------------------------------- parsing


def parse_rating(raw: object) -> Rating:
    """Meta's ``quality_rating`` string as a Rating; unrecognised values are UNKNOWN."""
    if isinstance(raw, str):
        try:
            return Rating(raw.strip().upper())
        except ValueError:
            pass
    return Rating.UNKNOWN


def normalize_status(raw: object) -> str:
    """Upper-cased, stripped phone status; empty or non-string becomes ``"UNKNOWN"``.

    Kept as a string rather than an enum on purpose: Meta adds statuses, and an unknown
    one must be recorded and journaled as it came (it pauses the chip, see
    :func:`target_mode`), not crash the actor.
    """
    text = raw.strip().upper() if isinstance(raw, str) else ""
    return text or "UNKNOWN"


def _text(raw: object) -> str | None:
    return raw.strip() if isinstance(raw, str) and raw.strip() else None


def observation_from_webhook(value: Mapping[str, object]) -> QualityObservation:
    """Map the ``value`` of a ``phone_number_quality_update`` change to an observation.

    FLAGGED / UNFLAGGED set ``flagged``; DOWNGRADE / UPGRADE (and any event) carry the
    new messaging limit in ``current_limit``. The webhook has no rating: the next poll
    brings it. Note the payload names the number by ``display_phone_number``; mapping it
    to a chip is the router's job.
    """
    event = (_text(value.get("event")) or "").upper()
    flagged = {"FLAGGED": True, "UNFLAGGED": False}.get(event)
    return QualityObservation(
        source="webhook",
        flagged=flagged,
        tier=_text(value.get("current_limit")),
        event=event or None,
    )


def observation_from_poll(body: Mapping[str, object]) -> QualityObservation:
    """Map a ``GET /{phone_number_id}?fields=quality_rating,status,messaging_limit_tier``
    body to an observation; fields absent from the body are not observed."""
    return QualityObservation(
        source="poll",
        rating=parse_rating(body["quality_rating"]) if "quality_rating" in body else None,
        status=normalize_status(body["status"]) if "status" in body else None,
        tier=_text(body.get("messaging_limit_tier")),
    )


# --------------------------------------------------------------------------- rules


def _status_mode(status: str) -> Mode:
    if status == CONNECTED:
        return Mode.FULL
    if status in _BUSINESS_PAUSE_STATUSES:
        return Mode.PAUSED_BUSINESS
    return Mode.PAUSED_ALL


def _rating_mode(rating: Rating) -> Mode:
    # UNKNOWN counts as GREEN: new numbers have no rating yet and must be able to send.
    # The cost: a number whose rating becomes UNKNOWN again (Meta lacking recent data)
    # is treated as recovered and ramps back up; the ramp and the anti-flap bound that.
    if rating is Rating.RED:
        return Mode.PAUSED_BUSINESS
    if rating is Rating.YELLOW:
        return Mode.SLOWED
    return Mode.FULL


def target_mode(rating: Rating, status: str, hold: int | None) -> Mode:
    """The mode the facts call for, ignoring ramp and anti-flap: the worst of what the
    rating, the status and an error hold each demand. FULL means "healthy"."""
    modes = [_rating_mode(rating), _status_mode(status)]
    if hold is not None and hold in ERROR_HOLDS:
        modes.append(ERROR_HOLDS[hold].mode)
    return max(modes, key=_SEVERITY.__getitem__)


def is_blocked(state: QualityState, now: float) -> bool:
    """Whether anti-flap forbids improvements at ``now``."""
    return state.blocked_until is not None and now < state.blocked_until


def _counts_as_change(before: Rating, after: Rating) -> bool:
    # GREEN <-> UNKNOWN is the same thing for sending, so it is no flap.
    return before != after and {before, after} != {Rating.GREEN, Rating.UNKNOWN}


def _pruned(changes: tuple[float, ...], now: float, cfg: QualityConfig) -> tuple[float, ...]:
    # A change exactly flap_window_h old is out of the window.
    start = now - cfg.flap_window_h * _HOUR
    return tuple(t for t in changes if t > start)


def _fraction(step: int, cfg: QualityConfig) -> float:
    n = len(cfg.ramp_hours)
    return min((step + 1) / (n + 1), 1.0)


def _recovered(at: float, cfg: QualityConfig) -> tuple[Mode, int | None, float | None]:
    """Where a recovery to health starts: the first ramp step, or FULL if no ramp."""
    if cfg.ramp_hours:
        return Mode.RAMPING, 0, at
    return Mode.FULL, None, None


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _mode_text(mode: Mode, step: int | None, cfg: QualityConfig) -> str:
    if mode is Mode.RAMPING and step is not None:
        return f"RAMPING {round(_fraction(step, cfg) * 100)}%"
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
                f"recovery blocked until {_iso(blocked_until)}"
            )
    blocked = blocked_until is not None and now < blocked_until

    target = target_mode(rating, status, hold)
    mode, step, since = prev.mode, prev.ramp_step, prev.ramp_since
    held_in: Mode | None = None
    if target is Mode.FULL:
        if mode in _DEGRADED:
            if blocked:
                held_in = mode
            else:
                mode, step, since = _recovered(now, cfg)
    elif target is not mode:
        # Worse: always at once, also mid-ramp. Better but still degraded: unless blocked.
        if _SEVERITY[target] > _SEVERITY[mode] or not blocked:
            mode, step, since = target, None, None
        else:
            held_in = mode
    if held_in is not None and not notes and blocked_until is not None:
        notes.append(f"recovery held in {held_in} until {_iso(blocked_until)}")

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
        if state.mode in _DEGRADED:
            target = target_mode(state.rating, state.status, state.hold)
            if _SEVERITY[target] < _SEVERITY[state.mode] and not is_blocked(state, now):
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
    if obs.flagged is True and _status_mode(current) is not Mode.PAUSED_ALL:
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
    if hold is None or _SEVERITY[ERROR_HOLDS[code].mode] > _SEVERITY[ERROR_HOLDS[hold].mode]:
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


def _why(state: QualityState) -> str:
    causes: list[str] = []
    if state.hold is not None and state.hold in ERROR_HOLDS:
        causes.append(ERROR_HOLDS[state.hold].text)
    if state.status != CONNECTED:
        causes.append(f"status {state.status}")
    if state.rating in (Rating.RED, Rating.YELLOW):
        causes.append(f"rating {state.rating}")
    target = target_mode(state.rating, state.status, state.hold)
    if state.mode in _DEGRADED and _SEVERITY[target] < _SEVERITY[state.mode]:
        until = _iso(state.blocked_until) if state.blocked_until is not None else "?"
        causes.append(f"recovery held by anti-flap until {until}")
    return ", ".join(causes) or "healthy"


def policy(state: QualityState, cfg: QualityConfig) -> SendPolicy:
    """What the chip may send in its current mode.

    SLOWED keeps ``yellow_throughput_fraction`` and stops marketing (utility and
    authentication templates still go). PAUSED_BUSINESS allows only answers inside open
    windows, at that same reduced rate. PAUSED_ALL allows nothing. RAMPING allows
    everything at the step's fraction (25/50/75 % with three steps).
    """
    match state.mode:
        case Mode.FULL:
            note = " (UNKNOWN rating treated as GREEN)" if state.rating is Rating.UNKNOWN else ""
            return SendPolicy(
                business_initiated_allowed=True,
                marketing_allowed=True,
                free_form_allowed=True,
                throughput_fraction=1.0,
                reason=f"full speed{note}",
            )
        case Mode.RAMPING:
            frac = _fraction(state.ramp_step or 0, cfg)
            return SendPolicy(
                business_initiated_allowed=True,
                marketing_allowed=True,
                free_form_allowed=True,
                throughput_fraction=frac,
                reason=f"recovery ramp at {round(frac * 100)}%",
            )
        case Mode.SLOWED:
            return SendPolicy(
                business_initiated_allowed=True,
                marketing_allowed=False,
                free_form_allowed=True,
                throughput_fraction=cfg.yellow_throughput_fraction,
                reason=f"slowed, no marketing: {_why(state)}",
            )
        case Mode.PAUSED_BUSINESS:
            return SendPolicy(
                business_initiated_allowed=False,
                marketing_allowed=False,
                free_form_allowed=True,
                throughput_fraction=cfg.yellow_throughput_fraction,
                reason=f"business-initiated paused: {_why(state)}",
            )
        case Mode.PAUSED_ALL:
            return SendPolicy(
                business_initiated_allowed=False,
                marketing_allowed=False,
                free_form_allowed=False,
                throughput_fraction=0.0,
                reason=f"all sends paused: {_why(state)}",
            )
