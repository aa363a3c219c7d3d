"""Media: upload once, reuse the id until it nears Meta's 30-day expiry, then re-upload."""

from __future__ import annotations

from daemon.media.cache import MediaCache
from daemon.media.policy import expiry, usable

__all__ = ["MediaCache", "expiry", "usable"]
