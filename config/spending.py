"""``[pricing]`` and ``[budget]``: what a message costs, and caps on what sends may spend.

Why these together: a budget cap is only as good as the prices it is checked against; the
caps of the whole fleet, of one WABA and of one campaign share one shape
(:class:`CapsConfig`), which :mod:`config.loader` also checks across tables.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, field_validator

from config.base import _PREFIX, _Model
from config.storage import META_RETRY_DAYS

__all__ = [
    "BudgetConfig",
    "CampaignBudget",
    "CapsConfig",
    "PriceRate",
    "PricingConfig",
    "WabaBudget",
]


class PriceRate(_Model):
    prefix: str = Field(pattern=_PREFIX)
    """Calling-code prefix of the destination; the longest matching prefix wins."""
    marketing: float = Field(ge=0)
    utility: float = Field(ge=0)
    authentication: float = Field(ge=0)
    authentication_international: float | None = Field(default=None, ge=0)
    service: float = Field(default=0.0, ge=0)


def _brazil() -> list[PriceRate]:
    return [PriceRate(prefix="55", marketing=0.0625, utility=0.0068, authentication=0.0068)]


class PricingConfig(_Model):
    currency: Literal["USD"] = "USD"
    effective_date: dt.date = dt.date(2025, 7, 1)
    rates: list[PriceRate] = Field(default_factory=_brazil)


class CapsConfig(_Model):
    """USD caps per local day, ISO week and month; absent means no cap for that period."""

    daily_usd: float | None = Field(default=None, ge=0)
    weekly_usd: float | None = Field(default=None, ge=0)
    monthly_usd: float | None = Field(default=None, ge=0)


class WabaBudget(CapsConfig):
    """``[[budget.wabas]]``: caps on what the sends of one WABA's numbers may spend."""

    waba: str
    """Id of the WABA (in ``wabas``)."""


class CampaignBudget(CapsConfig):
    """``[[budget.campaigns]]``: caps on what one campaign may spend."""

    campaign: str = Field(min_length=1)
    """Id of the campaign (a campaign may also register its cap when it starts)."""


class BudgetConfig(CapsConfig):
    alert_at: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=lambda: [0.5, 0.8, 0.95]
    )
    wabas: list[WabaBudget] = Field(default_factory=list)
    campaigns: list[CampaignBudget] = Field(default_factory=list)
    alert_webhook_url: str = ""
    """Every budget alert is also POSTed here as JSON; empty: bus and log only."""
    alert_webhook_timeout_s: float = Field(default=5.0, gt=0, le=60)
    alert_webhook_retries: int = Field(default=3, ge=0, le=10)
    """Attempts after the first, with doubling backoff, before an alert is dropped (logged)."""
    unpriced_settle_days: float = Field(default=8.0, ge=META_RETRY_DAYS)
    """A message Meta accepted whose price never arrived (its status webhooks were lost
    past Meta's 7 days of retries) is settled at its estimate after this many days, so
    its reservation does not stay open for ever."""

    @field_validator("alert_webhook_url")
    @classmethod
    def _webhook_url(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("alert_webhook_url must be an http(s) URL (or empty)")
        return v
