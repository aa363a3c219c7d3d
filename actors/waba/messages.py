"""Messages a :class:`~actors.waba.actor.WabaActor` understands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from actors.core import ReplyTo
from actors.ports import TemplateRecord, WabaRecord
from actors.waba.killswitch import KillSwitch, WabaEffect

__all__ = [
    "AccountEvent",
    "GetTemplates",
    "GetWabaSnapshot",
    "SyncTemplates",
    "TemplateEvent",
    "WabaMsg",
    "WabaSnapshot",
]


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


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncTemplates:
    """Fetch every template of the WABA from Meta (all pages); answers how many."""

    reply: ReplyTo[int]


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateEvent:
    """A template status, quality or category webhook; ``None`` fields did not change."""

    template_id: str | None
    name: str | None
    language: str | None
    status: str | None = None
    quality: str | None = None
    category: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetTemplates:
    reply: ReplyTo[list[TemplateRecord]]


WabaMsg: TypeAlias = GetWabaSnapshot | AccountEvent | SyncTemplates | TemplateEvent | GetTemplates
