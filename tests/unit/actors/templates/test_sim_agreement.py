"""The linter and the mapper agree with the simulator where both model the same rule.

The simulator's review (sim/templates.py ``review``) and send check (``check_send``) are
what the end-to-end tests run against; a definition the linter passes must be approved
there, one it rejects must have an error here, and every Filled payload must be accepted.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from actors.templates.lint import has_errors, lint
from actors.templates.mapper import Filled, MappingConfig, fill
from actors.templates.schema import SendShape, TemplateSchema
from sim.errors import SimError
from sim.templates import TemplateRec, check_send, review, seed_templates
from tests.unit.actors.templates import (
    test_auth_rules,
    test_carousel_rules,
    test_component_rules,
    test_lint,
    test_variable_rules,
)
from tests.unit.actors.templates.test_lint import GOOD

FIXTURES = Path(__file__).resolve().parents[5] / "shared" / "fixtures"

BAD = [
    *test_lint.BAD,
    *test_variable_rules.BAD,
    *test_component_rules.BAD,
    *test_auth_rules.BAD,
    *test_carousel_rules.BAD,
]
"""The linter's bad rows: the top level's and every rule family's."""

# Where the simulator is knowingly simpler than Meta (reported, not hidden):
# - it requires body text even for AUTHENTICATION, whose creation payload has none;
# - it finds its marketing words anywhere ("compre" in "compreender", "sale" in
#   "Salesforce").
SIM_SIMPLER = {
    "auth_copy_code",
    "auth_one_tap",
    "auth_zero_tap",
    "utility_compreender_is_not_compre",
    "utility_salesforce_is_not_sale",
}
SIM_SIMPLER |= {c[0] for c in BAD if c[0].startswith("auth")}


def _rec(defn: dict[str, Any]) -> TemplateRec:
    return TemplateRec(
        id="1",
        waba_id="w",
        name=str(defn.get("name")),
        language=str(defn.get("language")),
        category=str(defn.get("category")),
        components=[c for c in defn.get("components") or [] if isinstance(c, dict)],
        parameter_format=str(defn.get("parameter_format", "positional")).lower(),
        status="PENDING",
    )


CASES = [(i, d) for i, d in GOOD] + [(c[0], c[1]) for c in BAD]


@pytest.mark.parametrize("defn", [pytest.param(d, id=i) for i, d in CASES if i not in SIM_SIMPLER])
def test_review_agrees(defn: dict[str, Any]) -> None:
    findings = lint(defn)
    status, _reason, recategorised = review(_rec(defn))
    if not has_errors(findings):
        assert status == "APPROVED"
    if status == "REJECTED":
        assert has_errors(findings)
    if recategorised == "MARKETING" and not has_errors(findings):
        assert any("MARKETING" in f.message for f in findings)


def _doctor() -> dict[str, str]:
    with (FIXTURES / "audience_doctors.csv").open(newline="", encoding="utf-8") as fh:
        return next(csv.DictReader(fh))


def _shifts() -> list[dict[str, str]]:
    with (FIXTURES / "listings_shifts.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


SEEDS = {r.name: r for r in seed_templates("w", lambda _base: "1", 0.0)}
EXTRA = {
    "header_image": TemplateRec(
        "2",
        "w",
        "header_image",
        "pt_BR",
        "MARKETING",
        [
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Nova vaga de {{1}} para você, {{2}}."},
            {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "A"}]},
        ],
    ),
    "header_text": TemplateRec(
        "3",
        "w",
        "header_text",
        "pt_BR",
        "UTILITY",
        [
            {"type": "HEADER", "format": "TEXT", "text": "Plantão em {{1}}"},
            {"type": "BODY", "text": "Confirme seu plantão de amanhã, {{1}}."},
        ],
    ),
}

# (template, mapping, card mapping, cards?)
SENDS: list[tuple[str, MappingConfig, MappingConfig | None, bool]] = [
    ("hello_world", {}, None, False),
    ("vaga_plantao", {"1": "primeiro_nome", "2": "especialidade", "button.0": "crm"}, None, False),
    ("lembrete_plantao", {"data": "uf", "button.0": "uf"}, None, False),
    ("codigo_verificacao", {"1": "uf", "button.0": "uf"}, None, False),
    ("carrossel_vagas", {"1": "primeiro_nome"}, {"header": "imagem_url", "1": "hospital"}, True),
    (
        "header_image",
        {"header": "foto", "1": "especialidade", "2": "nome", "button.0": "uf"},
        None,
        False,
    ),
    ("header_text", {"header.1": "uf", "1": "primeiro_nome"}, None, False),
]


