"""Which chip sends a campaign message: affinity first, then health, quality, cost, room.

Why these rules (behaviour.md 5.9, 7.21 and their defects 15.6 #40): a contact who
already talks with one of our numbers should hear from that number again — a new
number is a stranger and gets blocked more — unless that number is unhealthy now (the
old selector let a RED chip keep its affinity). Otherwise the message goes to a chip
whose WABA has the campaign's template approved (a template exists per WABA; the old
code picked the template in one WABA and the chip in another, 15.1 #6), that is not
paused, draining or degraded, preferring better quality, then lower cost, then the
one with the most free capacity.

Pure: the caller passes a view of each chip (from the actors' snapshots plus what it has
itself assigned since) and keeps the round-robin counter.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

__all__ = ["ChipView", "Route", "route"]

_QUALITY_RANK = {"GREEN": 0, "UNKNOWN": 1, "YELLOW": 2, "RED": 3}


@dataclass(frozen=True, slots=True, kw_only=True)
class ChipView:
    pnid: str
    waba: str
    quality: str
    mode: str
    """The chip's quality mode (FULL, RAMPING, SLOWED, PAUSED_BUSINESS, PAUSED_ALL)."""
    paused: bool
    draining: bool
    mps: float
    backlog: int
    """Messages queued in the chip plus those assigned to it and not yet answered."""
    has_template: bool
    """The campaign's template is approved in this chip's WABA."""
    cost: float = 0.0
    """Estimated cost of one message from this chip (its WABA's route)."""
    tier_room: int | None = None
    """New contacts the number may still reach in its messaging-limit tier (None: no
    limit); a number at its limit takes no campaign messages until the 24 h roll."""
    # What route() asks of every chip for every message, derived once per view: a view is
    # frozen, and a refresh or ``dataclasses.replace`` (the runner's backlog bump) builds a
    # new one, whose __post_init__ derives them again from its own fields.
    _fit: tuple[bool, bool] = field(init=False, repr=False, compare=False)
    """``healthy(False)``, ``healthy(True)``."""
    _order: tuple[int, float, float] = field(init=False, repr=False, compare=False)
    """Quality rank (unknown ones rank as UNKNOWN), cost rounded (sub-micro-dollar
    differences are ties) and the rate the backlog drains at (a stopped chip counts
    0.1/s): the backlog-independent parts of the best-chip order."""

    def __post_init__(self) -> None:
        fit = not (
            self.paused
            or self.draining
            or not self.has_template
            or self.mps <= 0
            or (self.tier_room is not None and self.tier_room <= 0)
            or self.mode.startswith("PAUSED")
            or self.quality == "RED"
        )
        # A YELLOW number stops marketing (quality protection, actors/chip/quality.py).
        object.__setattr__(self, "_fit", (fit, fit and self.quality != "YELLOW"))
        object.__setattr__(
            self,
            "_order",
            (_QUALITY_RANK.get(self.quality, 1), round(self.cost, 6), max(self.mps, 0.1)),
        )

    def healthy(self, marketing: bool) -> bool:
        return self._fit[1 if marketing else 0]

    def with_backlog(self, backlog: int) -> ChipView:
        """This view with another backlog, what the runner bumps for every recipient it
        assigns. Copied slot by slot: nothing derived depends on the backlog, and
        ``dataclasses.replace`` (keywords, ``__init__``, ``__post_init__``) cost 2 % of
        the daemon's CPU at campaign rate."""
        view = object.__new__(ChipView)
        for name in ChipView.__slots__:
            object.__setattr__(view, name, getattr(self, name))
        object.__setattr__(view, "backlog", backlog)
        return view


@dataclass(frozen=True, slots=True)
class Route:
    chip: ChipView | None
    reason: str


def route(
    key: str,
    chips: Collection[ChipView],
    *,
    affinity: Mapping[str, str],
    strategy: str = "affinity",
    marketing: bool = True,
    turn: int = 0,
) -> Route:
    """The chip for ``key`` (a recipient's number), or None with the reason.

    Called once per message over the whole pool, so it only reads what each view derived
    when it was built (health, quality rank, rounded cost, drain rate) and compares
    inline: no per-chip method call, key function or rounding here."""
    fit = 1 if marketing else 0  # the index of healthy(marketing) in a view's _fit
    if strategy == "affinity":
        # Before the healthy list: a contact with a healthy affinity chip (the usual
        # case once a campaign is under way) needs nothing else. The first healthy chip
        # with that pnid, as the healthy list's order would have given it.
        known = affinity.get(key)
        if known is not None:
            for c in chips:
                if c.pnid == known and c._fit[fit]:
                    return Route(c, "affinity")
    healthy = [c for c in chips if c._fit[fit]]
    if not healthy:
        if not chips:
            return Route(None, "the campaign's pool has no chips")
        if not any(c.has_template for c in chips):  # a sync or a review away, or never
            return Route(None, "no WABA of the pool has the campaign's template approved")
        return Route(None, "no chip in the pool is healthy with the template approved")
    if strategy == "round_robin":
        return Route(healthy[turn % len(healthy)], "round robin")
    # Best quality, then cost, then load (backlog over drain rate), then pnid; the first
    # of equals wins, as min() would.
    best = healthy[0]
    rank, cost, speed = best._order
    best_key = (rank, cost, best.backlog / speed, best.pnid)
    for c in healthy:
        rank, cost, speed = c._order
        k = (rank, cost, c.backlog / speed, c.pnid)
        if k < best_key:
            best, best_key = c, k
    return Route(best, "best quality, cost and room")
