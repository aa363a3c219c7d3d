"""Listings (open shifts) as catalog products, and what a push must change. Pure.

Why each rule (behaviour.md 7.20 and 15.5 #28 list what the old sync got wrong):

- retailer id: the listing's own id, slugged (``shift_V1002``); when slugging loses
  information a short hash of the raw id is appended, so two listings never share one
  (the old "first 8 characters of a UUID" collided);
- price: Meta's ``"1800.00 BRL"`` text, not milli-units;
- a product is CREATEd the first time and UPDATEd after (UPDATE never creates);
- a closed listing, or one that disappeared from the file, is pushed ``out of stock``;
- nothing unchanged is pushed again (a fingerprint of the item is kept per product).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "Listing",
    "Planned",
    "Pushed",
    "fingerprint",
    "parse_listings",
    "plan",
    "retailer_id",
    "to_item",
]

_SLUG = re.compile(r"[^A-Za-z0-9_-]+")
OPEN = frozenset({"aberta", "open", "in stock", "disponivel", "disponível"})
IN_STOCK, OUT_OF_STOCK = "in stock", "out of stock"
_REQUIRED = ("vaga_id", "hospital", "especialidade", "data", "valor_brl", "status")


@dataclass(frozen=True, slots=True)
class Listing:
    id: str
    hospital: str
    specialty: str
    date: str
    start: str
    end: str
    price: Decimal
    image_url: str
    city: str = ""
    state: str = ""
    open: bool = True


@dataclass(frozen=True, slots=True)
class Pushed:
    """What the catalog holds for one product, as metad last pushed it."""

    listing_id: str
    fingerprint: str
    availability: str


@dataclass(frozen=True, slots=True)
class Planned:
    """One ``items_batch`` request and what storing it means once Meta took it."""

    method: str
    retailer_id: str
    listing_id: str
    data: Mapping[str, Any]
    fingerprint: str
    availability: str
    reason: str = field(default="", compare=False)
    """``new``, ``changed``, ``closed`` or ``gone`` (for the report)."""


def parse_listings(text: str) -> tuple[list[Listing], list[str]]:
    """Listings from CSV text (the shifts fixture's columns); bad rows as ``line N: …``."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        return [], [f"line 1: missing columns {', '.join(missing)}"]
    listings: list[Listing] = []
    errors: list[str] = []
    seen: set[str] = set()
    for n, row in enumerate(reader, start=2):
        get = {k: (v or "").strip() for k, v in row.items() if k is not None}
        try:
            price = Decimal(get["valor_brl"].replace(",", "."))
        except InvalidOperation:
            errors.append(f"line {n}: valor_brl {get['valor_brl']!r} is not a number")
            continue
        if not get["vaga_id"]:
            errors.append(f"line {n}: vaga_id is empty")
            continue
        if get["vaga_id"] in seen:
            errors.append(f"line {n}: vaga_id {get['vaga_id']} appears twice")
            continue
        seen.add(get["vaga_id"])
        listings.append(
            Listing(
                id=get["vaga_id"],
                hospital=get["hospital"],
                specialty=get["especialidade"],
                date=get["data"],
                start=get.get("inicio", ""),
                end=get.get("fim", ""),
                price=price,
                image_url=get.get("imagem_url", ""),
                city=get.get("cidade", ""),
                state=get.get("uf", ""),
                open=get["status"].lower() in OPEN,
            )
        )
    return listings, errors


def retailer_id(listing_id: str) -> str:
    """A stable retailer id derived from the listing's id (at most 100 characters)."""
    slug = _SLUG.sub("-", listing_id.strip()).strip("-")[:80]
    base = f"shift_{slug}"
    if slug == listing_id.strip() and slug:
        return base
    digest = hashlib.sha256(listing_id.encode()).hexdigest()[:8]
    return f"{base}_{digest}" if slug else f"shift_{digest}"


def _title(x: Listing) -> str:
    return f"Plantão {x.specialty} – {x.hospital}".strip(" –")[:150]


def _description(x: Listing) -> str:
    hours = f"{x.start}–{x.end}" if x.start and x.end else (x.start or "")
    place = ", ".join(p for p in (x.city, x.state) if p)
    parts = [f"Data: {x.date}", f"Horário: {hours}" if hours else "", place]
    return " | ".join(p for p in parts if p)[:5000] or "Plantão médico"


def to_item(x: Listing, *, currency: str, link_base: str) -> dict[str, Any]:
    """The ``data`` of an items_batch request for ``x`` (id = retailer id)."""
    item: dict[str, Any] = {
        "id": retailer_id(x.id),
        "title": _title(x),
        "description": _description(x),
        "availability": IN_STOCK if x.open else OUT_OF_STOCK,
        "condition": "new",
        "price": f"{x.price.quantize(Decimal('0.01'))} {currency}",
        "link": f"{link_base}{x.id}",
        "brand": x.hospital[:100] or "Plantão",
    }
    if x.image_url:
        item["image_link"] = x.image_url
    return item


def fingerprint(item: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()[:32]


def plan(
    listings: Iterable[Listing],
    pushed: Mapping[str, Pushed],
    *,
    currency: str,
    link_base: str,
) -> list[Planned]:
    """The requests that bring the catalog to ``listings``; none when nothing changed."""
    out: list[Planned] = []
    present: set[str] = set()
    for x in listings:
        item = to_item(x, currency=currency, link_base=link_base)
        rid = item["id"]
        present.add(rid)
        fp = fingerprint(item)
        known = pushed.get(rid)
        if known is None:
            if x.open:  # a closed shift nobody ever saw needs no product
                out.append(Planned("CREATE", rid, x.id, item, fp, IN_STOCK, "new"))
        elif known.fingerprint != fp:
            reason = "closed" if not x.open and known.availability == IN_STOCK else "changed"
            out.append(Planned("UPDATE", rid, x.id, item, fp, item["availability"], reason))
    for rid, known in sorted(pushed.items()):
        if rid not in present and known.availability == IN_STOCK:
            data = {"id": rid, "availability": OUT_OF_STOCK}
            out.append(Planned("UPDATE", rid, known.listing_id, data, "gone", OUT_OF_STOCK, "gone"))
    return out
