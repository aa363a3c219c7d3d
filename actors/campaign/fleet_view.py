"""What one campaign's runner knows of the fleet: chip views, mailboxes, templates.

Why a module of its own: the runner routes every recipient on a picture of the chips
(quality, mode, pauses, backlog, tier room) and of the campaign's template in each WABA
that must be cheap to read, so it is refreshed on a timer (chips every second, templates
every 30 s) rather than asked for per recipient. Keeping that picture and its refresh
here leaves the runner (:mod:`actors.campaign.runner`) with feeding, pacing and the sends
in flight. The routing rules themselves are :mod:`actors.campaign.routing`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from actors.campaign.content import CampaignTemplate, prepare_template
from actors.campaign.ports import FleetPort
from actors.campaign.routing import ChipView
from actors.core import ActorCrashed, ActorStopped, Address, CallTimeout
from config.campaign import CampaignSpec

__all__ = ["REFRESH_CHIPS_S", "REFRESH_TEMPLATES_S", "FleetView"]

REFRESH_CHIPS_S = 1.0
REFRESH_TEMPLATES_S = 30.0


class FleetView:
    """The chips ``spec`` may use (its routing's WABAs and chips) and its template per
    WABA, as last refreshed. ``assigned(pnid)``: the runner's sends to that chip not yet
    answered, counted in the chip's backlog and against its tier room."""

    def __init__(
        self, spec: CampaignSpec, fleet: FleetPort, assigned: Callable[[str], int]
    ) -> None:
        self._spec = spec
        self._fleet = fleet
        self._assigned = assigned
        self.views: dict[str, ChipView] = {}
        self.addresses: dict[str, Address[Any]] = {}
        """Each viewed chip's mailbox, taken with its view (an address outlives restarts;
        a chip gone from the fleet has its mailbox closed: a send to it is refused)."""
        self.templates: dict[str, CampaignTemplate | None] = {}
        self.problems: dict[str, str] = {}
        """WABA → why the campaign's template cannot be used there."""

    async def keep_fresh(self) -> None:
        """Refresh the chips every ``REFRESH_CHIPS_S``, the templates every
        ``REFRESH_TEMPLATES_S``; until cancelled."""
        since_templates = 0.0
        while True:
            await trio.sleep(REFRESH_CHIPS_S)
            await self.refresh_views()
            since_templates += REFRESH_CHIPS_S
            if since_templates >= REFRESH_TEMPLATES_S:
                since_templates = 0.0
                await self.refresh_templates()

    async def refresh_templates(self) -> None:
        wabas = {waba for waba, _ in self._fleet.chips().values()}
        for waba in wabas:
            self.templates[waba] = await self._template_for(waba)

    async def _template_for(self, waba: str) -> CampaignTemplate | None:
        choice = self._spec.template_for(waba)
        if choice is None:
            self.problems[waba] = "no template configured for this WABA"
            return None
        prepared = prepare_template(self._spec, choice, await self._fleet.templates(waba))
        if isinstance(prepared, str):
            self.problems[waba] = prepared
            return None
        self.problems.pop(waba, None)
        return prepared

    async def refresh_views(self) -> None:
        views: dict[str, ChipView] = {}
        addresses: dict[str, Address[Any]] = {}
        allowed_wabas = set(self._spec.routing.wabas)
        allowed_chips = set(self._spec.routing.chips)
        for pnid, (waba, address) in self._fleet.chips().items():
            if allowed_wabas and waba not in allowed_wabas:
                continue
            if allowed_chips and pnid not in allowed_chips:
                continue
            try:
                snap = await self._fleet.snapshot(pnid)
            except (CallTimeout, ActorStopped, ActorCrashed):
                continue
            views[pnid] = ChipView(
                pnid=pnid,
                waba=waba,
                quality=snap.record.quality_rating,
                mode=snap.mode,
                paused=snap.record.paused,
                draining=snap.draining,
                mps=snap.mps,
                backlog=snap.queued + snap.in_flight + self._assigned(pnid),
                has_template=self.templates.get(waba) is not None,
                tier_room=(
                    None
                    if snap.tier_limit is None
                    else snap.tier_limit - snap.tier_used - self._assigned(pnid)
                ),
            )
            addresses[pnid] = address
        self.views, self.addresses = views, addresses
