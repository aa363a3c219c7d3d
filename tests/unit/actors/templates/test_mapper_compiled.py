"""What TemplateMapper checks and prepares once per template + mapping.

A bad mapping is a MappingError when the mapper is built, not a refusal per row; what
it compiles once (measured texts, URL prefixes, fixed component parts) gives the same
sends as filling each row afresh, and no send shares a component with another.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.templates.mapper import (
    Filled,
    MappingConfig,
    MappingError,
    Missing,
    TemplateMapper,
    fill,
)
from actors.templates.schema import Slot, TemplateSchema
from tests.unit.actors.templates.mapper_builders import DOCTORS, POSITIONAL, schema as _schema

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
