"""Control call ``catalog.send``: products from a catalog in a message to a contact."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.chip import Send, SendResult
from actors.core import ActorCrashed, ActorStopped, CallTimeout
from daemon.catalog.listings import retailer_id
from daemon.catalog.messages import products_message
from daemon.control.methods import INVALID_PARAMS, REFUSED, UNAVAILABLE, MethodError
from daemon.otp.service import SEND_TIMEOUT_S, send_report

if TYPE_CHECKING:
    from daemon.control.methods import ControlContext, Handler

__all__ = ["METHODS"]


async def catalog_send(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    """Send ``retailer_ids`` (or ``listing_ids``) of ``catalog`` to ``to`` via ``chip``."""
    chip, to = params.get("chip"), params.get("to")
    if not isinstance(chip, str) or not isinstance(to, str):
        raise MethodError(INVALID_PARAMS, "give chip and to")
    ids = [str(i) for i in params.get("retailer_ids") or []]
    ids += [retailer_id(str(i)) for i in params.get("listing_ids") or []]
    catalog = str(params.get("catalog") or ctx.cfg.catalog.id)
    if not catalog:
        raise MethodError(INVALID_PARAMS, "no catalog: give catalog or set [catalog] id")
    address = ctx.fleet.find_chip(chip)
    if address is None:
        raise MethodError(REFUSED, f"unknown chip {chip}")
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
