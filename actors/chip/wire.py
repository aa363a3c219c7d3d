"""Conversions at the chip's boundary: journal rows, poll bodies, send payloads.

Why apart from the actor: they are pure translations between the chip's values and the
shapes storage and Meta use; keeping them here keeps the actor about behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from actors.chip import quality as q
from actors.chip.messages import Send

__all__ = ["SECRET_MASK", "masked", "payload", "throughput_of", "transition"]

SECRET_MASK: Final = "••••••"
"""What the journal keeps of a secret parameter (an authentication template's code)."""

_NOT_SECRET: Final = frozenset({"type", "parameter_name"})


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


def masked(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``payload`` with every template parameter's value replaced by :data:`SECRET_MASK`.

    Why: the outbox keeps a message's payload for its whole history (180 days), and an
    authentication template's parameters are a live one-time code (body and copy-code /
    URL button); OTP itself stores only the code's hash. The journal keeps the shape (name,
    language, which components, parameter types and names) that reports read; the POST
    uses the real payload, from memory. Nothing re-sends from the stored payload.
    """
    template = payload.get("template")
    if not isinstance(template, Mapping):
        return dict(payload)
    components = template.get("components")
    if not isinstance(components, list):
        return dict(payload)
    return {**payload, "template": {**template, "components": _masked_all(components)}}


def _masked_all(components: list[Any]) -> list[Any]:
    return [_masked_component(c) if isinstance(c, Mapping) else c for c in components]


def _masked_component(component: Mapping[str, Any]) -> dict[str, Any]:
    """A component with its parameters masked, and its carousel cards' (a template
    whose parameters are secret has no carousel today; nothing slips through if one does)."""
    out = dict(component)
    params = component.get("parameters")
    if isinstance(params, list):
        out["parameters"] = [_masked_parameter(p) if isinstance(p, Mapping) else p for p in params]
    cards = component.get("cards")
    if isinstance(cards, list):
        out["cards"] = [
            {**card, "components": _masked_all(card["components"])}
            if isinstance(card, Mapping) and isinstance(card.get("components"), list)
            else card
            for card in cards
        ]
    return out


def _masked_parameter(parameter: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v if k in _NOT_SECRET else SECRET_MASK) for k, v in parameter.items()}
