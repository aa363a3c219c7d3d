"""Storage: PostgreSQL through asyncpg, bridged into trio (the only asyncpg importer).

Why one package: asyncpg is asyncio-only; everything that touches it runs on one
asyncio loop in one thread (``bridge``), and the rest of the daemon sees trio-native
``Store`` methods, repositories implementing ``actors.ports``, and ``StoreError``.
See DESIGN.md "Storage".
"""

from __future__ import annotations

from daemon.store.bridge import AsyncioThread
from daemon.store.catalog import CatalogRepository
from daemon.store.chips import ChipRepository
from daemon.store.connection import Connection, Row
from daemon.store.embedded import EmbeddedPostgres, start_embedded
from daemon.store.errors import StoreError
from daemon.store.inbox import InboxRepository, InboxRow, InboxStats, Outcome
from daemon.store.keeper import KeeperRepository
from daemon.store.media import MediaRepository
from daemon.store.migrate import migrate
from daemon.store.otp import ContactKeys, OtpRepository, ShiftRepository
from daemon.store.pool import Store, open_store
from daemon.store.wabas import WabaRepository
from daemon.store.writer import BatchWriteError, BatchWriter, WriterStats

__all__ = [
    "AsyncioThread",
    "BatchWriteError",
    "BatchWriter",
    "CatalogRepository",
    "ChipRepository",
    "Connection",
    "ContactKeys",
    "EmbeddedPostgres",
    "InboxRepository",
    "InboxRow",
    "InboxStats",
    "KeeperRepository",
    "MediaRepository",
    "OtpRepository",
    "Outcome",
    "Row",
    "ShiftRepository",
    "Store",
    "StoreError",
    "WabaRepository",
    "WriterStats",
    "migrate",
    "open_store",
    "start_embedded",
]
