"""Reading a listings file: which rows are errors of the file, before anything is pushed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from daemon.catalog.listings import parse_listings, to_item

REPO = Path(__file__).parents[4]
HEADER = "vaga_id,hospital,especialidade,data,valor_brl,status"
KNOWN = (
    "aberta, aberto, open, in stock, disponivel, disponível (open) or fechada, fechado,"
    " closed, out of stock, encerrada, encerrado, preenchida, preenchido, cancelada,"
    " cancelado, indisponivel, indisponível (closed)"
)


def _one(row: str) -> tuple[list[Decimal], list[str]]:
    listings, problems = parse_listings(f"{HEADER}\n{row}\n")
    return [x.price for x in listings], problems


@pytest.mark.parametrize("price", ["Infinity", "-Infinity", "inf", "NaN", "sNaN", "1e400", "-50"])
def test_a_price_that_is_not_a_finite_amount_of_at_least_zero_is_an_error_of_its_row(
    price: str,
) -> None:
    prices, problems = _one(f"V1,H,Pediatria,2026-12-01,{price},aberta")
    assert prices == []
    assert problems == [
        f'line 2: valor_brl: "{price}" is not a valid price (a number of at least 0, like 1800.00)'
    ]


def test_a_valid_price_is_kept_in_cents_and_the_item_can_be_built() -> None:
    listings, problems = parse_listings(f'{HEADER}\nV1,H,P,2026-12-01,"1800,5",aberta\n')
    assert problems == []
    assert listings[0].price == Decimal("1800.50")
    assert to_item(listings[0], currency="BRL", link_base="x/")["price"] == "1800.50 BRL"
    assert _one("V1,H,P,2026-12-01,0,aberta") == ([Decimal("0.00")], [])


def test_a_mistyped_status_is_an_error_naming_the_known_words() -> None:
    prices, problems = _one("V1,H,P,2026-12-01,1800.00,abrta")
    assert prices == []
    assert problems == [f'line 2: status: "abrta" is not one of {KNOWN}']


@pytest.mark.parametrize(
    ("word", "is_open"), [("Aberta", True), ("fechada", False), ("CLOSED", False)]
)
def test_the_known_status_words_open_or_close_a_listing(word: str, is_open: bool) -> None:
    listings, problems = parse_listings(f"{HEADER}\nV1,H,P,2026-12-01,1800.00,{word}\n")
    assert problems == []
    assert listings[0].open is is_open


def test_every_problem_of_a_row_is_reported_at_its_line() -> None:
    text = f"{HEADER}\nV1,H,P,d,1,aberta\n\nV1,H,P,d,x,talvez\n"
    _, problems = parse_listings(text)
    assert problems == [
        'line 4: vaga_id: "V1" appears twice (line 2)',
        'line 4: valor_brl: "x" is not a valid price (a number of at least 0, like 1800.00)',
        f'line 4: status: "talvez" is not one of {KNOWN}',
    ]


def test_a_file_with_a_byte_order_mark_is_read() -> None:
    listings, problems = parse_listings(f"\ufeff{HEADER}\nV1,H,P,2026-12-01,1800.00,aberta\n")
    assert problems == []
    assert [x.id for x in listings] == ["V1"]


def test_the_shifts_export_is_read() -> None:
    text = (REPO.parent / "shared" / "fixtures" / "listings_shifts.csv").read_text("utf-8")
    listings, problems = parse_listings(text)
    assert problems == []
    assert len(listings) == 14


def test_the_carousel_campaign_listings_are_refused_naming_what_is_needed_and_there() -> None:
    """demo_shifts.csv feeds demo_carousel.toml's cards; it has no specialty column (no
    alias could supply one), so the error says what a listings file needs."""
    text = (REPO / "campaigns" / "demo_shifts.csv").read_text("utf-8")
    assert parse_listings(text) == (
        [],
        [
            "line 1: missing columns especialidade (a listings file needs vaga_id, hospital,"
            " especialidade, data, valor_brl, status; this one has vaga_id, hospital, cidade,"
            " data, valor_brl, imagem_url, status)"
        ],
    )
