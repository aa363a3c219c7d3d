"""A webhook sink in front of the fleet router: quick-reply taps on shift offers, codes
typed back in the chat (:mod:`daemon.otp.chat`), and the failures of the messages that
carried offers.

Why a wrapper and not a branch in the router: the router maps events to chip and WABA
actors; a tap is still an inbound message for its chip (it opens the window), and on top
of that it may answer a shift offer. Likewise a ``failed`` status still goes to its chip
(and the outbox), and on top of that it may say an offer never reached its contact
(131026: not on WhatsApp), which the offer would otherwise await for ever. Wrapping
keeps both concerns apart and the router untouched. Processing is replay-safe: an
answered offer is not answered again, a failed one not failed again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from actors.otp.shifts import parse_payload
from daemon.otp.chat import ChatCodes
from daemon.otp.service import OtpService
from daemon.otp.shifts import ShiftService
from daemon.store.errors import StoreError
from daemon.store.otp import ContactKeys, OtpRepository, ShiftRepository
from daemon.store.outbox import outbox_id_from
from daemon.webhook import events as e
from daemon.webhook.content import Text

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
    def __init__(
        self, inner: EventSink, shifts: ShiftService, codes: ChatCodes | None = None
    ) -> None:
        self._inner = inner
        self._shifts = shifts
        self._codes = codes

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
        codes = OtpService(
            cfg.otp,
            codes=OtpRepository(store),
            contacts=ContactKeys(store),
            chip=fleet.find_chip,
            tz=cfg.tz,
            publish=publish,
            shifts=shifts,
        )
        return cls(inner, shifts, ChatCodes(codes))

    async def deliver(self, event: e.Event) -> bool:
        if isinstance(event, e.InboundMessage):
            await self._tap(event)
            await self._typed(event)
        elif isinstance(event, e.StatusUpdate) and event.status == "failed":
            await self._failure(event)
        return await self._inner.deliver(event)

    async def _tap(self, event: e.InboundMessage) -> None:
        tap = parse_payload(event.button_payload)
        if tap is None:
            return
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

    async def _typed(self, event: e.InboundMessage) -> None:
        if self._codes is None or not isinstance(event.content, Text):
            return
        try:
            await self._codes.typed(
                event.content.body,
                wa_id=event.from_wa_id,
                bsuid=event.bsuid,
                wamid=event.wamid,
                chip=event.phone_number_id,
            )
        except StoreError:
            raise  # as for taps: replayed
        except Exception:
            log.exception("the code typed in message %s could not be checked", event.wamid)

    async def _failure(self, event: e.StatusUpdate) -> None:
        try:
            await self._shifts.undelivered(
                outbox_id_from(event.biz_opaque_callback_data),
                event.wamid,
                event.errors[0].code if event.errors else None,
                event.phone_number_id,
            )
        except StoreError:
            raise  # as for taps: replayed
        except Exception:
            log.exception("the failure of message %s could not be recorded", event.wamid)
