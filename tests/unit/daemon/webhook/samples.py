"""Webhook body builders and constants for the webhook parser tests, after docs/cloud-api.md §1.

The fixtures are read from the shared directory, never copied into the repository.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from daemon.webhook import events as ev
from daemon.webhook.payloads import ParseResult, parse

FIXTURES = Path(__file__).resolve().parents[5] / "shared" / "fixtures" / "webhooks"
WABA = "102290129340398"
PNID = "106540352242922"
DISPLAY = "5511940001234"
USER = "5511987654321"
TS = 1764000000


def fixture(name: str) -> bytes:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"fixture {path} not available")
    return path.read_bytes()


def body(*changes: tuple[str, dict[str, Any]], waba: str = WABA) -> bytes:
    entry = {"id": waba, "changes": [{"field": f, "value": v} for f, v in changes]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def messages_value(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY, "phone_number_id": PNID},
        "contacts": [{"profile": {"name": "Dra. Carla Lima"}, "wa_id": USER}],
        "messages": list(messages),
        **extra,
    }


def inbound(mtype: str, **payload: Any) -> dict[str, Any]:
    return {"from": USER, "id": f"wamid.{mtype}", "timestamp": str(TS), "type": mtype, **payload}


def one(result: ParseResult) -> Any:
    assert result.complete, (result.unknown, result.errors)
    assert len(result.events) == 1
    return result.events[0]


def one_message(message: dict[str, Any]) -> ev.InboundMessage:
    event = one(parse(body(("messages", messages_value(message)))))
    assert isinstance(event, ev.InboundMessage)
    return event
