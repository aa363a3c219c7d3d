"""Addressing sends by phone or by business-scoped user id (BSUID), per config.

Why at the Graph edge: the chip keys a contact by its wa_id (or its BSUID when it has no
phone) and builds ``{"to": key}``; which field Meta should get is a migration decision
(``[contacts] send_to``: ``phone`` → ``prefer_bsuid`` → ``bsuid``) that changes nothing
in the chip's rules (windows, limits). The directory of wa_id → BSUID is loaded from the
contact aliases the chips journal, and learnt from inbound webhooks as they arrive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from actors.chip.contacts import address_fields, canonical_key, is_bsuid
from daemon.webhook import events as e

if TYPE_CHECKING:
    from daemon.webhook.processor import EventSink

__all__ = ["Addressing", "LearnBsuids"]


class Addressing:
    def __init__(self, mode: str = "phone") -> None:
        self.mode = mode
        self._bsuid: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._bsuid)

    def learn(self, wa_id: str | None, bsuid: str | None) -> None:
        if not wa_id or not bsuid or not is_bsuid(bsuid):
            return
        key = canonical_key(wa_id)
        if key is not None:
            self._bsuid[key] = bsuid

    def load(self, pairs: Iterable[tuple[str, str]]) -> None:
        for key, bsuid in pairs:
            self.learn(key, bsuid)

    def rewrite(self, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """``payload`` addressed per the mode; None when it may not be sent."""
        to = payload.get("to")
        if not isinstance(to, str):
            return dict(payload)
        fields = address_fields(to, self._bsuid.get(to), self.mode)
        if fields is None:
            return None
        body = {k: v for k, v in payload.items() if k != "to"}
        body.update(fields)
        return body


class LearnBsuids:
    """A webhook sink wrapper: every inbound message teaches its (wa_id, BSUID) pair."""

    def __init__(self, inner: EventSink, addressing: Addressing) -> None:
        self._inner = inner
        self._addressing = addressing

    async def deliver(self, event: e.Event) -> bool:
        if isinstance(event, e.InboundMessage):
            self._addressing.learn(event.from_wa_id, event.bsuid)
        return await self._inner.deliver(event)
