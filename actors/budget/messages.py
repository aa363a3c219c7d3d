"""What the budget coordinator is told and asked, and the client chips hold to ask it.

Why apart from the coordinator: chips, campaigns, the webhook router and the control
socket speak to the budget through these; none of them needs the actor itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeAlias

from actors.budget.values import Caps
from actors.core import ReplyTo
from actors.policy.pricing import PricingInfo
from actors.ports import Booking

__all__ = [
    "BudgetClient",
    "BudgetMsg",
    "GetBudget",
    "Reconcile",
    "Release",
    "Reserve",
    "SetCampaignCap",
    "Settle",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reserve:
    """Reservations of several messages, booked in order, answered together: a chip
    journals its sends in batches, and one message per batch is one mailbox hop."""

    bookings: tuple[Booking, ...]
    reply: ReplyTo[list[str | None]]
    """Per booking: None when booked; else the refusal's reason."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Release:
    id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconcile:
    """Check these reservations against their outbox rows now, without the grace period:
    the sender knows no send holds them (an operator just dropped or re-sent the
    message). Idempotent: a reservation gone already, or still chargeable, is kept as
    it is."""

    refs: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Settle:
    """A status webhook's ``pricing``: what Meta really charged for message ``id``."""

    id: str
    pricing: PricingInfo
    wa_id: str
    waba: str | None = None
    campaign: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetBudget:
    reply: ReplyTo[dict[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class SetCampaignCap:
    """Caps a campaign brings itself, registered when it starts (``Caps()`` withdraws
    them). They add to the configured ``[[budget.campaigns]]`` caps of the same
    campaign: per period the lower one applies.

    Per period like every cap (local day, ISO week, month). A campaign that must not
    spend more than X in all registers, as ``monthly``, what is left of X after the
    months before, for this ``month`` only (:class:`~actors.budget.values.Registered`)."""

    campaign_id: str
    caps: Caps
    reply: ReplyTo[None]
    month: str | None = None
    """The month key ``caps`` were counted for (see :class:`~actors.budget.values.
    Registered`); None: for every month."""


BudgetMsg: TypeAlias = Reserve | Release | Reconcile | Settle | GetBudget | SetCampaignCap


class BudgetClient:
    """What a chip holds: reserve and release through the coordinator's address."""

    def __init__(self, address: Any) -> None:
        self._address = address

    async def reserve(self, bookings: Sequence[Booking]) -> list[str | None]:
        reasons: list[str | None] = await self._address.call(
            lambda r: Reserve(bookings=tuple(bookings), reply=r)
        )
        return reasons

    async def release(self, ref: str) -> None:
        await self._address.cast(Release(id=ref))

    async def set_campaign_cap(
        self,
        campaign_id: str,
        *,
        daily_usd: Decimal | None = None,
        weekly_usd: Decimal | None = None,
        monthly_usd: Decimal | None = None,
    ) -> None:
        """Cap what ``campaign_id``'s sends (``campaign=`` on reserve) may spend per
        period; all None clears its caps. Raises ValueError for a negative amount."""
        caps = Caps(daily=daily_usd, weekly=weekly_usd, monthly=monthly_usd)
        await self._address.call(
            lambda r: SetCampaignCap(campaign_id=campaign_id, caps=caps, reply=r)
        )
