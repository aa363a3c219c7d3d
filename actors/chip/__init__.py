"""The chip (phone number) actor, its messages and its rules."""

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
]
