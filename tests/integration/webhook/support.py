"""Helpers of the webhook integration tests: bodies built like Meta's (after
docs/cloud-api.md §1) and a recording stand-in for the actors."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import trio

from daemon.webhook import events as e
from tests.unit.daemon.webhook.samples import DISPLAY, PNID, TS, USER, WABA, body, messages_value

__all__ = [
    "OTHER_PNID",
    "UNKNOWN_PNID",
    "UNKNOWN_WABA",
    "RecordingSink",
    "message_body",
    "status",
    "statuses_body",
]

OTHER_PNID = "106540352242999"
"""The second number of the test config."""
UNKNOWN_PNID = "999999999999999"
UNKNOWN_WABA = "888888888888888"


@dataclass
class RecordingSink:
    """Stands in for the actors: records deliveries; knows only ``known`` numbers.

    ``fail_after`` makes the delivery after that many raise, like an actor gone.
    """

    known: frozenset[str] = frozenset({PNID, OTHER_PNID, WABA})
    events: list[e.Event] = field(default_factory=list)
    fail_after: int | None = None

    async def deliver(self, event: e.Event) -> bool:
        await trio.lowlevel.checkpoint()
        if self.fail_after is not None and len(self.events) >= self.fail_after:
            raise RuntimeError("actor gone")
        self.events.append(event)
        owner = getattr(event, "phone_number_id", None) or getattr(event, "waba_id", None)
        return owner in self.known

    def keys(self) -> list[str]:
        return [
            f"{ev.kind}:{getattr(ev, 'wamid', '')}:{getattr(ev, 'status', '')}"
            for ev in self.events
        ]


def status(
    wamid: str,
    state: str,
    *,
    ts: int = TS,
    callback: str | None = None,
    recipient: str = USER,
    **extra: Any,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": wamid,
        "status": state,
        "timestamp": str(ts),
        "recipient_id": recipient,
        **extra,
    }
    if callback is not None:
        item["biz_opaque_callback_data"] = callback
    return item


def statuses_body(*items: dict[str, Any], pnid: str = PNID, waba: str | None = None) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY, "phone_number_id": pnid},
        "statuses": list(items),
    }
    return body(("messages", value)) if waba is None else body(("messages", value), waba=waba)


def message_body(
    wamid: str, *, sender: str = USER, pnid: str = PNID, at: float | None = None, text: str = "oi"
) -> bytes:
    """An inbound text message; ``at`` defaults to now, so it opens a live window."""
    message = {
        "from": sender,
        "id": wamid,
        "timestamp": str(int(at if at is not None else time.time())),
        "type": "text",
        "text": {"body": text},
    }
    value = messages_value(message)
    value["metadata"] = {"display_phone_number": DISPLAY, "phone_number_id": pnid}
    value["contacts"] = [{"profile": {"name": "Dr. Teste"}, "wa_id": sender}]
    return body(("messages", value))
