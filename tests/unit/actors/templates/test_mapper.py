"""Filling template parameters from audience rows: Filled payloads or Missing, never ""."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from actors.templates.mapper import (
    FieldSpec,
    Filled,
    MappingConfig,
    MappingError,
    Missing,
    TemplateMapper,
    fill,
    normalise_text,
)
from actors.templates.schema import Slot, TemplateSchema

FIXTURES = Path(__file__).resolve().parents[5] / "shared" / "fixtures"


def _rows(name: str) -> list[dict[str, str]]:
    with (FIXTURES / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


DOCTORS = _rows("audience_doctors.csv")
SHIFTS = _rows("listings_shifts.csv")
NO_NAME = next(r for r in DOCTORS if r["crm"] == "77777/MG")  # empty primeiro_nome, especialidade
BRUNO = DOCTORS[0]


def _schema(*components: dict[str, Any], fmt: str = "POSITIONAL") -> TemplateSchema:
    return TemplateSchema.from_definition(
        {
            "name": "t",
            "language": "pt_BR",
            "category": "MARKETING",
            "parameter_format": fmt,
            "components": list(components),
        }
    )


BODY_POS = {"type": "BODY", "text": "Olá {{1}}, temos um plantão de {{2}} para você esta semana."}
BODY_NAMED = {"type": "BODY", "text": "Olá {{nome}}, temos um plantão de {{especialidade}} aqui."}
POSITIONAL = _schema(BODY_POS)
NAMED = _schema(BODY_NAMED, fmt="NAMED")


def _params(result: Filled) -> Iterator[Mapping[str, Any]]:
    for comp in result.components:
        yield from comp.get("parameters", [])
        for card in comp.get("cards", []):
            for cc in card["components"]:
                yield from cc["parameters"]


def _values(p: Mapping[str, Any]) -> list[str]:
    kind = p["type"]
    v = p[kind]
    if isinstance(v, dict):
        return [str(x) for x in v.values()]
    return [str(v)]


# --- the doctors audience --------------------------------------------------------------

# (id, schema, mapping, row, expected body parameters or Missing names)
AUDIENCE_CASES: list[tuple[str, TemplateSchema, MappingConfig, dict[str, str], Any]] = [
    (
        "positional_columns",
        POSITIONAL,
        {"1": "primeiro_nome", "2": "especialidade"},
        BRUNO,
        [{"type": "text", "text": "Bruno"}, {"type": "text", "text": "Pediatria"}],
    ),
    (
        "named_reads_own_columns",
        NAMED,
        {},
        BRUNO,
        [
            {"type": "text", "text": "Dr(a). Bruno Souza", "parameter_name": "nome"},
            {"type": "text", "text": "Pediatria", "parameter_name": "especialidade"},
        ],
    ),
    (
        "missing_fields_refused",
        POSITIONAL,
        {"1": "primeiro_nome", "2": "especialidade"},
        NO_NAME,
        ("1", "2"),
    ),
    (
        "alias_fills_first_name",
        POSITIONAL,
        {
            "1": {"column": "primeiro_nome", "aliases": ["nome"]},
            "2": "especialidade",
        },
        NO_NAME,
        ("2",),
    ),
    (
        "alias_and_default",
        POSITIONAL,
        {
            "1": {"column": "primeiro_nome", "aliases": ["nome"]},
            "2": {"column": "especialidade", "default": "sua especialidade"},
        },
        NO_NAME,
        [{"type": "text", "text": "Sem Nome"}, {"type": "text", "text": "sua especialidade"}],
    ),
    (
        "default_only_when_blank",
        POSITIONAL,
        {"1": "primeiro_nome", "2": {"column": "especialidade", "default": "sua área"}},
        BRUNO,
        [{"type": "text", "text": "Bruno"}, {"type": "text", "text": "Pediatria"}],
    ),
    (
        "named_missing_names",
        NAMED,
        {"nome": "primeiro_nome"},
        NO_NAME,
        ("nome", "especialidade"),
    ),
    (
        "unknown_column",
        POSITIONAL,
        {"1": "primeiro_nome", "2": "hospital"},
        BRUNO,
        ("2",),
    ),
    (
        "fieldspec_object",
        POSITIONAL,
        {"1": FieldSpec("primeiro_nome"), "2": FieldSpec("x", ("uf",))},
        BRUNO,
        [{"type": "text", "text": "Bruno"}, {"type": "text", "text": "BA"}],
    ),
]


@pytest.mark.parametrize(
    ("schema", "mapping", "row", "expected"),
    [pytest.param(*c[1:], id=c[0]) for c in AUDIENCE_CASES],
)
def test_audience_rows(
    schema: TemplateSchema, mapping: MappingConfig, row: dict[str, str], expected: Any
) -> None:
    result = fill(schema, row, mapping)
    if isinstance(expected, tuple):
        assert isinstance(result, Missing)
        assert result.names == expected
        for name in expected:
            assert f"{name}:" in result.reason
    else:
        assert result == Filled([{"type": "body", "parameters": expected}])


@pytest.mark.parametrize(
    ("mapping", "columns"),
    [
        pytest.param(
            {"1": "primeiro_nome", "2": "especialidade"},
            {"1": ("primeiro_nome",), "2": ("especialidade",)},
            id="strict",
        ),
        pytest.param(
            {"1": {"column": "primeiro_nome", "aliases": ["nome"]}, "2": "uf"},
            {"1": ("primeiro_nome", "nome"), "2": ("uf",)},
            id="alias",
        ),
        pytest.param(
            {"1": "nome", "2": {"column": "especialidade", "default": "—"}},
            {"1": ("nome",), "2": ()},
            id="default",
        ),
    ],
)
def test_whole_audience_never_empty(
    mapping: MappingConfig, columns: dict[str, tuple[str, ...]]
) -> None:
    """Every row is either filled with non-blank values or refused, naming the blank ones."""
    mapper = TemplateMapper(POSITIONAL, mapping)
    for row in DOCTORS:
        result = mapper.fill(row)
        blank = tuple(k for k, cols in columns.items() if cols and not any(row[c] for c in cols))
        if not blank:
            assert isinstance(result, Filled)
            params = list(_params(result))
            assert len(params) == 2
            for p in params:
                assert all(v.strip() for v in _values(p))
        else:
            assert isinstance(result, Missing)
            assert result.names == blank


def test_audience_refusal_counts() -> None:
    mapper = TemplateMapper(POSITIONAL, {"1": "primeiro_nome", "2": "especialidade"})
    results = [mapper.fill(r) for r in DOCTORS]
    missing = [r for r in results if isinstance(r, Missing)]
    assert [m.names for m in missing] == [("1", "2")]
    assert len(results) - len(missing) == len(DOCTORS) - 1


# --- normalisation and limits ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("  Ana  ", "Ana", id="strip"),
        pytest.param("Ana\nMaria", "Ana Maria", id="newline"),
        pytest.param("Ana\tMaria", "Ana Maria", id="tab"),
        pytest.param("Ana      Maria", "Ana Maria", id="five_spaces"),
        pytest.param("Ana\u00a0\r\n Maria", "Ana Maria", id="nbsp_crlf"),
        pytest.param(" \n\t ", "", id="blank"),
    ],
)
def test_normalise_text(raw: str, expected: str) -> None:
    assert normalise_text(raw) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("Ana\n\nMaria\t Souza", "Ana Maria Souza", id="collapsed"),
        pytest.param(2500, "2500", id="number_stringified"),
        pytest.param("x" * 1024, None, id="1024_fits_param_but_not_body"),
        pytest.param("x" * 1025, None, id="over_param_limit"),
        pytest.param("veja bit.ly/abc", None, id="shortener"),
        pytest.param("   ", None, id="blank_is_missing"),
        pytest.param(None, None, id="none_is_missing"),
        pytest.param({"a": 1}, None, id="object_refused"),
    ],
)
def test_text_values(value: object, expected: str | None) -> None:
    schema = _schema({"type": "BODY", "text": "Olá {{1}}, temos novidades para você hoje."})
    result = fill(schema, {"v": value}, {"1": "v"})
    if expected is None:
        assert isinstance(result, Missing)
        assert result.names == ("1",)
    else:
        assert result == Filled(
            [{"type": "body", "parameters": [{"type": "text", "text": expected}]}]
        )


def test_body_length_is_checked_rendered() -> None:
    text = "Olá {{1}}, temos novidades para você hoje."
    room = 1024 - len(text.replace("{{1}}", ""))
    schema = _schema({"type": "BODY", "text": text})
    assert isinstance(fill(schema, {"v": "x" * room}, {"1": "v"}), Filled)
    over = fill(schema, {"v": "x" * (room + 1)}, {"1": "v"})
    assert isinstance(over, Missing)
    assert "body would be longer than 1024" in over.reason


@pytest.mark.parametrize(
    ("value", "ok"),
    [("S" * 52, True), ("S" * 53, False)],
    ids=["header_60", "header_61"],
)
def test_header_text_length(value: str, ok: bool) -> None:
    schema = _schema(
        {"type": "HEADER", "format": "TEXT", "text": "Vaga em {{1}}"},
        {"type": "BODY", "text": "Temos uma vaga nova para você."},
    )
    result = fill(schema, {"uf": value}, {"header.1": "uf"})
    if ok:
        assert result == Filled(
            [{"type": "header", "parameters": [{"type": "text", "text": value}]}]
        )
    else:
        assert isinstance(result, Missing)
        assert result.names == ("header.1",)


# --- headers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "value", "expected"),
    [
        pytest.param(
            "IMAGE",
            "https://cdn.example.com/vagas/V1000.jpg",
            {"type": "image", "image": {"link": "https://cdn.example.com/vagas/V1000.jpg"}},
            id="image_link",
        ),
        pytest.param(
            "IMAGE", "1234567890", {"type": "image", "image": {"id": "1234567890"}}, id="image_id"
        ),
        pytest.param("VIDEO", "987", {"type": "video", "video": {"id": "987"}}, id="video_id"),
        pytest.param(
            "DOCUMENT",
            "http://docs.example.com/a.pdf",
            {"type": "document", "document": {"link": "http://docs.example.com/a.pdf"}},
            id="document_link",
        ),
        pytest.param(
            "LOCATION",
            "-23.5505, -46.6333",
            {"type": "location", "location": {"latitude": "-23.5505", "longitude": "-46.6333"}},
            id="location_string",
        ),
        pytest.param(
            "LOCATION",
            {"latitude": -8.05, "longitude": -34.9, "name": "UPA Centro"},
            {
                "type": "location",
                "location": {"latitude": "-8.05", "longitude": "-34.9", "name": "UPA Centro"},
            },
            id="location_object",
        ),
        pytest.param("IMAGE", "cdn.example.com/x.jpg", None, id="not_a_link"),
        pytest.param("IMAGE", "ftp://x/y.jpg", None, id="ftp"),
        pytest.param("IMAGE", "", None, id="blank"),
        pytest.param("LOCATION", "-23.5", None, id="one_coordinate"),
        pytest.param("LOCATION", "91,0", None, id="latitude_out_of_range"),
        pytest.param("LOCATION", "a,b", None, id="not_numbers"),
    ],
)
def test_header_media(fmt: str, value: object, expected: dict[str, Any] | None) -> None:
    schema = _schema(
        {"type": "HEADER", "format": fmt},
        {"type": "BODY", "text": "Temos uma vaga nova para você."},
    )
    result = fill(schema, {"midia": value}, {"header": "midia"})
    if expected is None:
        assert isinstance(result, Missing)
        assert result.names == ("header",)
    else:
        assert result == Filled([{"type": "header", "parameters": [expected]}])


# --- buttons -----------------------------------------------------------------------------

URL_BUTTON = {
    "type": "BUTTONS",
    "buttons": [
        {"type": "QUICK_REPLY", "text": "Quero"},
        {"type": "URL", "text": "Ver vaga", "url": "https://vagas.example.com/v/{{1}}"},
    ],
}


@pytest.mark.parametrize(
    ("mapping", "row", "expected"),
    [
        pytest.param(
            {"button.1": "vaga_id"},
            {"vaga_id": "V1000"},
            [
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "1",
                    "parameters": [{"type": "text", "text": "V1000"}],
                }
            ],
            id="url_suffix",
        ),
        pytest.param(
            {"button.1": "link"},
            {"link": "https://vagas.example.com/v/V1000"},
            [
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "1",
                    "parameters": [{"type": "text", "text": "V1000"}],
                }
            ],
            id="full_url_cut_to_suffix",
        ),
        pytest.param(
            {"button.0": "vaga_id", "button.1": "vaga_id"},
            {"vaga_id": "V1000"},
            [
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "V1000"}],
                },
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "1",
                    "parameters": [{"type": "text", "text": "V1000"}],
                },
            ],
            id="quick_reply_payload",
        ),
        pytest.param(
            {"button.0": "p", "button.1": "v"},
            {"p": "x" * 1025, "v": "V1"},
            ("button.0",),
            id="payload_too_long",
        ),
        pytest.param(
            {"button.1": "link"},
            {"link": "https://other.example.com/V1"},
            ("button.1",),
            id="foreign_full_url",
        ),
        pytest.param({"button.1": "v"}, {"v": "V 1000"}, ("button.1",), id="suffix_with_space"),
        pytest.param({"button.1": "v"}, {"v": "x" * 2000}, ("button.1",), id="url_too_long"),
        pytest.param({"button.1": "v"}, {}, ("button.1",), id="url_missing"),
        pytest.param(
            {"button.0": "p", "button.1": "v"},
            {"v": "V1"},
            [
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "1",
                    "parameters": [{"type": "text", "text": "V1"}],
                }
            ],
            id="optional_payload_omitted",
        ),
    ],
)
def test_url_and_quick_reply_buttons(
    mapping: MappingConfig, row: dict[str, str], expected: Any
) -> None:
    schema = _schema({"type": "BODY", "text": "Temos uma vaga nova para você."}, URL_BUTTON)
    result = fill(schema, row, mapping)
    if isinstance(expected, tuple):
        assert isinstance(result, Missing)
        assert result.names == expected
    else:
        assert result == Filled(expected)


@pytest.mark.parametrize(
    ("button", "value", "expected"),
    [
        pytest.param(
            {"type": "COPY_CODE", "example": "ABC"},
            "PLANTAO10",
            {
                "type": "button",
                "sub_type": "copy_code",
                "index": "0",
                "parameters": [{"type": "coupon_code", "coupon_code": "PLANTAO10"}],
            },
            id="copy_code",
        ),
        pytest.param({"type": "COPY_CODE"}, "X" * 16, None, id="copy_code_too_long"),
        pytest.param({"type": "COPY_CODE"}, "", None, id="copy_code_missing"),
        pytest.param(
            {"type": "FLOW", "text": "Inscrever", "flow_id": "1"},
            "tok-1",
            {
                "type": "button",
                "sub_type": "flow",
                "index": "0",
                "parameters": [{"type": "action", "action": {"flow_token": "tok-1"}}],
            },
            id="flow_token",
        ),
        pytest.param({"type": "FLOW", "text": "Inscrever", "flow_id": "1"}, "", (), id="flow_opt"),
        pytest.param(
            {"type": "PHONE_NUMBER", "text": "Ligar", "phone_number": "+551199"},
            "x",
            (),
            id="phone_takes_nothing",
        ),
    ],
)
def test_other_buttons(button: dict[str, Any], value: str, expected: Any) -> None:
    schema = _schema(
        {"type": "BODY", "text": "Temos uma vaga nova para você."},
        {"type": "BUTTONS", "buttons": [button]},
    )
    mapping: MappingConfig = {"button.0": "v"} if schema.names() else {}
    result = fill(schema, {"v": value}, mapping)
    if expected is None:
        assert isinstance(result, Missing)
        assert result.names == ("button.0",)
    elif expected == ():
        assert result == Filled([])
    else:
        assert result == Filled([expected])


def test_authentication_code_fills_body_and_button() -> None:
    schema = TemplateSchema.from_definition(
        {
            "name": "codigo",
            "category": "AUTHENTICATION",
            "components": [
                {"type": "BODY", "text": "*{{1}}* é seu código de verificação."},
                {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE"}]},
            ],
        }
    )
    result = fill(schema, {"codigo": "482913"}, {"1": "codigo", "button.0": "codigo"})
    assert result == Filled(
        [
            {"type": "body", "parameters": [{"type": "text", "text": "482913"}]},
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [{"type": "text", "text": "482913"}],
            },
        ]
    )
    too_long = fill(schema, {"c": "1" * 16}, {"1": "c", "button.0": "c"})
    assert isinstance(too_long, Missing)
    assert too_long.names == ("button.0",)


# --- positional vs named shapes (cloud-api.md 2) ------------------------------------------


def test_named_header_and_body_carry_parameter_name() -> None:
    schema = _schema(
        {"type": "HEADER", "format": "TEXT", "text": "Plantão de {{especialidade}}"},
        BODY_NAMED,
        fmt="NAMED",
    )
    result = fill(schema, BRUNO)
    assert result == Filled(
        [
            {
                "type": "header",
                "parameters": [
                    {"type": "text", "text": "Pediatria", "parameter_name": "especialidade"}
                ],
            },
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Dr(a). Bruno Souza", "parameter_name": "nome"},
                    {"type": "text", "text": "Pediatria", "parameter_name": "especialidade"},
                ],
            },
        ]
    )


def test_positional_parameters_in_number_order() -> None:
    schema = _schema({"type": "BODY", "text": "Em {{2}} há vaga para {{1}}, confira os detalhes."})
    result = fill(schema, BRUNO, {"1": "primeiro_nome", "2": "uf"})
    assert result == Filled(
        [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Bruno"}, {"type": "text", "text": "BA"}],
            }
        ]
    )
    assert isinstance(result, Filled)
    assert all("parameter_name" not in p for p in _params(result))


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param({"primeiro_nome": "Bruno"}, "Bruno", id="alias_primeiro_nome"),
        pytest.param({"name": "Bruno"}, "Bruno", id="alias_name"),
        pytest.param({"nome": "Dr. Bruno", "primeiro_nome": "Bruno"}, "Dr. Bruno", id="nome_wins"),
        pytest.param({"nome": " ", "primeiro_nome": "Bruno"}, "Bruno", id="blank_skipped"),
    ],
)
def test_default_aliases_for_unmapped_named_slots(row: dict[str, str], expected: str) -> None:
    schema = _schema(
        {"type": "BODY", "text": "Olá {{nome}}, temos novidades para você."}, fmt="NAMED"
    )
    assert fill(schema, row) == Filled(
        [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": expected, "parameter_name": "nome"}],
            }
        ]
    )


def test_template_without_parameters_fills_nothing() -> None:
    schema = _schema({"type": "BODY", "text": "Olá, tudo bem?"})
    assert fill(schema, {}) == Filled([])


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


# --- config errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "card_mapping", "message"),
    [
        pytest.param({"3": "nome"}, None, "no slots", id="unknown_slot"),
        pytest.param(None, {"header": "x"}, "carousel cards have no slots", id="no_cards"),
        pytest.param({"1": {"column": "nome", "default": " "}}, None, "blank", id="blank_default"),
        pytest.param({"1": {"column": ""}}, None, "column", id="empty_column"),
        pytest.param({"1": {"column": "a", "aliases": "b"}}, None, "aliases", id="aliases_str"),
        pytest.param({"1": {"column": "a", "aliasses": []}}, None, "unknown keys", id="typo_key"),
        pytest.param({"1": 3}, None, "column name", id="not_a_spec"),
    ],
)
def test_mapping_errors(
    mapping: MappingConfig | None, card_mapping: MappingConfig | None, message: str
) -> None:
    with pytest.raises(MappingError, match=message):
        TemplateMapper(POSITIONAL, mapping, card_mapping)


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("Olá {{1}}, temos um plantão em {{2}}.", {"1": "Ana", "2": "UTI"}),
        ("Olá {{1}}, {{ 1 }} de novo e {{2}}", {"1": "Bruno"}),
        ("Sem variáveis", {"1": "x"}),
        ("{{nome}}{{data}}{{nome}}", {"nome": "", "data": "12/03"}),
        ("https://example.com/p/{{1}}", {"1": "abc/def?x=1"}),
        ("{{1}} {{2}} {{3}}", {}),
    ],
)
def test_measured_source_agrees_with_rendering(text: str, values: dict[str, str]) -> None:
    """The length worked out once per template text is the rendered text's length."""
    from actors.templates.mapper import _render, _source

    assert _source(text).rendered_len(values) == len(_render(text, values))


