"""The features beyond campaigns: passcodes, shift confirmations, the window keeper, media
and the product catalog.

Why these together: each is a small table configuring one service of its own (``metad ctl
otp``, shift confirmation, the keeper's follow-up, media uploads, ``metad catalog push``)
on top of the sending core, rather than the core itself.
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from config.base import _Model

__all__ = ["CatalogConfig", "KeeperConfig", "MediaConfig", "OtpConfig", "ShiftsConfig"]


class OtpConfig(_Model):
    """One-time passcodes sent with an authentication template (``metad ctl otp``)."""

    template: str = "codigo_verificacao"
    """The AUTHENTICATION template carrying the code (body and button take the code)."""
    language: str = "pt_BR"
    digits: int = Field(default=6, ge=4, le=10)
    ttl_s: float = Field(default=600.0, gt=0, le=86_400)
    """How long a code stays valid."""
    max_attempts: int = Field(default=5, ge=1)
    """Wrong guesses allowed per (contact, purpose) before it is locked."""
    lockout_s: float = Field(default=900.0, ge=0)
    max_sends_per_hour: int = Field(default=5, ge=1)
    """Codes sent per (contact, purpose) per hour."""
    accept_codes_in_chat: bool = True
    """A WhatsApp message whose whole text is a code (spaces and dashes aside) verifies
    like ``otp verify`` when the contact awaits a code: a miss counts only when a single
    purpose awaits one; with several, only a number matching exactly one of them is
    taken (``actors.otp.chat``). False: chat messages are never read as codes."""


class ShiftsConfig(_Model):
    """Shift confirmation: a UTILITY template with confirm/decline quick replies."""

    template: str = "confirmar_plantao"
    language: str = "pt_BR"


class KeeperConfig(_Model):
    """The window keeper: one in-window follow-up before a marked conversation closes."""

    enabled: bool = True
    text: str = Field(default="Oi! Ainda tem alguma dúvida sobre o plantão?", min_length=1)
    lead_h: float = Field(default=2.0, gt=0, le=24)
    """Send when the 24 h window has less than this left."""
    interval_s: float = Field(default=60.0, gt=0)
    quiet_start: dt.time = dt.time(20, 0)
    """Quiet hours in the configured time zone: nothing is sent from ``quiet_start`` to
    ``quiet_end`` (equal values: no quiet hours)."""
    quiet_end: dt.time = dt.time(8, 0)


class MediaConfig(_Model):
    ttl_days: float = Field(default=30.0, gt=0)
    """How long Meta keeps an uploaded media id (30 days)."""
    refresh_margin_h: float = Field(default=24.0, ge=0)
    """Re-upload when less than this is left, so a send never carries an expired id."""
    app_id: str = Field(default="", pattern=r"^[0-9]{0,20}$")
    """Meta app id for resumable uploads (template header handles); sandbox: any id."""


class CatalogConfig(_Model):
    id: str = Field(default="", pattern=r"^[0-9]{0,20}$")
    """Default catalog for ``metad catalog push`` (``--catalog`` overrides it)."""
    waba: str = ""
    """WABA whose token manages the catalog (default: the first WABA)."""
    currency: str = Field(default="BRL", pattern=r"^[A-Z]{3}$")
    link_base: str = "https://example.com/vagas/"
    """Product page link: this prefix followed by the listing id."""
    batch_size: int = Field(default=1000, ge=1, le=5000)
