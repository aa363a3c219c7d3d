"""What a resync must send: listings against the products Meta *has*, not against what
metad remembers pushing. Pure.

Why a resync exists: a normal push (:func:`~daemon.catalog.listings.plan`) sends only
the listings that changed since metad's last push, so a product that vanished on Meta's
side (deleted in Commerce Manager, a restored catalog) while its listing stayed the same
is never noticed. A resync reads the catalog (``GET /{catalog_id}/products``) and plans:

- an open listing Meta has no product for: CREATE (``missing``);
- a listing whose product differs from what the file says, in any field metad pushes:
  UPDATE with the whole item (``differs``, or ``closed`` when it goes out of stock);
- a listing whose product is as the file says: nothing sent, but remembered, so the
  next push neither CREATEs it (Meta would answer "already exists") nor UPDATEs it;
- a product metad remembers pushing whose listing left the file: ``out of stock`` if
  Meta shows it in stock (``gone``), forgotten if Meta no longer has it;
- a product metad never pushed whose retailer id no listing has: left alone (the
  catalog may hold products of other tools).

Meta reads a product back under other names than ``items_batch`` writes it (``name``,
``url``, ``image_url``) and formats its price (``R$1,800.00`` with ``currency``), so
prices are compared by their digits and currency, the rest as stripped text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from daemon.catalog.listings import (
    IN_STOCK,
    OUT_OF_STOCK,
    Listing,
    Planned,
    Pushed,
    fingerprint,
    to_item,
)

__all__ = ["READ_FIELDS", "ResyncPlan", "differences", "plan_resync"]

READ_FIELDS = (
    "retailer_id",
    "name",
    "description",
    "availability",
    "condition",
    "price",
    "currency",
    "url",
    "image_url",
    "brand",
)
"""The product fields a resync asks Meta for: the retailer id and all metad pushes."""

_READ_NAME = {"title": "name", "link": "url", "image_link": "image_url"}
"""An ``items_batch`` field → the name Meta reads it back under."""
_CURRENCY = re.compile(r"\b[A-Z]{3}\b")
_GONE = "gone"


@dataclass(slots=True)
class ResyncPlan:
    send: list[Planned] = field(default_factory=list)
    """The requests that bring Meta's catalog to the file."""
    remember: list[Planned] = field(default_factory=list)
    """Products Meta has as the file says: stored as pushed, not sent."""
    forget: list[str] = field(default_factory=list)
    """Remembered products Meta no longer has and no open listing needs."""
    unchanged: int = 0
    """Listings whose product needs nothing sent."""


def _remote_value(product: Mapping[str, Any], name: str) -> Any:
    """``name`` (an items_batch field) from a product as Meta reads it back."""
    value = product.get(_READ_NAME.get(name, name))
    return product.get(name) if value is None else value


def _cents(price: str) -> str:
    """The digits of a price, leading zeros dropped: ``1800.00 BRL`` and ``R$1,800.00``
    (or ``R$1.800,00``) both give ``180000``."""
    return re.sub(r"\D", "", price).lstrip("0") or "0"


def _same_price(ours: str, product: Mapping[str, Any]) -> bool:
    theirs = product.get("price")
    if theirs is None:
        return False
    amount, _, currency = ours.partition(" ")
    if _cents(amount) != _cents(str(theirs)):
        return False
    shown = product.get("currency") or next(iter(_CURRENCY.findall(str(theirs))), None)
    return shown is None or str(shown) == currency


def differences(item: Mapping[str, Any], product: Mapping[str, Any]) -> list[str]:
    """The ``items_batch`` fields of ``item`` that Meta's ``product`` does not show as
    ``item`` has them (a field Meta does not show counts as different)."""
    out: list[str] = []
    for name, value in item.items():
        if name == "id":
            continue
        if name == "price":
            same = _same_price(str(value), product)
        else:
            theirs = _remote_value(product, name)
            same = theirs is not None and str(theirs).strip() == str(value).strip()
        if not same:
            out.append(name)
    return out


def plan_resync(
    listings: Iterable[Listing],
    remote: Mapping[str, Mapping[str, Any]],
    pushed: Mapping[str, Pushed],
    *,
    currency: str,
    link_base: str,
) -> ResyncPlan:
    """The resync of ``listings`` against ``remote`` (Meta's products by retailer id)."""
    out = ResyncPlan()
    present: set[str] = set()
    for x in listings:
        item = to_item(x, currency=currency, link_base=link_base)
        rid, fp, availability = item["id"], fingerprint(item), item["availability"]
        present.add(rid)
        product = remote.get(rid)
        if product is None:
            if x.open:
                out.send.append(Planned("CREATE", rid, x.id, item, fp, IN_STOCK, "missing"))
                continue
            if rid in pushed:  # closed, and Meta has no product: nothing to mark
                out.forget.append(rid)
        elif differences(item, product):
            closing = not x.open and _remote_value(product, "availability") == IN_STOCK
            reason = "closed" if closing else "differs"
            out.send.append(Planned("UPDATE", rid, x.id, item, fp, availability, reason))
            continue
        elif (known := pushed.get(rid)) is None or known.fingerprint != fp:
            out.remember.append(Planned("UPDATE", rid, x.id, item, fp, availability, "matches"))
        out.unchanged += 1
    for rid, known in sorted(pushed.items()):
        if rid not in present:
            _plan_gone(out, rid, known, remote.get(rid))
    return out


def _plan_gone(out: ResyncPlan, rid: str, known: Pushed, product: Mapping[str, Any] | None) -> None:
    """A product metad pushed whose listing left the file: out of stock on Meta."""
    if product is None:
        out.forget.append(rid)
        return
    data = {"id": rid, "availability": OUT_OF_STOCK}
    gone = Planned("UPDATE", rid, known.listing_id, data, _GONE, OUT_OF_STOCK, "gone")
    if _remote_value(product, "availability") != OUT_OF_STOCK:
        out.send.append(gone)
    elif known.availability != OUT_OF_STOCK or known.fingerprint != _GONE:
        out.remember.append(gone)
