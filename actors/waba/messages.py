"""Messages a :class:`~actors.waba.actor.WabaActor` understands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from actors.core import ReplyTo
from actors.ports import WabaRecord
from actors.waba.killswitch import KillSwitch, WabaEffect

__all__ = ["AccountEvent", "GetWabaSnapshot", "WabaMsg", "WabaSnapshot"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WabaSnapshot:
    record: WabaRecord
    chips: tuple[str, ...]
    """phone_number_ids of the numbers in this account (from config)."""
    switch: KillSwitch


@dataclass(frozen=True, slots=True, kw_only=True)
class GetWabaSnapshot:
    reply: ReplyTo[WabaSnapshot]


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountEvent:
    """An ``account_update`` webhook or a WABA-level error, as its kill-switch effect."""

    effect: WabaEffect
    at: float


WabaMsg: TypeAlias = GetWabaSnapshot | AccountEvent
