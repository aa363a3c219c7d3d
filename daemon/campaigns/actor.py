"""The campaign coordinator as a supervised child of the daemon.

Why here and not in :mod:`daemon.fleet`: the fleet is chips and WABAs, rebuilt from the
config on reload; the coordinator sits beside it and only needs the fleet's addresses.
The mailbox is created once so that its address stays valid across restarts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import trio

from actors.campaign.coordinator import CampaignCoordinator, CampaignMsg
from actors.campaign.runner import Sharing
from actors.core import Address, Mailbox, open_mailbox
from config import MetadConfig
from daemon.campaigns.service import FleetAdapter
from daemon.fleet import Fleet
from daemon.store import Store
from daemon.supervisor import ChildSpec

__all__ = ["Campaigns"]


class Campaigns:
    def __init__(
        self,
        cfg: MetadConfig,
        fleet: Fleet,
        store: Store,
        *,
        publish: Callable[[str, dict[str, Any]], None] = lambda kind, data: None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._cfg = cfg
        self._fleet = fleet
        self._store = store
        self._publish = publish
        self._now = now
        self._box: Mailbox[CampaignMsg] = open_mailbox("campaigns")
        self.actor: CampaignCoordinator | None = None
        self.share: Callable[[], float] | None = None
        """Set when several daemons share the fleet: this daemon's part of it (its chips
        over all chips); runners then claim recipients (see daemon.cluster)."""

    @property
    def address(self) -> Address[CampaignMsg]:
        return self._box.address

    def spec(self) -> ChildSpec:
        async def run(*, task_status: trio.TaskStatus[Any]) -> None:
            self.actor = CampaignCoordinator(
                store=self._store.campaigns,
                fleet=FleetAdapter(self._fleet, self._store, self._cfg),
                inbox=self._box.inbox,
                address=self._box.address,
                budget=self._fleet.budget,
                now=self._now,
                tz=self._cfg.tz,
                publish=self._publish,
                sharing=self._sharing(),
            )
            await self.actor.run(task_status=task_status)

        return ChildSpec("campaigns", run)

    def _sharing(self) -> Sharing | None:
        if self.share is None:
            return None
        repo = self._store.campaigns

        async def claim(campaign_id: str, limit: int, stale_s: float) -> list[Any]:
            return list(await repo.claim(campaign_id, limit=limit, stale_s=stale_s))

        return Sharing(
            claim=claim,
            outstanding=repo.outstanding,
            share=self.share,
            stale_s=self._cfg.cluster.lease_s * 1.5,
        )

    def close(self) -> None:
        self._box.close()
