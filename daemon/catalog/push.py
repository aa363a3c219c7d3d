"""Push listings to a catalog: plan, ``items_batch``, wait for the batch, report per item.

Why wait for the batch status: ``items_batch`` answers with handles as soon as the
request is taken; whether each product was created is known only from
``check_batch_request_status``. The old sync counted HTTP 2xx as success and ignored the
per-item errors (behaviour.md 15.5 #28); here every item is reported as done or failed,
and only done items are stored as pushed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from daemon.catalog.listings import Listing, Planned, plan
from daemon.graph.manage import ManagementCalls
from daemon.graph.resources import BatchStatus, CatalogItemData, CatalogItemRequest
from daemon.store.catalog import CatalogRepository

__all__ = ["ItemError", "PushReport", "push_listings"]


@dataclass(frozen=True, slots=True)
class ItemError:
    retailer_id: str
    listing_id: str
    method: str
    message: str


@dataclass(slots=True)
class PushReport:
    catalog_id: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    out_of_stock: list[str] = field(default_factory=list)
    unchanged: int = 0
    errors: list[ItemError] = field(default_factory=list)
    handles: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "catalog_id": self.catalog_id,
            "created": self.created,
            "updated": self.updated,
            "out_of_stock": self.out_of_stock,
            "unchanged": self.unchanged,
            "errors": [
                {
                    "retailer_id": e.retailer_id,
                    "listing_id": e.listing_id,
                    "method": e.method,
                    "message": e.message,
                }
                for e in self.errors
            ],
            "handles": self.handles,
        }


async def _finished(
    api: ManagementCalls, catalog_id: str, handle: str, waba: str, timeout_s: float
) -> BatchStatus:
    delay = 0.05
    with trio.fail_after(timeout_s):
        while True:
            status = await api.batch_status(catalog_id, handle, waba_id=waba)
            if status.status.lower() in ("finished", "complete", "completed", "failed"):
                return status
            await trio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _failed_lines(status: BatchStatus, chunk: Sequence[Planned]) -> dict[int, str]:
    """Per-item errors by position in ``chunk`` (Meta gives ``line`` and/or ``id``)."""
    by_id = {p.retailer_id: i for i, p in enumerate(chunk)}
    failed: dict[int, str] = {}
    for err in status.errors:
        line, rid = err.get("line"), err.get("id") or err.get("retailer_id")
        index = by_id.get(str(rid)) if rid is not None else None
        if index is None and isinstance(line, int) and 0 <= line < len(chunk):
            index = line
        if index is not None:
            failed[index] = str(err.get("message") or err)
    return failed


async def push_listings(
    api: ManagementCalls,
    repo: CatalogRepository,
    listings: Sequence[Listing],
    *,
    catalog_id: str,
    waba_id: str,
    currency: str,
    link_base: str,
    batch_size: int = 1000,
    status_timeout_s: float = 120.0,
) -> PushReport:
    """Bring ``catalog_id`` in line with ``listings``; the report names every change."""
    pushed = await repo.pushed(catalog_id)
    planned = plan(listings, pushed, currency=currency, link_base=link_base)
    report = PushReport(catalog_id, unchanged=len(listings) - _touched(planned, listings))
    for start in range(0, len(planned), batch_size):
        chunk = planned[start : start + batch_size]
        requests = [
            CatalogItemRequest(method=p.method, data=CatalogItemData.model_validate(p.data))
            for p in chunk
        ]
        handles = await api.items_batch(catalog_id, requests, waba_id=waba_id)
        report.handles += handles
        failed: dict[int, str] = {}
        for handle in handles:
            status = await _finished(api, catalog_id, handle, waba_id, status_timeout_s)
            failed.update(_failed_lines(status, chunk))
        done = [p for i, p in enumerate(chunk) if i not in failed]
        await repo.save(catalog_id, done)
        for i, message in sorted(failed.items()):
            p = chunk[i]
            report.errors.append(ItemError(p.retailer_id, p.listing_id, p.method, message))
        for p in done:
            if p.method == "CREATE":
                report.created.append(p.retailer_id)
            elif p.availability == "out of stock" and p.reason in ("closed", "gone"):
                report.out_of_stock.append(p.retailer_id)
            else:
                report.updated.append(p.retailer_id)
    return report


def _touched(planned: Sequence[Planned], listings: Sequence[Listing]) -> int:
    ids = {x.id for x in listings}
    return sum(1 for p in planned if p.listing_id in ids)