def test_one_mapper_for_a_whole_audience_agrees_with_a_fresh_one_per_row() -> None:
    """What TemplateMapper prepares once gives byte-identical sends, in any order."""
    import json

    header = {"type": "HEADER", "format": "TEXT", "text": "Vaga em {{1}}"}
    body = {"type": "BODY", "text": "Olá {{1}}, plantão de {{2}} em {{3}}; {{1}}, aceita?"}
    buttons = {
        "type": "BUTTONS",
        "buttons": [
            {"type": "URL", "text": "Ver", "url": "https://example.com/v/{{1}}"},
            {"type": "QUICK_REPLY", "text": "Sim"},
        ],
    }
    schema = _schema(header, body, buttons)
    mapping: MappingConfig = {
        "header.1": "uf",
        "1": {"column": "primeiro_nome", "aliases": ["nome"]},
        "2": "especialidade",
        "3": {"column": "hospital", "default": "nosso hospital"},
        "button.0": "crm",
        "button.1": "crm",
    }
    mapper = TemplateMapper(schema, mapping)
    rows = [*DOCTORS, {"primeiro_nome": "x" * 1100}, {"primeiro_nome": " \t "}]
    fresh = [json.dumps(_as_json(fill(schema, r, mapping)), ensure_ascii=False) for r in rows]
    for order in (rows, rows[::-1]):
        cached = [json.dumps(_as_json(mapper.fill(r)), ensure_ascii=False) for r in order]
        expect = fresh if order is rows else fresh[::-1]
        assert cached == expect
    assert any('"type": "body"' in s for s in fresh)
    assert any('"names"' in s for s in fresh)


