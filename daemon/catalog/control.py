"""Control call ``catalog.send``: products from a catalog in a message to a contact.

Why listing ids are looked up in ``catalog_items`` rather than turned into retailer ids
by rule: the store knows which listings ``metad catalog push`` put in that catalog, so a
mistyped or never-pushed listing is refused here with its id, instead of a product
message Meta answers with an error (or shows as a missing product). ``retailer_ids``
are sent as given: a catalog may hold products metad did not push.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from actors.chip import Send, SendResult
from actors.core import ActorCrashed, ActorStopped, CallTimeout
from daemon.catalog.messages import products_message
from daemon.control.methods import INVALID_PARAMS, REFUSED, UNAVAILABLE, MethodError
from daemon.otp.service import SEND_TIMEOUT_S, send_report
from daemon.store.catalog import CatalogRepository

if TYPE_CHECKING:
    from daemon.control.methods import ControlContext, Handler
    from daemon.store.connection import Queries

__all__ = ["METHODS"]


def _strings(params: Mapping[str, Any], key: str) -> list[str]:
    """``params[key]`` as a list of ids; a string is refused, not split into characters."""
    value = params.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(i, str) and i for i in value):
        raise MethodError(INVALID_PARAMS, f"{key} must be a list of strings")
    return value


async def _pushed_products(db: Queries, catalog: str, listing_ids: Sequence[str]) -> list[str]:
    """The retailer ids metad pushed for ``listing_ids`` to ``catalog``; unknown ones are
    refused, all named at once."""
    if not listing_ids:
        return []
    pushed = await CatalogRepository(db).pushed(catalog)
    by_listing = {p.listing_id: rid for rid, p in pushed.items()}
    unknown = [i for i in listing_ids if i not in by_listing]
    if unknown:
        raise MethodError(
            REFUSED,
            f"unknown listing ids {', '.join(unknown)}: not pushed to catalog {catalog}"
            " (metad catalog push)",
        )
    return [by_listing[i] for i in listing_ids]


async def catalog_send(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    """Send ``retailer_ids`` (or ``listing_ids``) of ``catalog`` to ``to`` via ``chip``."""
    chip, to = params.get("chip"), params.get("to")
    if not isinstance(chip, str) or not isinstance(to, str):
        raise MethodError(INVALID_PARAMS, "give chip and to")
    retailer_ids, listing_ids = _strings(params, "retailer_ids"), _strings(params, "listing_ids")
    catalog = str(params.get("catalog") or ctx.cfg.catalog.id)
    if not catalog:
        raise MethodError(INVALID_PARAMS, "no catalog: give catalog or set [catalog] id")
    address = ctx.fleet.find_chip(chip)
    if address is None:
        raise MethodError(REFUSED, f"unknown chip {chip}")
    ids = retailer_ids + await _pushed_products(ctx.store, catalog, listing_ids)
    try:
        content = products_message(
            catalog,
            ids,
            header=str(params.get("header") or "Plantões"),
            body=str(params.get("body") or "Veja os plantões abertos para você."),
        )
        result: SendResult = await address.call(
            lambda r: Send(to=to, content=content, reply=r), timeout=SEND_TIMEOUT_S
        )
    except ValueError as exc:
        raise MethodError(INVALID_PARAMS, str(exc)) from None
    except (ActorCrashed, ActorStopped, CallTimeout) as exc:
        raise MethodError(UNAVAILABLE, str(exc)) from None
    return {**send_report(result).as_dict(), "products": ids}


METHODS: dict[str, Handler] = {"catalog.send": catalog_send}
