"""``push_listings`` against a catalog that lost products metad remembers pushing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, cast

from daemon.catalog.listings import Listing, Planned, Pushed
from daemon.catalog.push import PushReport, push_listings
from daemon.graph.resources import BatchStatus, CatalogItemRequest
from tests.unit.daemon.catalog.fakes import listing

CATALOG, WABA = "300000000000001", "100000000000001"


class _Meta:
    """Meta's side as the simulator plays it: UPDATE of an unknown product fails, and so
    does CREATE of a known one, or without an image."""

    def __init__(self) -> None:
        self.products: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, list[dict[str, Any]]] = {}
        self.sent: list[list[tuple[str, str]]] = []

    async def items_batch(
        self, catalog_id: str, requests: Sequence[CatalogItemRequest], *, waba_id: str
    ) -> list[str]:
        errors = []
        self.sent.append([(r.method, str(r.data.id)) for r in requests])
        for line, r in enumerate(requests):
            data = r.data.model_dump(exclude_none=True)
            rid = str(data["id"])
            if r.method == "CREATE" and rid in self.products:
                errors.append({"line": line, "id": rid, "message": f"{rid} already exists"})
            elif r.method == "CREATE" and "image_link" not in data:
                message = "missing required fields: image_link"
                errors.append({"line": line, "id": rid, "message": message})
            elif r.method == "UPDATE" and rid not in self.products:
                message = f"no product with retailer id {rid}"
                errors.append({"line": line, "id": rid, "message": message})
            else:
                self.products.setdefault(rid, {}).update(data)
        handle = f"h{len(self.batches)}"
        self.batches[handle] = errors
        return [handle]

    async def batch_status(self, catalog_id: str, handle: str, *, waba_id: str) -> BatchStatus:
        return BatchStatus(handle=handle, status="finished", errors=self.batches[handle])


class _Repo:
    def __init__(self) -> None:
        self.rows: dict[str, Pushed] = {}

    async def pushed(self, catalog_id: str) -> dict[str, Pushed]:
        return dict(self.rows)

    async def save(self, catalog_id: str, done: Iterable[Planned]) -> None:
        for p in done:
            self.rows[p.retailer_id] = Pushed(p.listing_id, p.fingerprint, p.availability)

    async def forget(self, catalog_id: str, retailer_ids: Iterable[str]) -> None:
        for rid in retailer_ids:
            del self.rows[rid]


async def _push(meta: _Meta, repo: _Repo, listings: Sequence[Listing]) -> PushReport:
    return await push_listings(
        cast(Any, meta),
        cast(Any, repo),
        listings,
        catalog_id=CATALOG,
        waba_id=WABA,
        currency="BRL",
        link_base="https://example.com/vagas/",
    )


async def test_an_open_listing_whose_product_meta_lost_is_created_again() -> None:
    meta, repo = _Meta(), _Repo()
    await _push(meta, repo, [listing("V1"), listing("V2")])
    meta.products.clear()  # deleted in Commerce Manager, or the simulator restarted

    report = await _push(meta, repo, [listing("V1", "1900.00"), listing("V2")])
    assert (report.created, report.updated, report.errors) == (["shift_V1"], [], [])
    assert meta.sent[-2:] == [[("UPDATE", "shift_V1")], [("CREATE", "shift_V1")]]
    assert meta.products["shift_V1"]["price"] == "1900.00 BRL"
    assert meta.products["shift_V1"]["availability"] == "in stock"

    # Stored as pushed: the next push of the same file sends nothing.
    again = await _push(meta, repo, [listing("V1", "1900.00"), listing("V2")])
    assert (again.handles, again.errors, again.unchanged) == ([], [], 2)


async def test_a_closed_or_gone_listing_whose_product_meta_lost_is_forgotten() -> None:
    meta, repo = _Meta(), _Repo()
    await _push(meta, repo, [listing("V1"), listing("V2")])
    meta.products.clear()

    report = await _push(meta, repo, [listing("V1", is_open=False)])  # V2 left the file
    assert (report.created, report.out_of_stock, report.errors) == ([], [], [])
    assert sorted(report.forgotten) == ["shift_V1", "shift_V2"]
    assert repo.rows == {}
    assert meta.products == {}
    assert report.as_dict()["forgotten"] == report.forgotten

    again = await _push(meta, repo, [listing("V1", is_open=False)])
    assert (again.handles, again.errors) == ([], [])


async def test_other_item_errors_are_reported_and_not_retried() -> None:
    meta, repo = _Meta(), _Repo()
    report = await _push(meta, repo, [replace(listing("V1"), image_url="")])
    assert [(e.method, e.retailer_id, e.message) for e in report.errors] == [
        ("CREATE", "shift_V1", "missing required fields: image_link")
    ]
    assert len(meta.sent) == 1
    assert repo.rows == {}


async def test_a_create_of_a_product_meta_already_has_is_sent_as_an_update() -> None:
    meta, repo = _Meta(), _Repo()
    # Made by another tool (or pushed by a metad whose memory was lost): Meta has it.
    meta.products["shift_V1"] = {"id": "shift_V1", "price": "900.00 BRL"}
    report = await _push(meta, repo, [listing("V1"), listing("V2")])
    assert report.errors == []
    assert meta.sent == [
        [("CREATE", "shift_V1"), ("CREATE", "shift_V2")],
        [("UPDATE", "shift_V1")],
    ]
    assert (report.created, report.updated, report.existing) == (
        ["shift_V2"],
        ["shift_V1"],
        ["shift_V1"],
    )
    assert meta.products["shift_V1"]["price"] == "1800.00 BRL"
    assert set(repo.rows) == {"shift_V1", "shift_V2"}
    assert report.as_dict()["existing"] == ["shift_V1"]

    # Remembered: the next push repeats no error, and sends nothing.
    again = await _push(meta, repo, [listing("V1"), listing("V2")])
    assert (again.handles, again.errors, again.unchanged) == ([], [], 2)
    changed = await _push(meta, repo, [listing("V1", "1950.00"), listing("V2")])
    assert meta.sent[-1] == [("UPDATE", "shift_V1")]
    assert (changed.updated, changed.errors) == (["shift_V1"], [])


class _Fickle(_Meta):
    """A Meta that says "already exists" to a CREATE and "no product" to its UPDATE."""

    async def items_batch(
        self, catalog_id: str, requests: Sequence[CatalogItemRequest], *, waba_id: str
    ) -> list[str]:
        self.sent.append([(r.method, str(r.data.id)) for r in requests])
        errors = []
        for line, r in enumerate(requests):
            word = "already exists" if r.method == "CREATE" else "no product with retailer id"
            errors.append({"line": line, "id": r.data.id, "message": f"{r.data.id}: {word}"})
        handle = f"h{len(self.batches)}"
        self.batches[handle] = errors
        return [handle]


async def test_a_second_try_is_never_tried_a_third_time() -> None:
    meta, repo = _Fickle(), _Repo()
    report = await _push(meta, repo, [listing("V1")])
    assert meta.sent == [[("CREATE", "shift_V1")], [("UPDATE", "shift_V1")]]
    assert [(e.method, e.retailer_id) for e in report.errors] == [("UPDATE", "shift_V1")]
    assert (report.existing, report.forgotten, repo.rows) == ([], [], {})
