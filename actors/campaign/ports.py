"""What the campaign coordinator needs from the edges: its store and the fleet.

Why protocols: the coordinator is tested against in-memory fakes (unit) and the real
repository over PostgreSQL (integration) without knowing which.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from actors.chip.messages import ChipMsg, ChipSnapshot
from actors.core import Address
from actors.ports import TemplateRecord

__all__ = ["CampaignStore", "FleetPort", "Pending"]


class Pending(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def to(self) -> str: ...
    @property
    def fields(self) -> dict[str, str]: ...
    @property
    def seq(self) -> int: ...
    @property
    def part(self) -> int: ...


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    id: str
    state: str
    spec: dict[str, Any]
    reason: str | None
    cap_usd: float | None


class CampaignStore(Protocol):
    async def get(self, campaign_id: str) -> Any: ...

    async def all(self) -> Sequence[Any]: ...

    async def set_state(self, campaign_id: str, state: str, reason: str | None = None) -> None: ...

    async def pending(
        self, campaign_id: str, *, after: tuple[int, int], limit: int
    ) -> Sequence[Pending]: ...

    async def mark(
        self, campaign_id: str, changes: Sequence[tuple[str, str, str | None, str | None]]
    ) -> None: ...

    async def recover(self, campaign_id: str) -> int: ...

    async def progress(self, campaign_id: str) -> dict[str, Any]: ...

    async def in_doubt(
        self, campaign_id: str, *, older_than: dt.datetime
    ) -> list[dict[str, Any]]: ...

    async def resolve_in_doubt(self, campaign_id: str, recipient: str, action: str) -> int | None:
        """The outbox id of the in-doubt row cancelled; None when none was in doubt."""
        ...

    async def affinity(self, campaign_id: str, chips: Sequence[str]) -> dict[str, str]: ...

    async def spent_before(self, campaign_id: str, before: dt.datetime) -> Decimal:
        """What the campaign's messages booked before ``before`` cost, as the budget
        ledger counts them (a price, or the reservation still open)."""
        ...


class FleetPort(Protocol):
    """The chips a campaign may use, and the templates their WABAs hold."""

    def chips(self) -> Mapping[str, tuple[str, Address[ChipMsg]]]:
        """phone_number_id → (its WABA, its address)."""
        ...

    async def snapshot(self, pnid: str) -> ChipSnapshot: ...

    async def templates(self, waba_id: str) -> list[TemplateRecord]: ...
