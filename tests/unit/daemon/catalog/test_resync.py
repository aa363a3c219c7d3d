"""A resync's plan: listings against the products Meta has, in Meta's read shape."""

from __future__ import annotations

from typing import Any, cast

import pytest

from daemon.catalog.listings import Listing, Pushed, fingerprint, to_item
from daemon.catalog.remote import fetch_products
from daemon.catalog.resync import differences, plan_resync
from daemon.graph.errors import GraphError
from tests.unit.daemon.catalog.fakes import listing

CURRENCY, LINK = "BRL", "https://example.com/vagas/"


def _item(x: Listing) -> dict[str, Any]:
    return to_item(x, currency=CURRENCY, link_base=LINK)


def _as_meta_reads(x: Listing) -> dict[str, Any]:
    """The product of ``x`` as ``GET /{catalog}/products`` shows it (read names, a
    formatted price and its currency)."""
    item = _item(x)
    return {
        "id": "7001",
        "retailer_id": item["id"],
        "name": item["title"],
        "description": item["description"],
        "availability": item["availability"],
        "condition": "new",
        "price": f"R${x.price:,.2f}",
        "currency": "BRL",
        "url": item["link"],
        "image_url": item["image_link"],
        "brand": item["brand"],
    }


def _pushed(x: Listing) -> Pushed:
    item = _item(x)
    return Pushed(x.id, fingerprint(item), item["availability"])


def _plan(
    listings: list[Listing], remote: dict[str, Any], pushed: dict[str, Pushed] | None = None
) -> Any:
    return plan_resync(listings, remote, pushed or {}, currency=CURRENCY, link_base=LINK)


def test_a_product_as_meta_reads_it_back_shows_no_difference() -> None:
    x = listing("V1", "12345.60")
    assert differences(_item(x), _as_meta_reads(x)) == []
    assert differences(_item(x), {**_as_meta_reads(x), "price": "R$12.345,60"}) == []
    assert differences(_item(x), {**_as_meta_reads(x), "price": "12345.60 BRL"}) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": "R$1,900.00"}, "price"),
        ({"currency": "USD"}, "price"),
        ({"availability": "out of stock"}, "availability"),
        ({"name": "Plantão Outro"}, "title"),
        ({"url": "https://elsewhere/"}, "link"),
        ({"image_url": None}, "image_link"),
    ],
)
def test_each_field_metad_pushes_is_compared(change: dict[str, Any], field: str) -> None:
    x = listing("V1")
    assert differences(_item(x), {**_as_meta_reads(x), **change}) == [field]


def test_missing_products_are_created_and_differing_ones_updated_even_if_unchanged() -> None:
    v1, v2, v3 = listing("V1"), listing("V2"), listing("V3")
    remembered = {f"shift_{x.id}": _pushed(x) for x in (v1, v2, v3)}
    remote = {
        "shift_V2": {**_as_meta_reads(v2), "price": "R$900.00"},  # edited on Meta's side
        "shift_V3": _as_meta_reads(v3),
    }  # V1 vanished on Meta's side; its listing did not change
    plan = _plan([v1, v2, v3], remote, remembered)
    assert [(p.method, p.retailer_id, p.reason) for p in plan.send] == [
        ("CREATE", "shift_V1", "missing"),
        ("UPDATE", "shift_V2", "differs"),
    ]
    assert plan.send[1].data == _item(v2)  # the whole item, not only the price
    assert (plan.remember, plan.forget, plan.unchanged) == ([], [], 1)


def test_products_meta_has_as_the_file_says_are_remembered_not_sent() -> None:
    v1 = listing("V1")
    plan = _plan([v1], {"shift_V1": _as_meta_reads(v1)})  # metad remembers nothing
    assert plan.send == []
    (p,) = plan.remember
    assert (p.retailer_id, p.fingerprint, p.availability) == (
        "shift_V1",
        fingerprint(_item(v1)),
        "in stock",
    )
    assert plan.unchanged == 1


def test_a_closed_listing_goes_out_of_stock_or_is_forgotten_when_meta_lost_it() -> None:
    v1, v2 = listing("V1", is_open=False), listing("V2", is_open=False)
    remote = {"shift_V1": _as_meta_reads(listing("V1"))}  # in stock on Meta
    plan = _plan([v1, v2], remote, {"shift_V2": _pushed(listing("V2"))})
    assert [(p.method, p.retailer_id, p.availability, p.reason) for p in plan.send] == [
        ("UPDATE", "shift_V1", "out of stock", "closed")
    ]
    assert plan.forget == ["shift_V2"]


def test_gone_listings_and_products_of_other_tools() -> None:
    v1, v2, v3 = listing("V1"), listing("V2"), listing("V3")
    remembered = {f"shift_{x.id}": _pushed(x) for x in (v1, v2, v3)}
    remote = {
        "shift_V1": _as_meta_reads(v1),  # gone from the file, in stock on Meta
        "shift_V2": {**_as_meta_reads(v2), "availability": "out of stock"},
        "other_tool_product": {"retailer_id": "other_tool_product", "name": "Outro"},
    }  # V3 gone from the file and from Meta
    plan = _plan([], remote, remembered)
    assert [(p.retailer_id, p.data, p.reason) for p in plan.send] == [
        ("shift_V1", {"id": "shift_V1", "availability": "out of stock"}, "gone")
    ]
    assert [(p.retailer_id, p.availability) for p in plan.remember] == [
        ("shift_V2", "out of stock")
    ]
    assert plan.forget == ["shift_V3"]


class _Pages:
    """``GET /{catalog}/products`` in pages of two, as Graph pages with cursors."""

    def __init__(self, n: int) -> None:
        self.items = [{"retailer_id": f"shift_V{i}", "id": str(i)} for i in range(n)]
        self.params: list[dict[str, Any]] = []

    async def call(self, method: str, path: str, *, owner: str, params: Any) -> Any:
        self.params.append(dict(params))
        start = int(params.get("after", 0))
        chunk = self.items[start : start + 2]
        paging: dict[str, Any] = {"cursors": {"after": str(start + 2)}}
        if start + 2 < len(self.items):
            paging["next"] = f"https://graph/{path}?after={start + 2}"
        return {"data": chunk, "paging": paging}


async def test_every_page_is_read_and_progress_is_told() -> None:
    api, lines = _Pages(5), list[str]()
    products = await fetch_products(
        cast(Any, api), "300", waba_id="100", page_size=2, progress=lines.append
    )
    assert list(products) == [f"shift_V{i}" for i in range(5)]
    assert [p.get("after") for p in api.params] == [None, "2", "4"]
    assert api.params[0]["fields"].split(",")[:2] == ["retailer_id", "name"]
    assert lines[-1] == "read 5 products of catalog 300"


async def test_a_page_of_the_wrong_shape_is_a_graph_error() -> None:
    class _Odd:
        async def call(self, *args: Any, **kwargs: Any) -> Any:
            return {"data": [{"id": "1"}]}  # no retailer_id

    with pytest.raises(GraphError, match="retailer_id"):
        await fetch_products(cast(Any, _Odd()), "300", waba_id="100")
