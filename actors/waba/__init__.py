"""The WABA (business account) actor and its messages."""

from actors.waba.actor import WabaActor
from actors.waba.messages import GetWabaSnapshot, WabaMsg, WabaSnapshot

__all__ = ["GetWabaSnapshot", "WabaActor", "WabaMsg", "WabaSnapshot"]
