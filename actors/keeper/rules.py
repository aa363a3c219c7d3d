"""When the window keeper sends its one follow-up: pure, time passed in.

Meta's rule that shapes this (behaviour.md 7.3): only the *user* renews the 24 h
service window; nothing the business sends extends it. So a keeper cannot keep a window
open, it can only ask, once, while free-form messages are still allowed, for a reply
that will. Hence: only conversations the operator marked, only in the last ``lead_s``
before expiry (and not inside the safety margin, where a send might land after the
close), at most once per window, and never in quiet hours.

A window is identified by its expiry: it opened at ``window_expiry - window_s``; a
follow-up sent after that instant belongs to this window.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["QuietHours", "due"]


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local times between which nothing is sent; ``start == end`` means never quiet.

    ``start > end`` spans midnight (20:00-08:00)."""

    start: dt.time
    end: dt.time
    tz: dt.tzinfo

    def contains(self, now: float) -> bool:
        if self.start == self.end:
            return False
        local = dt.datetime.fromtimestamp(now, self.tz).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def due(
    now: float,
    window_expiry: float | None,
    marked: bool,
    last_kept: float | None,
    quiet_hours: QuietHours,
    *,
    lead_s: float = 7200.0,
    margin_s: float = 300.0,
    window_s: float = 86_400.0,
) -> bool:
    """True when the follow-up should be sent now."""
    if not marked or window_expiry is None:
        return False
    left = window_expiry - now
    if left <= margin_s or left > lead_s:
        return False
    if last_kept is not None and last_kept >= window_expiry - window_s:
        return False  # already kept in this window
    return not quiet_hours.contains(now)
