"""The window keeper's rule: when one follow-up may go before a marked window closes."""

from __future__ import annotations

from actors.keeper.rules import QuietHours, due

__all__ = ["QuietHours", "due"]
