"""A webhook sink in front of the router: taps on a campaign's buttons and cards.

Why: a carousel of open shifts is only useful if the tap on "Quero" comes back as "this
doctor wants shift V2003 from campaign X". Every quick-reply payload a campaign writes
says so (``mc:<campaign>:<listing or recipient>``, :mod:`actors.campaign.cards`); this
sink records each tap once (Meta retries webhooks, the inbox replays after a crash) as
an event of the campaign and publishes it for the console. The message still goes on
to its chip, where it opens the contact's window like any reply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from actors.campaign.cards import parse_tap
from daemon.webhook import events as e

if TYPE_CHECKING:
    from daemon.store import Store
    from daemon.webhook.processor import EventSink

__all__ = ["RECORD_SQL", "CampaignTaps"]

log = logging.getLogger("metad.campaigns")

# Once per (campaign, message): the unique index of migration 0017 says so.
RECORD_SQL = """
INSERT INTO events (kind, subject, data) VALUES ('campaign.tap', $1, $2::jsonb)
ON CONFLICT (subject, (data ->> 'wamid')) WHERE kind = 'campaign.tap' DO NOTHING
RETURNING id
"""


class CampaignTaps:
    def __init__(
        self,
        inner: EventSink,
        store: Store,
        publish: Callable[[str, dict[str, Any]], None] = lambda kind, data: None,
    ) -> None:
        self._inner = inner
        self._store = store
        self._publish = publish

    async def deliver(self, event: e.Event) -> bool:
        if isinstance(event, e.InboundMessage):
            tap = parse_tap(event.button_payload)
            if tap is not None:
                await self._record(event, *tap)
        return await self._inner.deliver(event)

    async def _record(self, event: e.InboundMessage, campaign: str, ref: str) -> None:
        data = {
            "campaign": campaign,
            "ref": ref,
            "wa_id": event.from_wa_id,
            "bsuid": event.bsuid,
            "chip": event.phone_number_id,
            "wamid": event.wamid,
            "context": event.context.message_id if event.context is not None else None,
            "text": getattr(event.content, "text", None),
        }
        new = await self._store.fetchval(RECORD_SQL, campaign, data)
        if new is not None:
            log.info("campaign %s: tap on %s", campaign, ref, extra={"campaign": campaign})
            self._publish("campaign.tap", data)
