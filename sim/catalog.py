"""Catalogs on the simulated Meta side: products, ``items_batch``, batch status, checks
of ``product`` / ``product_list`` messages.

Why products are kept: a push is only tested if the other side remembers. CREATE of a
retailer id that exists, UPDATE or DELETE of one that does not, a bad price, or a CREATE
without the fields Meta requires fail *that item* (reported by
``check_batch_request_status``), while the request as a whole is accepted, as Meta does.
"""

from __future__ import annotations

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
        items = [{"retailer_id": k, **v} for k, v in sim.world.products.get(catalog_id, {}).items()]
        return {"data": items}
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
