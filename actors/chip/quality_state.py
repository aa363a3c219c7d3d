"""The vocabulary of a chip's quality: ratings, modes, observations, states, transitions.

Why a module of its own: the state machine (:mod:`actors.chip.quality`), the parsing of
Meta's payloads (:mod:`actors.chip.quality_observations`) and the send policy
(:mod:`actors.chip.quality_policy`) all speak in these types, and the rest of the daemon
(the chip actor, the journal's wire format, metrics) needs the types without the rules.
It also holds the one rule they all share, :func:`target_mode`: the mode the facts call
for. Modes, from least to most restrictive, are described in :mod:`actors.chip.quality`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = [
    "CONNECTED",
    "DEGRADED",
    "ERROR_HOLDS",
    "FLAGGED",
    "SEVERITY",
    "Cause",
    "ErrorHold",
    "Mode",
    "QualityObservation",
    "QualityState",
    "QualityTransition",
    "Rating",
    "SendPolicy",
    "Source",
    "is_blocked",
    "status_mode",
    "target_mode",
    "utc_text",
]


class Rating(StrEnum):
    """Meta's phone-number quality rating. Anything else Meta sends maps to UNKNOWN."""

    GREEN = "GREEN"
    YELLOW = "YELLOW"
    RED = "RED"
    UNKNOWN = "UNKNOWN"


class Mode(StrEnum):
    """How much a chip may send, least restrictive first (see :mod:`actors.chip.quality`)."""

    FULL = "FULL"
    RAMPING = "RAMPING"
    SLOWED = "SLOWED"
    PAUSED_BUSINESS = "PAUSED_BUSINESS"
    PAUSED_ALL = "PAUSED_ALL"


SEVERITY: Mapping[Mode, int] = {
    Mode.FULL: 0,
    Mode.RAMPING: 1,
    Mode.SLOWED: 2,
    Mode.PAUSED_BUSINESS: 3,
    Mode.PAUSED_ALL: 4,
}
"""Order of the modes: a higher one is more restrictive."""
_RATING_RANK: Mapping[Rating, int] = {
    Rating.GREEN: 0,
    Rating.UNKNOWN: 0,  # as GREEN for sending (see actors.chip.quality)
    Rating.YELLOW: 1,
    Rating.RED: 2,
}
DEGRADED = frozenset({Mode.SLOWED, Mode.PAUSED_BUSINESS, Mode.PAUSED_ALL})
"""The degraded modes: a recovery from one of them to health goes through the ramp."""

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

    @property
    def worse(self) -> bool:
        """The chip may send less than before, or Meta rates it lower: what an operator
        must hear of (logged as a warning, so the console's log and its backlog carry it)."""
        return (
            SEVERITY[self.to_mode] > SEVERITY[self.from_mode]
            or _RATING_RANK[self.to_rating] > _RATING_RANK[self.from_rating]
        )


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


def status_mode(status: str) -> Mode:
    """The mode a phone status calls for by itself (see ``_BUSINESS_PAUSE_STATUSES``)."""
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
    modes = [_rating_mode(rating), status_mode(status)]
    if hold is not None and hold in ERROR_HOLDS:
        modes.append(ERROR_HOLDS[hold].mode)
    return max(modes, key=SEVERITY.__getitem__)


def is_blocked(state: QualityState, now: float) -> bool:
    """Whether anti-flap forbids improvements at ``now``."""
    return state.blocked_until is not None and now < state.blocked_until


def utc_text(ts: float) -> str:
    """A time in a transition's or a policy's reason: ISO 8601, UTC, to the second."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
