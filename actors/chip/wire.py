"""Conversions at the chip's boundary: journal rows, poll bodies, send payloads.

Why apart from the actor: they are pure translations between the chip's values and the
shapes storage and Meta use; keeping them here keeps the actor about behaviour.
"""

from __future__ import annotations

from typing import Any

from actors.chip import quality as q
from actors.chip.messages import Send

__all__ = ["payload", "throughput_of", "transition"]


def transition(row: dict[str, Any]) -> q.QualityTransition:
    data = dict(row)
    for name in ("from_rating", "to_rating"):
        data[name] = q.Rating(data[name])
    for name in ("from_mode", "to_mode"):
        data[name] = q.Mode(data[name])
    return q.QualityTransition(**data)


def throughput_of(body: Any) -> int | None:
    level = body.get("throughput") if hasattr(body, "get") else None
    if isinstance(level, dict) and isinstance(level.get("level"), str):
        return 1000 if level["level"].upper() == "HIGH" else None
    return None


def payload(req: Send, key: str, method: str) -> dict[str, Any]:
    base: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": key,
    }
    if method == "template" and req.template is not None:
        base.update(type="template", template=dict(req.template))
    elif req.content is not None:
        base.update(dict(req.content))
    return base
