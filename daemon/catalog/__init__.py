"""Catalogs: listings pushed as products (``metad catalog push``), products in messages."""

from __future__ import annotations

from daemon.catalog.push import PushReport, push_listings

__all__ = ["PushReport", "push_listings"]
