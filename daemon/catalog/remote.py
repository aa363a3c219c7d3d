"""Read a catalog's products from Meta, and resync listings against them.

Why read at all: metad pushes diffs against what it remembers, which cannot notice a
product that vanished on Meta's side while its listing stayed the same
(:mod:`daemon.catalog.resync` says what a resync plans). Why page by page with progress:
a catalog may hold thousands of products, and an operator waiting on a silent command
cannot tell a slow Meta from a hung one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.catalog.listings import Listing
from daemon.catalog.push import CatalogTarget, Progress, PushReport, push_planned
from daemon.catalog.resync import READ_FIELDS, plan_resync
from daemon.graph.errors import GraphError
from daemon.graph.manage import ManagementCalls
from daemon.store.catalog import CatalogRepository

__all__ = ["fetch_products", "resync_listings"]

PAGE_SIZE = 500
MAX_PAGES = 10_000
"""A Meta whose cursors never end (a bug on either side) must not hold the command
forever: 5 million products is far past any shifts catalog."""


def _unexpected(doc: Any, why: str) -> GraphError:
    return GraphError.unexpected(200, json.dumps(doc, default=str).encode(), why)


def _page(doc: Any) -> tuple[list[dict[str, Any]], str | None]:
    """The products of one page and the cursor of the next (None on the last page)."""
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list) or not all(
        isinstance(p, dict) and isinstance(p.get("retailer_id"), str | int) for p in data
    ):
        raise _unexpected(doc, "not a page of products with retailer_id")
    paging = doc.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return data, None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    if not isinstance(after, str) or not after:
        raise _unexpected(doc, "a next page without an after cursor")
    return data, after


async def fetch_products(
    api: ManagementCalls,
    catalog_id: str,
    *,
    waba_id: str,
    fields: Sequence[str] = READ_FIELDS,
    page_size: int = PAGE_SIZE,
    progress: Progress | None = None,
) -> dict[str, dict[str, Any]]:
    """Every product of ``catalog_id`` by retailer id, following the paging cursors."""
    products: dict[str, dict[str, Any]] = {}
    after: str | None = None
    for _ in range(MAX_PAGES):
        params: dict[str, str | int] = {"fields": ",".join(fields), "limit": page_size}
        if after is not None:
            params["after"] = after
        doc = await api.call("GET", f"{catalog_id}/products", owner=waba_id, params=params)
        data, following = _page(doc)
        products.update((str(p["retailer_id"]), p) for p in data)
        if progress is not None:
            progress(f"read {len(products)} products of catalog {catalog_id}")
        if following is None:
            return products
        if following == after:
            raise _unexpected(doc, "the next page's cursor is this page's")
        after = following
    raise _unexpected({"pages": MAX_PAGES}, "the products' paging does not end")


async def resync_listings(
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
    page_size: int = PAGE_SIZE,
    progress: Progress | None = None,
) -> PushReport:
    """Bring ``catalog_id`` in line with ``listings`` as Meta has it now: CREATE what is
    missing, UPDATE what differs, remember what matches, forget what no one needs."""
    remote: Mapping[str, Mapping[str, Any]] = await fetch_products(
        api, catalog_id, waba_id=waba_id, page_size=page_size, progress=progress
    )
    pushed = await repo.pushed(catalog_id)
    planned = plan_resync(listings, remote, pushed, currency=currency, link_base=link_base)
    report = PushReport(catalog_id, unchanged=planned.unchanged)
    if planned.forget:
        await repo.forget(catalog_id, planned.forget)
        report.forgotten += planned.forget
    if planned.remember:
        await repo.save(catalog_id, planned.remember)
        report.remembered += [p.retailer_id for p in planned.remember]
    if progress is not None:
        progress(f"{len(planned.send)} of them to send")
    target = CatalogTarget(api, repo, catalog_id, waba_id, status_timeout_s)
    await push_planned(target, report, planned.send, batch_size, progress)
    return report
