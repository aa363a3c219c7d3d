"""Products in messages: the ``product`` and ``product_list`` interactive contents. Pure.

Both are free-form messages (only inside the contact's service window); the chip
decides that like for any other content. Meta's limits: a list has a text header and a
body, at most 10 sections (titles up to 24 characters) and 30 products in all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["MAX_LIST_ITEMS", "product_list_message", "product_message", "products_message"]

MAX_LIST_ITEMS = 30
MAX_SECTIONS = 10


def product_message(
    catalog_id: str, retailer_id: str, *, body: str | None = None, footer: str | None = None
) -> dict[str, Any]:
    interactive: dict[str, Any] = {
        "type": "product",
        "action": {"catalog_id": catalog_id, "product_retailer_id": retailer_id},
    }
    if body:
        interactive["body"] = {"text": body[:1024]}
    if footer:
        interactive["footer"] = {"text": footer[:60]}
    return {"type": "interactive", "interactive": interactive}


def product_list_message(
    catalog_id: str,
    header: str,
    body: str,
    sections: Sequence[tuple[str, Sequence[str]]],
    *,
    footer: str | None = None,
) -> dict[str, Any]:
    if not 1 <= len(sections) <= MAX_SECTIONS:
        raise ValueError(f"a product list has 1 to {MAX_SECTIONS} sections")
    total = sum(len(ids) for _, ids in sections)
    if not 1 <= total <= MAX_LIST_ITEMS:
        raise ValueError(f"a product list has 1 to {MAX_LIST_ITEMS} products")
    interactive: dict[str, Any] = {
        "type": "product_list",
        "header": {"type": "text", "text": header[:60]},
        "body": {"text": body[:1024]},
        "action": {
            "catalog_id": catalog_id,
            "sections": [
                {
                    "title": title[:24],
                    "product_items": [{"product_retailer_id": rid} for rid in ids],
                }
                for title, ids in sections
            ],
        },
    }
    if footer:
        interactive["footer"] = {"text": footer[:60]}
    return {"type": "interactive", "interactive": interactive}


def products_message(
    catalog_id: str, retailer_ids: Sequence[str], *, header: str, body: str
) -> dict[str, Any]:
    """One product as ``product``, several as a one-section ``product_list``."""
    if not retailer_ids:
        raise ValueError("no products to send")
    if len(retailer_ids) == 1:
        return product_message(catalog_id, retailer_ids[0], body=body)
    return product_list_message(catalog_id, header, body, [(header, retailer_ids)])
