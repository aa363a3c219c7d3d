"""Filling template parameters from audience rows: Filled payloads or Missing, never "".

The doctors audience through positional and named templates (columns, aliases, defaults,
refusals naming every blank slot), and the two parameter shapes of cloud-api.md 2.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from actors.templates.mapper import FieldSpec, Filled, MappingConfig, Missing, TemplateMapper, fill
from actors.templates.schema import TemplateSchema
from tests.unit.actors.templates.mapper_builders import (
    BRUNO,
    DOCTORS,
    POSITIONAL,
    schema as _schema,
)

NO_NAME = next(r for r in DOCTORS if r["crm"] == "77777/MG")  # empty primeiro_nome, especialidade
BODY_NAMED = {"type": "BODY", "text": "Olá {{nome}}, temos um plantão de {{especialidade}} aqui."}
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