def _as_json(result: Filled | Missing) -> dict[str, Any]:
    if isinstance(result, Filled):
        return {"components": result.components}
    return {"names": list(result.names), "reason": result.reason}


# --- what TemplateMapper compiles once per template + mapping --------------------------------


def _url_schema(prefix: str) -> TemplateSchema:
    return _schema(
        {"type": "BODY", "text": "Temos uma vaga nova para você."},
        {
            "type": "BUTTONS",
            "buttons": [{"type": "URL", "text": "Ver", "url": prefix + "{{1}}"}],
        },
    )


def test_a_compiled_mapper_keeps_its_own_templates_url_prefix() -> None:
    """Each slot's builder carries the prefix of its own button URL: two templates with
    the same slot key but different URLs cut (or refuse) the same value differently."""
    row = {"v": "https://a.example.com/v/V1"}
    a = TemplateMapper(_url_schema("https://a.example.com/v/"), {"button.0": "v"})
    b = TemplateMapper(_url_schema("https://b.example.com/w/"), {"button.0": "v"})
    assert a.fill(row) == Filled(
        [
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [{"type": "text", "text": "V1"}],
            }
        ]
    )
    missing = b.fill(row)
    assert isinstance(missing, Missing)
    assert missing.names == ("button.0",)
    assert "not a whole URL" in missing.reason


