"""How a campaign is shared when several daemons run it (daemon.cluster).

Why a module of its own: the coordinator and the daemon's wiring build a :class:`Sharing`
and hand it to each :class:`~actors.campaign.runner.CampaignRunner`; they need the shape
of the sharing, not the runner that uses it. Without one the runner reads its recipients
in file order; with one it claims them from the store, sends at its share of the rate and
takes over the claims of a daemon that died.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from actors.campaign.ports import Pending

__all__ = ["Sharing"]


@dataclass(frozen=True, slots=True)
class Sharing:
    """Several daemons run this campaign (daemon.cluster): recipients are claimed
    (``claim``) rather than read, ``share()`` is this daemon's part of the campaign's
    rate (its chips over all chips), and a claim older than ``stale_s`` whose message
    was never journalled (its daemon died) is taken over."""

    claim: Callable[[str, int, float], Awaitable[Sequence[Pending]]]
    """(campaign, limit, stale_s) → recipients now this daemon's (the store's ``claim``)."""
    outstanding: Callable[[str], Awaitable[int]]
    """Recipients whose message has not left a chip yet, on any daemon (the store's
    ``outstanding``): the campaign is finished when none is left."""
    share: Callable[[], float]
    stale_s: float
    batch: int = 50
