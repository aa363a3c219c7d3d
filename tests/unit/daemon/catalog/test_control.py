"""``catalog.send``: ids are lists of strings; listing ids must be ones metad pushed."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from actors.chip import Send
from actors.chip.messages import Sent
from daemon.bus import Bus
from daemon.control.methods import (
    INVALID_PARAMS,
    METHODS,
    REFUSED,
    ControlContext,
    MethodError,
)

CATALOG, CHIP, CONTACT = "300000000000001", "200000000000001", "5511987654321"


class _Store:
    """``catalog_items`` holding V1 and V2 (V2 pushed with a hashed retailer id)."""

    async def fetch(self, sql: str, *args: object) -> list[dict[str, str]]:
        assert "catalog_items" in sql
        assert args == (CATALOG,)
        return [
            {
                "retailer_id": "shift_V1",
                "listing_id": "V1",
                "fingerprint": "f",
                "availability": "in stock",
            },
            {
                "retailer_id": "shift_V2_ab",
                "listing_id": "V2",
                "fingerprint": "f",
                "availability": "in stock",
            },
        ]


class _Chip:
    def __init__(self) -> None:
        self.sent: list[Send] = []

    async def call(self, build: Any, timeout: float) -> Sent:
        msg = build(None)
        self.sent.append(msg)
        return Sent(outbox_id=1, wamid="wamid.1", method="free_form")


@pytest.fixture
def chip() -> _Chip:
    return _Chip()


def _ctx(chip: _Chip) -> ControlContext:
    cfg = SimpleNamespace(catalog=SimpleNamespace(id=CATALOG))
    fleet = SimpleNamespace(find_chip=lambda name: chip if name == CHIP else None)
    return ControlContext(
        cfg=cast(Any, cfg), fleet=cast(Any, fleet), store=cast(Any, _Store()), bus=Bus()
    )


async def _send(chip: _Chip, **params: Any) -> dict[str, Any]:
    answer: dict[str, Any] = await METHODS["catalog.send"](
        _ctx(chip), {"chip": CHIP, "to": CONTACT, **params}
    )
    return answer


@pytest.mark.parametrize("key", ["listing_ids", "retailer_ids"])
@pytest.mark.parametrize("value", ["V1", ["V1", 2], [""], {"V1": 1}])
async def test_ids_that_are_not_a_list_of_strings_are_invalid(
    chip: _Chip, key: str, value: Any
) -> None:
    with pytest.raises(MethodError) as caught:
        await _send(chip, **{key: value})
    assert (caught.value.code, str(caught.value)) == (
        INVALID_PARAMS,
        f"{key} must be a list of strings",
    )
    assert chip.sent == []


async def test_listing_ids_metad_never_pushed_to_the_catalog_are_refused_by_name(
    chip: _Chip,
) -> None:
    with pytest.raises(MethodError) as caught:
        await _send(chip, listing_ids=["V1", "V9", "X"])
    assert (caught.value.code, str(caught.value)) == (
        REFUSED,
        f"unknown listing ids V9, X: not pushed to catalog {CATALOG} (metad catalog push)",
    )
    assert chip.sent == []


async def test_listing_ids_are_sent_as_the_products_pushed_for_them(chip: _Chip) -> None:
    answer = await _send(chip, listing_ids=["V2", "V1"], retailer_ids=["other_product"])
    assert answer["result"] == "sent"
    assert answer["products"] == ["other_product", "shift_V2_ab", "shift_V1"]
    (send,) = chip.sent
    assert send.content is not None
    items = send.content["interactive"]["action"]["sections"][0]["product_items"]
    assert [i["product_retailer_id"] for i in items] == answer["products"]
