"""The WABA (business account) actor and its messages."""

from actors.waba.actor import WabaActor
from actors.waba.messages import AccountEvent, GetWabaSnapshot, WabaMsg, WabaSnapshot

__all__ = ["AccountEvent", "GetWabaSnapshot", "WabaActor", "WabaMsg", "WabaSnapshot"]
