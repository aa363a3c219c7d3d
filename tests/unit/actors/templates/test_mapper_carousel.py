"""Filling a carousel from listings rows (listings_shifts.csv): one card per row, each
card's slots filled or the whole send refused, naming the card and slot.
"""

from __future__ import annotations

import pytest

from actors.templates.mapper import Filled, MappingConfig, Missing, fill
from tests.unit.actors.templates.mapper_builders import BRUNO, POSITIONAL, SHIFTS, schema as _schema

# --- carousels from listings_shifts.csv ---------------------------------------------------

CARD = {
    "components": [
        {"type": "HEADER", "format": "IMAGE"},
        {"type": "BODY", "text": "Plantão no {{1}} em {{2}}, R$ {{3}}."},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Quero"},
                {"type": "URL", "text": "Ver", "url": "https://vagas.example.com/v/{{1}}"},
            ],
        },
    ]
}
CAROUSEL = _schema(
    {"type": "BODY", "text": "Vagas da semana para você, {{1}}."},
    {"type": "CAROUSEL", "cards": [CARD, CARD, CARD]},
)
CARD_MAPPING: MappingConfig = {
    "header": "imagem_url",
    "1": "hospital",
    "2": "data",
    "3": "valor_brl",
    "button.0": "vaga_id",
    "button.1": "vaga_id",
}
OPEN_SHIFTS = [s for s in SHIFTS if s["status"] == "aberta"]


def test_carousel_from_shifts() -> None:
    cards = OPEN_SHIFTS[:3]
    result = fill(CAROUSEL, BRUNO, {"1": "primeiro_nome"}, cards=cards, card_mapping=CARD_MAPPING)
    assert isinstance(result, Filled)
    body, carousel = result.components
    assert body == {"type": "body", "parameters": [{"type": "text", "text": "Bruno"}]}
    assert carousel["type"] == "carousel"
    assert [c["card_index"] for c in carousel["cards"]] == [0, 1, 2]
    first = carousel["cards"][0]["components"]
    shift = cards[0]
    assert first == [
        {
            "type": "header",
            "parameters": [{"type": "image", "image": {"link": shift["imagem_url"]}}],
        },
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": shift["hospital"]},
                {"type": "text", "text": shift["data"]},
                {"type": "text", "text": shift["valor_brl"]},
            ],
        },
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": "0",
            "parameters": [{"type": "payload", "payload": shift["vaga_id"]}],
        },
        {
            "type": "button",
            "sub_type": "url",
            "index": "1",
            "parameters": [{"type": "text", "text": shift["vaga_id"]}],
        },
    ]


@pytest.mark.parametrize(
    ("cards", "names"),
    [
        pytest.param(OPEN_SHIFTS[:2], ("cards",), id="too_few_cards"),
        pytest.param(OPEN_SHIFTS[:4], ("cards",), id="too_many_cards"),
        pytest.param(
            [OPEN_SHIFTS[0], {**OPEN_SHIFTS[1], "imagem_url": ""}, OPEN_SHIFTS[2]],
            ("card.1.header",),
            id="card_without_image",
        ),
        pytest.param(
            [OPEN_SHIFTS[0], OPEN_SHIFTS[1], {**OPEN_SHIFTS[2], "hospital": "H" * 200}],
            ("card.2.1",),
            id="card_body_over_160",
        ),
    ],
)
def test_carousel_refusals(cards: list[dict[str, str]], names: tuple[str, ...]) -> None:
    result = fill(CAROUSEL, BRUNO, {"1": "primeiro_nome"}, cards=cards, card_mapping=CARD_MAPPING)
    assert isinstance(result, Missing)
    assert result.names == names


def test_cards_for_a_plain_template_is_a_bug() -> None:
    with pytest.raises(ValueError, match="not a carousel"):
        fill(POSITIONAL, BRUNO, {"1": "nome", "2": "uf"}, cards=[{}])
