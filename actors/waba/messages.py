"""Messages a :class:`~actors.waba.actor.WabaActor` understands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from actors.core import ReplyTo
from actors.ports import WabaRecord

__all__ = ["GetWabaSnapshot", "WabaMsg", "WabaSnapshot"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WabaSnapshot:
    record: WabaRecord
    chips: tuple[str, ...]
    """phone_number_ids of the numbers in this account (from config)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GetWabaSnapshot:
    reply: ReplyTo[WabaSnapshot]


WabaMsg: TypeAlias = GetWabaSnapshot