@pytest.mark.parametrize(
    ("name", "mapping", "card_mapping", "with_cards"), SENDS, ids=[s[0] for s in SENDS]
)
def test_filled_payload_accepted(
    name: str, mapping: MappingConfig, card_mapping: MappingConfig | None, with_cards: bool
) -> None:
    rec = SEEDS.get(name) or EXTRA[name]
    schema = TemplateSchema.from_definition(rec.graph())
    row = {**_doctor(), "foto": "https://cdn.example.com/f.jpg"}
    cards = _shifts()[: schema.card_count] if with_cards else []
    result = fill(schema, row, mapping, cards=cards, card_mapping=card_mapping)
    assert isinstance(result, Filled), result
    check_send(rec, {"name": name, "components": result.components})
    # The chip's own check before calling Meta lets every filled payload through.
    assert SendShape.of(schema).problem(result.components) is None


def _body(*texts: str) -> dict[str, Any]:
    return {"type": "body", "parameters": [{"type": "text", "text": t} for t in texts]}


def _button(index: int, *texts: str) -> dict[str, Any]:
    params = [{"type": "text", "text": t} for t in texts]
    return {"type": "button", "sub_type": "url", "index": str(index), "parameters": params}


_IMAGE = {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x/y"}}]}
_VIDEO = {"type": "header", "parameters": [{"type": "video", "video": {"link": "https://x/y"}}]}
_COUPON = {
    "type": "button",
    "sub_type": "copy_code",
    "index": 0,
    "parameters": [{"type": "coupon_code", "coupon_code": "A"}],
}

# (template, components): sends the simulator refuses with a parameter error (132000,
# 132012) that the chip's check catches before calling it.
REFUSED_SENDS: list[tuple[str, str, list[dict[str, Any]]]] = [
    ("too-few-body", "vaga_plantao", [_body("Ana")]),
    ("too-many-body", "vaga_plantao", [_body("Ana", "SP", "x")]),
    ("no-body", "vaga_plantao", []),
    ("body-on-a-fixed-template", "hello_world", [_body("x")]),
    (
        "named-wrong-name",
        "lembrete_plantao",
        [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Ana", "parameter_name": "nome"},
                    {"type": "text", "text": "1/12", "parameter_name": "dia"},
                ],
            },
            _button(0, "V1"),
        ],
    ),
    (
        "url-button-missing",
        "lembrete_plantao",
        [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Ana", "parameter_name": "nome"},
                    {"type": "text", "text": "1/12", "parameter_name": "data"},
                ],
            },
        ],
    ),
    ("otp-button-missing", "codigo_verificacao", [_body("123456")]),
    ("otp-button-empty", "codigo_verificacao", [_body("123456"), _button(0)]),
    ("header-missing", "header_image", [_body("a", "b"), _COUPON]),
    ("header-wrong-media", "header_image", [_VIDEO, _body("a", "b"), _COUPON]),
    ("header-text-missing", "header_text", [_body("Ana")]),
    (
        "header-on-a-fixed-header",
        "vaga_plantao",
        [
            {"type": "header", "parameters": [{"type": "text", "text": "x"}]},
            _body("Ana", "SP"),
        ],
    ),
    ("cards-missing", "carrossel_vagas", [_body("Ana")]),
    (
        "one-card-short",
        "carrossel_vagas",
        [
            _body("Ana"),
            {
                "type": "carousel",
                "cards": [
                    {"card_index": 0, "components": [_IMAGE, _body("H1")]},
                    {"card_index": 1, "components": [_IMAGE]},
                ],
            },
        ],
    ),
]


@pytest.mark.parametrize(
    ("name", "components"), [pytest.param(n, c, id=i) for i, n, c in REFUSED_SENDS]
)
def test_the_chips_check_refuses_what_the_simulator_refuses(
    name: str, components: list[dict[str, Any]]
) -> None:
    rec = SEEDS.get(name) or EXTRA[name]
    with pytest.raises(SimError) as refused:
        check_send(rec, {"name": name, "components": components})
    assert refused.value.code in (132000, 132012)
    assert SendShape.of(TemplateSchema.from_definition(rec.graph())).problem(components)
