"""The WABA (business account) actor and its messages."""

from actors.waba.actor import WabaActor
from actors.waba.messages import (
    AccountEvent,
    GetTemplates,
    GetWabaSnapshot,
    SyncTemplates,
    TemplateEvent,
    WabaMsg,
    WabaSnapshot,
)

__all__ = [
    "AccountEvent",
    "GetTemplates",
    "GetWabaSnapshot",
    "SyncTemplates",
    "TemplateEvent",
    "WabaActor",
    "WabaMsg",
    "WabaSnapshot",
]
