"""The ports actors depend on.

Why: actors hold rules and state; storage and the Graph API are edges that live in
``daemon/``. Actors see only these Protocols, so a unit test hands them in-memory fakes
and ``daemon.store`` / ``daemon.graph`` implement them for real.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

__all__ = ["ChipRecord", "ChipRepo", "WabaRecord", "WabaRepo"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChipRecord:
    """The persisted basic state of one phone number ("chip")."""

    phone_number_id: str
    waba_id: str
    display_number: str
    status: str = "CONNECTED"
    quality_rating: str = "UNKNOWN"
    messaging_limit_tier: str = "TIER_250"
    throughput_mps: int = 80
    paused: bool = False
    pause_reason: str | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WabaRecord:
    """The persisted basic state of one WhatsApp Business Account."""

    waba_id: str
    name: str = ""
    status: str = "ACTIVE"
    restricted: bool = False
    updated_at: dt.datetime | None = None


class ChipRepo(Protocol):
    async def load(self, phone_number_id: str) -> ChipRecord | None: ...

    async def save(self, record: ChipRecord) -> None: ...


class WabaRepo(Protocol):
    async def load(self, waba_id: str) -> WabaRecord | None: ...

    async def save(self, record: WabaRecord) -> None: ...
