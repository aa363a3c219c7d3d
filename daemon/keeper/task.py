"""The running window keeper: every ``interval_s``, send the due follow-ups.

Why it sends through the chip actor: the chip still checks the window (with its safety
margin), the quality policy, the WABA kill switch, the pair rate and the outbox; the
keeper only decides *that* a follow-up is due (:func:`actors.keeper.due`). A send is
recorded whatever the chip answered, so a refusal (paused chip) is not retried every
tick of the same window: the rule allows one attempt per window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

from actors.chip import Send, SendResult
from actors.core import ActorCrashed, ActorStopped, Address, CallTimeout
from actors.keeper import QuietHours, due
from config import MetadConfig
from daemon.otp.service import send_report
from daemon.store.keeper import KeeperRepository, Mark

if TYPE_CHECKING:
    from daemon.fleet import Fleet
    from daemon.store.connection import Queries

__all__ = ["WindowKeeper"]

log = logging.getLogger("metad.keeper")

SEND_TIMEOUT_S = 60.0

Publish = Callable[[str, dict[str, Any]], None]


class WindowKeeper:
    def __init__(
        self,
        cfg: MetadConfig,
        *,
        marks: KeeperRepository,
        chip: Callable[[str], Address[Any] | None],
        publish: Publish = lambda kind, data: None,
        now: Callable[[], float] = time.time,
    ) -> None:
        k = cfg.keeper
        self._cfg = cfg
        self._marks = marks
        self._chip = chip
        self._publish = publish
        self._now = now
        self._quiet = QuietHours(k.quiet_start, k.quiet_end, cfg.tz)
        self._lead_s = k.lead_h * 3600.0
        self._window_s = cfg.windows.service_hours * 3600.0
        self.sent = 0

    @classmethod
    def for_fleet(
        cls, cfg: MetadConfig, store: Queries, fleet: Fleet, publish: Publish
    ) -> WindowKeeper:
        """The daemon's wiring: marks in ``store``, sends through ``fleet``'s chips."""
        return cls(cfg, marks=KeeperRepository(store), chip=fleet.find_chip, publish=publish)

    def is_due(self, mark: Mark, now: float) -> bool:
        return due(
            now,
            mark.window_expiry,
            True,
            mark.last_kept,
            self._quiet,
            lead_s=self._lead_s,
            margin_s=self._cfg.windows.safety_margin_s,
            window_s=self._window_s,
        )

    async def tick(self) -> int:
        """Send every due follow-up once; how many were attempted."""
        now = self._now()
        attempted = 0
        for mark in await self._marks.candidates(now, self._lead_s):
            if self.is_due(mark, now):
                await self._keep(mark, now)
                attempted += 1
        return attempted

    async def _keep(self, mark: Mark, now: float) -> None:
        address = self._chip(mark.chip)
        if address is None:
            return
        content = {"type": "text", "text": {"body": self._cfg.keeper.text}}
        try:
            result: SendResult = await address.call(
                lambda r: Send(to=mark.contact, content=content, intent="follow_up", reply=r),
                timeout=SEND_TIMEOUT_S,
            )
        except (ActorCrashed, ActorStopped, CallTimeout) as exc:
            log.warning("keeper: chip %s unavailable: %s", mark.chip, exc)
            return  # not recorded: the next tick tries again
        report = send_report(result)
        await self._marks.kept(mark.chip, mark.contact, now, report.result, report.outbox_id)
        self.sent += report.result == "sent"
        log.info("keeper: follow-up to %s via %s: %s", mark.contact, mark.chip, report.result)
        self._publish(
            "keeper",
            {"chip": mark.chip, "contact": mark.contact, **report.as_dict()},
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        if not self._cfg.keeper.enabled:
            return
        while True:
            await trio.sleep(self._cfg.keeper.interval_s)
            try:
                await self.tick()
            except Exception:
                log.exception("keeper tick failed; trying again next interval")
