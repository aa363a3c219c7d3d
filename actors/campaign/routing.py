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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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

    def healthy(self, marketing: bool) -> bool:
        if self.paused or self.draining or not self.has_template or self.mps <= 0:
            return False
        if self.tier_room is not None and self.tier_room <= 0:
            return False
        if self.mode.startswith("PAUSED"):
            return False
        if self.quality == "RED":
            return False
        # A YELLOW number stops marketing (quality protection, actors/chip/quality.py).
        return not (marketing and self.quality == "YELLOW")


@dataclass(frozen=True, slots=True)
class Route:
    chip: ChipView | None
    reason: str


def _load(c: ChipView) -> float:
    return c.backlog / max(c.mps, 0.1)


def route(
    key: str,
    chips: Sequence[ChipView],
    *,
    affinity: Mapping[str, str],
    strategy: str = "affinity",
    marketing: bool = True,
    turn: int = 0,
) -> Route:
    """The chip for ``key`` (a recipient's number), or None with the reason."""
    healthy = [c for c in chips if c.healthy(marketing)]
    if not healthy:
        why = "no chip in the pool is healthy with the template approved"
        return Route(None, why if chips else "the campaign's pool has no chips")
    if strategy == "affinity":
        known = affinity.get(key)
        for c in healthy:
            if c.pnid == known:
                return Route(c, "affinity")
    if strategy == "round_robin":
        return Route(healthy[turn % len(healthy)], "round robin")
    best = min(
        healthy, key=lambda c: (_QUALITY_RANK.get(c.quality, 1), round(c.cost, 6), _load(c), c.pnid)
    )
    return Route(best, "best quality, cost and room")
