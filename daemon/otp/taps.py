"""A webhook sink in front of the fleet router: quick-reply taps on shift offers.

Why a wrapper and not a branch in the router: the router maps events to chip and WABA
actors; a tap is still an inbound message for its chip (it opens the window), and on top
of that it may answer a shift offer. Wrapping keeps both concerns apart and the router
untouched. Processing is replay-safe: an answered offer is not answered again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from actors.otp.shifts import parse_payload
from daemon.otp.shifts import ShiftService
from daemon.store.errors import StoreError
from daemon.store.otp import ContactKeys, ShiftRepository
from daemon.webhook import events as e

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from config import MetadConfig
    from daemon.fleet import Fleet
    from daemon.store import Store
    from daemon.webhook.processor import EventSink

__all__ = ["ShiftTaps"]

log = logging.getLogger("metad.shifts")


class ShiftTaps:
    def __init__(self, inner: EventSink, shifts: ShiftService) -> None:
        self._inner = inner
        self._shifts = shifts

    @classmethod
    def around(
        cls,
        inner: EventSink,
        cfg: MetadConfig,
        store: Store,
        fleet: Fleet,
        publish: Callable[[str, dict[str, Any]], None],
    ) -> ShiftTaps:
        """The daemon's wiring: taps settle offers in ``store`` and are published."""
        shifts = ShiftService(
            cfg.shifts,
            offers=ShiftRepository(store),
            contacts=ContactKeys(store),
            chip=fleet.find_chip,
            publish=publish,
            tz=cfg.tz,
        )
        return cls(inner, shifts)

    async def deliver(self, event: e.Event) -> bool:
        if isinstance(event, e.InboundMessage):
            tap = parse_payload(event.button_payload)
            if tap is not None:
                try:
                    await self._shifts.tapped(
                        tap,
                        wa_id=event.from_wa_id,
                        bsuid=event.bsuid,
                        wamid=event.wamid,
                        chip=event.phone_number_id,
                    )
                except StoreError:
                    raise  # the inbox rows stay pending and are replayed (idempotent)
                except Exception:
                    log.exception("shift tap %s could not be recorded", tap.shift_id)
        return await self._inner.deliver(event)
