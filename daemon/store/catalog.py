"""``CatalogRepository``: what metad last pushed to each catalog product.

Only requests Meta accepted are stored (per-item errors are left out), so the next push
tries a failed item again instead of believing the catalog holds it. A product Meta no
longer has, for a listing that is closed or gone, is forgotten: there is nothing left to
mark out of stock, and keeping the row would retry that UPDATE on every push.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from daemon.catalog.listings import Planned, Pushed

if TYPE_CHECKING:
    from daemon.store.connection import Queries

__all__ = ["CatalogRepository"]


class CatalogRepository:
    def __init__(self, db: Queries) -> None:
        self._db = db

    async def pushed(self, catalog_id: str) -> dict[str, Pushed]:
        rows = await self._db.fetch(
            "SELECT retailer_id, listing_id, fingerprint, availability FROM catalog_items"
            " WHERE catalog_id = $1",
            catalog_id,
        )
        return {
            r["retailer_id"]: Pushed(r["listing_id"], r["fingerprint"], r["availability"])
            for r in rows
        }

    async def save(self, catalog_id: str, done: Iterable[Planned]) -> None:
        await self._db.executemany(
            "INSERT INTO catalog_items (catalog_id, retailer_id, listing_id, fingerprint,"
            " availability, pushed_at) VALUES ($1, $2, $3, $4, $5, now())"
            " ON CONFLICT (catalog_id, retailer_id) DO UPDATE SET"
            " listing_id = EXCLUDED.listing_id, fingerprint = EXCLUDED.fingerprint,"
            " availability = EXCLUDED.availability, pushed_at = now()",
            [
                (catalog_id, p.retailer_id, p.listing_id, p.fingerprint, p.availability)
                for p in done
            ],
        )

    async def forget(self, catalog_id: str, retailer_ids: Iterable[str]) -> None:
        await self._db.execute(
            "DELETE FROM catalog_items WHERE catalog_id = $1 AND retailer_id = ANY($2::text[])",
            catalog_id,
            list(retailer_ids),
        )
