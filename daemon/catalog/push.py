"""Push listings to a catalog: plan, ``items_batch``, wait for the batch, report per item.

Why wait for the batch status: ``items_batch`` answers with handles as soon as the
request is taken; whether each product was created is known only from
``check_batch_request_status``. The old sync counted HTTP 2xx as success and ignored the
per-item errors (behaviour.md 15.5 #28); here every item is reported as done or failed,
and only done items are stored as pushed.

Why an UPDATE may be sent again as a CREATE: metad remembers what it pushed, but Meta's
side can lose a product (deleted in Commerce Manager, a restarted simulator). Its UPDATE
then fails "no such product" on every push, forever; so for an open listing the item is
created again, and for a closed or gone one the stale row is forgotten (nothing to mark
out of stock).

Why a CREATE may be sent again as an UPDATE: the other way round, Meta may already have
a product metad never pushed, or whose push it forgot (made by another tool, a store
restored from an old backup). Its CREATE then fails "already exists" on every push,
forever; so it is sent again as an UPDATE in the same push, and remembered once done.
A second try is never tried a third time (:data:`~daemon.catalog.listings.SECOND_TRIES`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from daemon.catalog.listings import SECOND_TRIES, Listing, Planned, adopt, plan, recreate
from daemon.graph.manage import ManagementCalls
from daemon.graph.resources import BatchStatus, CatalogItemData, CatalogItemRequest
from daemon.store.catalog import CatalogRepository

__all__ = ["CatalogTarget", "ItemError", "Progress", "PushReport", "push_listings", "push_planned"]

Progress = Callable[[str], None]
"""Where a long push says how far it got (the CLI prints it on stderr)."""


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
    forgotten: list[str] = field(default_factory=list)
    """Products Meta no longer had, of closed or gone listings: no longer remembered."""
    existing: list[str] = field(default_factory=list)
    """CREATEs of products Meta already had: sent as UPDATEs (also in ``updated``)."""
    remembered: list[str] = field(default_factory=list)
    """A resync's products Meta has as the file says: not sent, now remembered."""

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
            "forgotten": self.forgotten,
            "existing": self.existing,
            "remembered": self.remembered,
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


_EXISTS = re.compile(r"\balready exists?\b|\bduplicate\b", re.IGNORECASE)
"""How a batch status says a CREATE found the product there (the simulator: "a product
with retailer id … already exists")."""

_NO_PRODUCT = re.compile(
    r"\bno (such )?(product|item)\b"
    r"|\b(product|item)\b.*\b(does ?n[o']t exist|not found|non-?existent|no longer exists)",
    re.IGNORECASE,
)
"""How a batch status says an UPDATE found no product (the simulator: "no product with
retailer id …"). Meta's ``items_batch`` may also upsert instead; then this never fires."""


@dataclass(frozen=True, slots=True)
class CatalogTarget:
    """Where a push goes and how it waits, for the rounds of :func:`push_listings`."""

    api: ManagementCalls
    repo: CatalogRepository
    catalog_id: str
    waba_id: str
    status_timeout_s: float

    async def send(self, chunk: Sequence[Planned]) -> tuple[list[str], dict[int, str]]:
        """One ``items_batch`` and its statuses: the handles and the per-item errors."""
        requests = [
            CatalogItemRequest(method=p.method, data=CatalogItemData.model_validate(p.data))
            for p in chunk
        ]
        handles = await self.api.items_batch(self.catalog_id, requests, waba_id=self.waba_id)
        failed: dict[int, str] = {}
        for handle in handles:
            status = await _finished(
                self.api, self.catalog_id, handle, self.waba_id, self.status_timeout_s
            )
            failed.update(_failed_lines(status, chunk))
        return handles, failed


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
    progress: Progress | None = None,
) -> PushReport:
    """Bring ``catalog_id`` in line with ``listings``, as far as metad remembers what it
    pushed (a resync reads Meta's side instead); the report names every change."""
    pushed = await repo.pushed(catalog_id)
    planned = plan(listings, pushed, currency=currency, link_base=link_base)
    report = PushReport(catalog_id, unchanged=len(listings) - _touched(planned, listings))
    target = CatalogTarget(api, repo, catalog_id, waba_id, status_timeout_s)
    await push_planned(target, report, planned, batch_size, progress)
    return report


async def push_planned(
    target: CatalogTarget,
    report: PushReport,
    planned: Sequence[Planned],
    batch_size: int,
    progress: Progress | None = None,
) -> None:
    """Push ``planned``, then the second tries it calls for (a second round sends the
    CREATEs of products Meta no longer had and the UPDATEs of those it already had)."""
    while planned:
        planned = await _push_round(target, report, planned, batch_size, progress)


async def _push_round(
    target: CatalogTarget,
    report: PushReport,
    planned: Sequence[Planned],
    batch_size: int,
    progress: Progress | None,
) -> list[Planned]:
    """Push ``planned`` in batches, store and report what was done; returns the second
    tries of the items that failed for a reason one fixes."""
    again: list[Planned] = []
    for start in range(0, len(planned), batch_size):
        chunk = planned[start : start + batch_size]
        if progress is not None and len(planned) > batch_size:
            end = start + len(chunk)
            progress(f"sending items {start + 1}-{end} of {len(planned)}")
        handles, failed = await target.send(chunk)
        report.handles += handles
        done = [p for i, p in enumerate(chunk) if i not in failed]
        await target.repo.save(target.catalog_id, done)
        _report_done(report, done)
        stale: list[str] = []
        for i, message in sorted(failed.items()):
            p = chunk[i]
            if p.reason in SECOND_TRIES:
                report.errors.append(ItemError(p.retailer_id, p.listing_id, p.method, message))
            elif p.method == "CREATE" and _EXISTS.search(message) and (up := adopt(p)):
                again.append(up)
            elif p.method != "UPDATE" or not _NO_PRODUCT.search(message):
                report.errors.append(ItemError(p.retailer_id, p.listing_id, p.method, message))
            elif (replacement := recreate(p)) is not None:
                again.append(replacement)
            else:
                stale.append(p.retailer_id)
        if stale:
            await target.repo.forget(target.catalog_id, stale)
            report.forgotten += stale
    return again


def _report_done(report: PushReport, done: Sequence[Planned]) -> None:
    for p in done:
        if p.reason == "existing":
            report.existing.append(p.retailer_id)
        if p.method == "CREATE":
            report.created.append(p.retailer_id)
        elif p.availability == "out of stock" and p.reason in ("closed", "gone"):
            report.out_of_stock.append(p.retailer_id)
        else:
            report.updated.append(p.retailer_id)


def _touched(planned: Sequence[Planned], listings: Sequence[Listing]) -> int:
    ids = {x.id for x in listings}
    return sum(1 for p in planned if p.listing_id in ids)
