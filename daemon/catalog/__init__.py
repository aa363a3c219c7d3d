"""Catalogs: listings pushed as products (``metad catalog push``), products in messages.

Modules: :mod:`~daemon.catalog.listings` and :mod:`~daemon.catalog.resync` (pure
rules), :mod:`~daemon.catalog.push`, :mod:`~daemon.catalog.remote` (reads Meta's
products, ``--resync``), :mod:`~daemon.catalog.messages`, :mod:`~daemon.catalog.cli`.
Nothing is imported here, so the store may use the pure rules without importing the
pusher.
"""

from __future__ import annotations

__all__: list[str] = []
