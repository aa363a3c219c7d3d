"""The window keeper: one follow-up before a marked conversation's window closes."""

from __future__ import annotations

from daemon.keeper.task import WindowKeeper

__all__ = ["WindowKeeper"]
