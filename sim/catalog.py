"""Catalogs on the simulated Meta side: products, ``items_batch``, batch status, checks
of ``product`` / ``product_list`` messages.

Why products are kept: a push is only tested if the other side remembers. CREATE of a
retailer id that exists, UPDATE or DELETE of one that does not, a bad price, or a CREATE
without the fields Meta requires fail *that item* (reported by
``check_batch_request_status``), while the request as a whole is accepted, as Meta does.

Why ``GET /{catalog_id}/products`` answers with Meta's read names (``name``, ``url``,
``image_url``, a formatted ``price`` and its ``currency``) rather than the ``items_batch``
names it was given, pages with cursors (25 by default) and refuses an unknown field:
a client that reads the catalog back (``metad catalog push --resync``) must cope with
Meta's shape, not with an echo of its own writes.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from sim.errors import SimError, bad_param, unknown_object

if TYPE_CHECKING:
    from sim.engine import Sim
    from sim.graph_api import GraphRequest

__all__ = ["catalog_edge", "check_product_message"]

_PRICE = re.compile(r"^[0-9]+\.[0-9]{2} [A-Z]{3}$")
_CREATE_NEEDS = ("title", "description", "availability", "condition", "price", "link", "image_link")
_AVAILABILITY = ("in stock", "out of stock", "preorder", "available for order", "discontinued")
MAX_REQUESTS = 5000
_READ_NAMES = {"name": "title", "url": "link", "image_url": "image_link"}
"""A product's read field → the ``items_batch`` field it shows."""
_PLAIN = ("retailer_id", "description", "availability", "condition", "brand")
PRODUCT_FIELDS = ("id", "price", "currency", *_PLAIN, *_READ_NAMES)
_SYMBOLS = {"BRL": "R$", "USD": "$", "EUR": "€"}


