"""The chip (phone number) actor, its messages and its rules.

The names below load on first use (PEP 562): the pure rule modules of this package
(``window``, ``ratelimit``…) are imported by other pure rules (pricing, cost), and an
eager import of the actor here would make those imports circular.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from actors.chip.actor import ChipActor, ChipSettings
    from actors.chip.messages import (
        ChipMsg,
        ChipSnapshot,
        Drain,
        GetSnapshot,
        Inbound,
        Pause,
        QualityEvent,
        Refused,
        Resume,
        Send,
        SendResult,
        Sent,
        StatusEvent,
        Uncertain,
        WabaSwitch,
        WabaTemplates,
    )

__all__ = [
    "ChipActor",
    "ChipMsg",
    "ChipSettings",
    "ChipSnapshot",
    "Drain",
    "GetSnapshot",
    "Inbound",
    "Pause",
    "QualityEvent",
    "Refused",
    "Resume",
    "Send",
    "SendResult",
    "Sent",
    "StatusEvent",
    "Uncertain",
    "WabaSwitch",
    "WabaTemplates",
]

_HOME = {"ChipActor": "actors.chip.actor", "ChipSettings": "actors.chip.actor"}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'actors.chip' has no attribute {name!r}")
    module = importlib.import_module(_HOME.get(name, "actors.chip.messages"))
    return getattr(module, name)
