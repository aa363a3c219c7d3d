"""How messages go out: where campaigns are, windows, pacing, quality, addressing.

Why these together: each one decides whether, when or to what address a message goes out:
the campaign files, the conversation windows, the pair rate and the slow-down, a chip's
quality rating, and which of a contact's ids a send addresses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from config.base import _Model

__all__ = [
    "CampaignsConfig",
    "ContactsConfig",
    "LimitsConfig",
    "QualityConfig",
    "WindowsConfig",
]


class CampaignsConfig(_Model):
    dir: Path = Path("campaigns")


class WindowsConfig(_Model):
    safety_margin_s: float = Field(default=300.0, ge=0, le=3600)
    """A window closer than this to its expiry counts as closed (a send takes time)."""
    service_hours: float = Field(default=24.0, gt=0)
    """Customer-service window opened by each inbound message (Meta: 24 h)."""
    free_entry_hours: float = Field(default=72.0, gt=0)
    """Free-entry-point window opened by a click-to-WhatsApp referral (Meta: 72 h)."""


class LimitsConfig(_Model):
    pair_interval_s: float = Field(default=6.0, ge=0)
    """Minimum gap between two messages to the same contact (Meta's pair rate limit)."""
    pair_burst: int = Field(default=1, ge=1)
    """Messages allowed back to back to one contact before the gap applies."""
    slow_factor: float = Field(default=0.5, gt=0, le=1)
    """Throughput multiplier applied on each 130429 (throughput exceeded)."""
    slow_recover_s: float = Field(default=60.0, gt=0)
    """Quiet time after which a slowed chip doubles its rate back towards its limit."""
    burst_s: float = Field(default=0.5, gt=0, le=1)
    """Seconds' worth of messages a chip may send at once after a quiet spell (its rate
    bucket's depth). Meta's own bucket holds one second; keeping below it leaves Meta's
    bucket headroom for the jitter between when metad spends a token and when Meta counts
    the request. At one second, every campaign's start drew a 130429 on each number
    (Meta's bucket ran empty, and a request that arrived a little early found no token),
    and each one halved that number's rate for the next minute."""


class QualityConfig(_Model):
    poll_interval_s: float = Field(default=900.0, gt=0)
    """Phone-number polling period, degraded chips included (so recovery is seen)."""
    yellow_throughput_fraction: float = Field(default=0.5, gt=0, le=1)
    """Share of its throughput a YELLOW chip keeps; marketing stops."""
    ramp_hours: list[Annotated[float, Field(gt=0)]] = Field(default_factory=lambda: [2.0, 4.0, 6.0])
    """Hours spent at each recovery step (25 %, 50 %, 75 % of throughput) before full speed."""
    flap_max_changes: int = Field(default=3, ge=1)
    """More rating changes than this within ``flap_window_h`` blocks recovery."""
    flap_window_h: float = Field(default=24.0, gt=0)
    flap_block_h: float = Field(default=6.0, gt=0)


class ContactsConfig(_Model):
    send_to: Literal["phone", "bsuid", "prefer_bsuid"] = "phone"
    """How sends address a contact: its phone (wa_id; a contact known only by its
    business-scoped user id gets that), ``prefer_bsuid`` (the BSUID when one is known,
    else the phone) or ``bsuid`` (BSUID only: contacts without one are not sent to)."""