def _read_product(catalog_id: str, data: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """One product as ``GET /{catalog_id}/products`` shows it: its FBID and ``fields``."""
    rid = str(data["id"])
    fbid = str(int(hashlib.sha256(f"{catalog_id}/{rid}".encode()).hexdigest()[:12], 16))
    amount, _, currency = str(data.get("price", "")).partition(" ")
    shown: dict[str, Any] = {
        "id": fbid,
        "retailer_id": rid,
        "currency": currency or None,
        "price": f"{_SYMBOLS.get(currency, currency)}{float(amount):,.2f}" if amount else None,
        **{k: data.get(k) for k in _PLAIN if k != "retailer_id"},
        **{read: data.get(batch) for read, batch in _READ_NAMES.items()},
    }
    return {"id": fbid} | {f: shown[f] for f in fields if shown.get(f) is not None}


def _products(sim: Sim, req: GraphRequest, catalog_id: str) -> dict[str, Any]:
    from sim.graph_api import page

    fields = req.fields() or ["id"]
    unknown = [f for f in fields if f not in PRODUCT_FIELDS]
    if unknown:
        raise bad_param(
            f"Tried accessing nonexisting field ({unknown[0]}) on node type (ProductItem)"
        )
    products = sim.world.products.get(catalog_id, {})
    items = [_read_product(catalog_id, data, fields) for data in products.values()]
    return page(items, req, f"/{catalog_id}/products")


def _item_error(products: dict[str, dict[str, Any]], method: str, data: dict[str, Any]) -> str:
    rid = str(data["id"])
    price = data.get("price")
    if price is not None and not _PRICE.match(str(price)):
        return f"bad price {price!r}: use '1500.00 BRL'"
    availability = data.get("availability")
    if availability is not None and availability not in _AVAILABILITY:
        return f"bad availability {availability!r}"
    if method == "CREATE":
        if rid in products:
            return f"a product with retailer id {rid} already exists"
        missing = [f for f in _CREATE_NEEDS if not data.get(f)]
        if missing:
            return f"missing required fields: {', '.join(missing)}"
    elif rid not in products:
        return f"no product with retailer id {rid}"
    return ""


def _items_batch(sim: Sim, req: GraphRequest, catalog_id: str) -> dict[str, Any]:
    if req.param("item_type") != "PRODUCT_ITEM":
        raise bad_param("item_type must be PRODUCT_ITEM")
    requests = req.param("requests")
    if not isinstance(requests, list) or not requests or len(requests) > MAX_REQUESTS:
        raise SimError(100, message="(#100) The parameter requests is required.")
    for i, r in enumerate(requests):
        data = r.get("data") if isinstance(r, dict) else None
        if not isinstance(r, dict) or r.get("method") not in ("CREATE", "UPDATE", "DELETE"):
            raise bad_param(f"requests[{i}].method must be CREATE, UPDATE or DELETE")
        if not isinstance(data, dict) or not data.get("id"):
            raise bad_param(f"requests[{i}].data.id (retailer id) is required")
    products = sim.world.products.setdefault(catalog_id, {})
    errors = []
    for i, r in enumerate(requests):
        data, method = r["data"], r["method"]
        message = _item_error(products, method, data)
        if message:
            errors.append({"line": i, "id": data["id"], "message": message})
        elif method == "DELETE":
            del products[str(data["id"])]
        elif method == "CREATE":
            products[str(data["id"])] = dict(data)
        else:
            products[str(data["id"])].update(data)
    handle = "AC" + sim.world.new_id(100000000000000)
    sim.world.batches[handle] = (catalog_id, len(errors))
    sim.world.batch_errors[handle] = errors
    return {"handles": [handle]}


def _batch_status(sim: Sim, req: GraphRequest, catalog_id: str) -> dict[str, Any]:
    handle = req.query.get("handle", "")
    if sim.world.batches.get(handle, ("", 0))[0] != catalog_id:
        raise bad_param(f"Unknown batch handle {handle!r}")
    errs = sim.world.batch_errors.get(handle, [])
    status = {"handle": handle, "status": "finished", "errors": errs, "warnings": []}
    return {"data": [{**status, "errors_total_count": len(errs)}]}


def catalog_edge(sim: Sim, req: GraphRequest, catalog_id: str, edge: str) -> dict[str, Any]:
    if req.method == "POST" and edge == "items_batch":
        return _items_batch(sim, req, catalog_id)
    if req.method == "GET" and edge == "check_batch_request_status":
        return _batch_status(sim, req, catalog_id)
    if req.method == "GET" and edge == "products":
        return _products(sim, req, catalog_id)
    raise unknown_object(req.method, f"{catalog_id}/{edge}")


def check_product_message(kind: str, c: dict[str, Any]) -> None:
    """Structure of a ``product`` / ``product_list`` interactive (131008 / 131009)."""
    action = c.get("action")
    if not isinstance(action, dict) or not isinstance(action.get("catalog_id"), str):
        raise SimError(131008, "The parameter interactive.action.catalog_id is required.")
    if kind == "product":
        if not isinstance(action.get("product_retailer_id"), str):
            raise SimError(131008, "The parameter action.product_retailer_id is required.")
        return
    header = c.get("header")
    if not isinstance(header, dict) or header.get("type") != "text":
        raise SimError(131008, "product_list needs a text header")
    if not isinstance(c.get("body"), dict):
        raise SimError(131008, "product_list needs a body")
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        raise SimError(131009, "product_list: 1 to 10 sections")
    total = 0
    for s in sections:
        items = s.get("product_items") if isinstance(s, dict) else None
        if not isinstance(items, list) or not items:
            raise SimError(131008, "every product_list section needs product_items")
        if not all(isinstance(i, dict) and i.get("product_retailer_id") for i in items):
            raise SimError(131008, "product_items[].product_retailer_id is required")
        total += len(items)
    if total > 30:
        raise SimError(131009, "product_list: at most 30 products")
