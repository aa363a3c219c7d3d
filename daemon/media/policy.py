"""When a cached media id may still be used. Pure: time is an argument.

Meta keeps an uploaded media id for 30 days; a send carrying an expired id fails
(131053) after the message was accepted. So an id is reused only while more than a
margin is left, and a fresh upload replaces it before then.
"""

from __future__ import annotations

__all__ = ["expiry", "usable"]

DAY = 86_400.0


def expiry(uploaded_at: float, ttl_days: float) -> float:
    return uploaded_at + ttl_days * DAY


def usable(expires_at: float, now: float, margin_s: float) -> bool:
    return expires_at - now > margin_s