def test_sends_from_one_mapper_share_no_component() -> None:
    """The button component's fixed part is compiled once; each send gets its own copy
    (the chip adds to what it is handed)."""
    mapper = TemplateMapper(_url_schema("https://a.example.com/v/"), {"button.0": "v"})
    first = mapper.fill({"v": "V1"})
    assert isinstance(first, Filled)
    first.components[0]["sub_type"] = "changed"
    first.components[0]["parameters"].append({"type": "text", "text": "extra"})
    second = mapper.fill({"v": "V2"})
    assert second == Filled(
        [
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [{"type": "text", "text": "V2"}],
            }
        ]
    )


def test_a_length_problem_names_the_first_filled_slot_of_its_text() -> None:
    """The body's first slot may be left out (optional here): the rendered-length
    problem goes to the first slot that was filled, per recipient."""
    text = "{{1}} {{2}}"
    schema = TemplateSchema(
        name="t",
        language="pt_BR",
        category="MARKETING",
        parameter_format="positional",
        slots=(
            Slot(key="1", component="body", type="text", required=False, position=1, source=text),
            Slot(key="2", component="body", type="text", required=True, position=2, source=text),
        ),
    )
    mapper = TemplateMapper(schema, {"1": "a", "2": "b"})
    missing = mapper.fill({"b": "x" * 1024})
    assert isinstance(missing, Missing)
    assert missing.names == ("2",)
    missing = mapper.fill({"a": "y", "b": "x" * 1024})
    assert isinstance(missing, Missing)
    assert missing.names == ("1",)
