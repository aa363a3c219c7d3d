"""Listings (open shifts) as catalog products, and what a push must change. Pure.

Why each rule (behaviour.md 7.20 and 15.5 #28 list what the old sync got wrong):

- retailer id: the listing's own id, slugged (``shift_V1002``); when slugging loses
  information a short hash of the raw id is appended, so two listings never share one
  (the old "first 8 characters of a UUID" collided);
- price: Meta's ``"1800.00 BRL"`` text, not milli-units; only a finite number of at
  least zero is a price (``NaN``, ``Infinity``, ``-50`` or ``1e400`` are errors of the
  row, not a crash when the item is built or a product Meta refuses);
- status: one of the known open or closed words; anything else is an error of the row
  (a typo must not close a shift);
- a product is CREATEd the first time and UPDATEd after (UPDATE never creates); when
  Meta no longer has it (deleted in Commerce Manager, a restarted simulator) the UPDATE
  of an open listing is sent again as a CREATE (:func:`recreate`); when Meta already has
  a product metad meant to CREATE (made by another tool, or metad's memory of it lost)
  the CREATE is sent again as an UPDATE (:func:`adopt`);
- a closed listing, or one that disappeared from the file, is pushed ``out of stock``;
- nothing unchanged is pushed again (a fingerprint of the item is kept per product).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "CLOSED",
    "IN_STOCK",
    "OPEN",
    "OPTIONAL_COLUMNS",
    "OUT_OF_STOCK",
    "REQUIRED_COLUMNS",
    "SECOND_TRIES",
    "Listing",
    "Planned",
    "Pushed",
    "adopt",
    "fingerprint",
    "parse_listings",
    "plan",
    "recreate",
    "retailer_id",
    "to_item",
]

_SLUG = re.compile(r"[^A-Za-z0-9_-]+")
OPEN = ("aberta", "aberto", "open", "in stock", "disponivel", "disponível")
CLOSED = (
    "fechada",
    "fechado",
    "closed",
    "out of stock",
    "encerrada",
    "encerrado",
    "preenchida",
    "preenchido",
    "cancelada",
    "cancelado",
    "indisponivel",
    "indisponível",
)
"""The ``status`` words (compared lower-cased); ``aberta``/``fechada`` in the shifts export."""
IN_STOCK, OUT_OF_STOCK = "in stock", "out of stock"
REQUIRED_COLUMNS = ("vaga_id", "hospital", "especialidade", "data", "valor_brl", "status")
OPTIONAL_COLUMNS = ("inicio", "fim", "imagem_url", "cidade", "uf")
"""``imagem_url`` is optional in the file, but Meta creates no product without an image."""
_CENT = Decimal("0.01")
_BOM = "\ufeff"


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
    """``new``, ``changed``, ``closed``, ``gone``, ``recreated``, ``existing`` (for the
    report; the last two mark a second try, see :data:`SECOND_TRIES`), or ``missing`` /
    ``differs`` (a resync)."""


SECOND_TRIES = ("recreated", "existing")
"""Reasons of a request that replaces a failed one: it is never replaced again, so a
catalog that keeps changing under a push cannot make it go CREATE, UPDATE, CREATE…"""


def parse_listings(text: str) -> tuple[list[Listing], list[str]]:
    """Listings from CSV text (the shifts export's columns); bad rows as ``line N: …``.

    A leading byte-order mark (Excel's "CSV UTF-8") is dropped, or the first column
    would carry the mark in its name and be reported missing.
    """
    reader = csv.DictReader(io.StringIO(text.removeprefix(_BOM)))
    problem = _columns_problem(reader.fieldnames)
    if problem:
        return [], [f"line 1: {problem}"]
    listings: list[Listing] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for row in reader:
        n = reader.line_num  # the row's (last) line: right across blank lines
        get = {k: (v or "").strip() for k, v in row.items() if k is not None}
        parsed = _listing(get, seen)
        if isinstance(parsed, Listing):
            seen[parsed.id] = n
            listings.append(parsed)
        else:
            errors += [f"line {n}: {p}" for p in parsed]
    return listings, errors


def _columns_problem(fieldnames: Sequence[str] | None) -> str:
    """Which required columns are missing, with what the file has: a file made for
    something else (a campaign's listings) is told apart from a typo at a glance."""
    have = list(fieldnames or [])
    missing = [c for c in REQUIRED_COLUMNS if c not in have]
    if not missing:
        return ""
    return (
        f"missing columns {', '.join(missing)} (a listings file needs"
        f" {', '.join(REQUIRED_COLUMNS)}; this one has {', '.join(have) or 'no header'})"
    )


def _listing(get: Mapping[str, str], seen: Mapping[str, int]) -> Listing | list[str]:
    """The row as a listing, or every problem it has (so one pass fixes the row)."""
    problems: list[str] = []
    listing_id = get["vaga_id"]
    if not listing_id:
        problems.append("vaga_id: empty")
    elif listing_id in seen:
        problems.append(f'vaga_id: "{listing_id}" appears twice (line {seen[listing_id]})')
    price = _price(get["valor_brl"])
    if price is None:
        problems.append(
            f'valor_brl: "{get["valor_brl"]}" is not a valid price'
            " (a number of at least 0, like 1800.00)"
        )
    is_open = _is_open(get["status"])
    if is_open is None:
        problems.append(
            f'status: "{get["status"]}" is not one of {", ".join(OPEN)} (open)'
            f" or {', '.join(CLOSED)} (closed)"
        )
    if problems or price is None or is_open is None:
        return problems
    return Listing(
        id=listing_id,
        hospital=get["hospital"],
        specialty=get["especialidade"],
        date=get["data"],
        start=get.get("inicio", ""),
        end=get.get("fim", ""),
        price=price,
        image_url=get.get("imagem_url", ""),
        city=get.get("cidade", ""),
        state=get.get("uf", ""),
        open=is_open,
    )


def _price(raw: str) -> Decimal | None:
    """The price in cents, or None unless it is a finite number of at least zero.

    Why so strict: ``Decimal`` reads ``NaN``, ``Infinity`` and ``1e400`` as numbers, but
    Meta takes none of them (nor a negative price), and ``1e400`` cannot even be rounded
    to cents; such a row is the file's error, reported like any other bad row.
    """
    try:
        value = Decimal(raw.replace(",", "."))
        if not value.is_finite() or value.is_signed():
            return None
        return value.quantize(_CENT)
    except InvalidOperation:
        return None


def _is_open(raw: str) -> bool | None:
    """True for an open status word, False for a closed one, None for anything else."""
    word = raw.lower()
    if word in OPEN:
        return True
    return False if word in CLOSED else None


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


def recreate(p: Planned) -> Planned | None:
    """The CREATE that replaces ``p``, an UPDATE of a product Meta no longer has.

    Only an open listing's UPDATE carries the whole item (an UPDATE is planned from the
    listing, and it says ``in stock``), so only it can be created again. A closed or gone
    listing gives None: a missing product needs no ``out of stock``, and the caller
    forgets it instead of sending that UPDATE again on every push.
    """
    if p.method != "UPDATE" or p.availability != IN_STOCK:
        return None
    return replace(p, method="CREATE", reason="recreated")


def adopt(p: Planned) -> Planned | None:
    """The UPDATE that replaces ``p``, a CREATE of a product Meta already has.

    Why an UPDATE and not an error: the retailer id is the listing's own, so the product
    is this listing's (created by another tool, or pushed by a metad whose memory of it
    was lost); a CREATE would fail on every push, forever. A CREATE carries the whole
    item, so the UPDATE makes Meta's product what the file says, and once done it is
    remembered like any push. None for anything but a first-try CREATE.
    """
    if p.method != "CREATE" or p.reason in SECOND_TRIES:
        return None
    return replace(p, method="UPDATE", reason="existing")
