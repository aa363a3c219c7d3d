"""The template linter: one row per rule, the good form and the bad one.

The top level (name, language, category, components), the category hints and files
here; the rows of each rule family in test_variable_rules.py, test_component_rules.py,
test_auth_rules.py and test_carousel_rules.py (builders in lint_builders.py).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from actors.templates.lint import (
    Finding,
    format_findings,
    has_errors,
    lint,
    lint_file,
    load_definition,
)
from tests.unit.actors.templates.lint_builders import (
    APPS,
    AUTH_BODY,
    AUTH_FOOTER,
    OTP_COPY,
    auth,
    bad_templates,
    body,
    buttons,
    card,
    carousel,
    header_media,
    header_text,
    named_body,
    phone,
    qr,
    tpl,
    url,
)

GOOD: list[tuple[str, dict[str, Any]]] = [
    ("positional_marketing", tpl()),
    (
        "named_utility",
        tpl(
            named_body(
                "Oi {{nome}}, seu plantão é em {{data}}. Até lá e bom trabalho!",
                nome="Ana",
                data="01/12",
            ),
            parameter_format="NAMED",
            category="UTILITY",
            name="lembrete_plantao",
        ),
    ),
    (
        "full_marketing",
        tpl(
            header_text(),
            body(),
            {"type": "FOOTER", "text": "Responda SAIR para não receber"},
            buttons(qr(), qr("Não quero"), url(), phone()),
        ),
    ),
    ("image_header", tpl(header_media(), body())),
    ("location_header", tpl(header_media("LOCATION", None), body())),
    ("no_variables", tpl(body("Temos novidades para você."))),
    ("variable_wrapped_in_punctuation", tpl(body("*{{1}}* é a sua vaga de hoje, confirme agora."))),
    ("exactly_three_words_per_variable", tpl(body("Oi {{1}} tudo bem?"))),
    ("copy_code", tpl(body(), buttons({"type": "COPY_CODE", "example": "PLANTAO10"}))),
    ("flow", tpl(body(), buttons({"type": "FLOW", "text": "Inscrever", "flow_id": "1"}))),
    ("quick_replies_after_cta", tpl(body(), buttons(url(), qr(), qr("Não")))),
    (
        "carousel",
        tpl(body("Vagas da semana para você, {{1}}."), carousel(card(), card(), card())),
    ),
    ("carousel_video", tpl(body("Vagas para você."), carousel(card("VIDEO"), card("VIDEO")))),
    ("auth_copy_code", auth(AUTH_BODY, AUTH_FOOTER, OTP_COPY)),
    (
        "auth_one_tap",
        auth(
            AUTH_BODY,
            buttons({"type": "OTP", "otp_type": "ONE_TAP", "supported_apps": APPS}),
        ),
    ),
    (
        "auth_zero_tap",
        auth(
            AUTH_BODY,
            buttons(
                {
                    "type": "OTP",
                    "otp_type": "ZERO_TAP",
                    "supported_apps": APPS,
                    "zero_tap_terms_accepted": True,
                }
            ),
        ),
    ),
    (
        "utility_compreender_is_not_compre",
        tpl(body("Queremos compreender sua agenda, {{1}}."), category="UTILITY"),
    ),
    (
        "utility_salesforce_is_not_sale",
        tpl(body("Seu cadastro no Salesforce foi atualizado, {{1}}."), category="UTILITY"),
    ),
    ("marketing_may_promote", tpl(body("Desconto de 10% para você, {{1}}, nesta semana."))),
]


@pytest.mark.parametrize("defn", [pytest.param(d, id=i) for i, d in GOOD])
def test_good_templates_have_no_findings(defn: dict[str, Any]) -> None:
    assert lint(defn) == []


def _utility_body(name: str, text: str, fragment: str) -> tuple[str, dict[str, Any], str, str, str]:
    """A row of ``BAD`` for a UTILITY template whose body reads as marketing: a warning on
    the body's text (Meta would recategorise it), ``fragment`` naming the word."""
    return (name, tpl(body(text), category="UTILITY"), "warning", "components[0].text", fragment)


# (id, definition, severity, field, message fragment)
BAD: list[tuple[str, dict[str, Any], str, str, str]] = [
    # --- top level
    ("name_upper_space", tpl(name="Vaga Plantão"), "error", "name", "lowercase"),
    ("name_dash", tpl(name="vaga-plantao"), "error", "name", "lowercase"),
    ("name_missing", tpl(name=""), "error", "name", "needs a name"),
    ("name_too_long", tpl(name="a" * 513), "error", "name", "512"),
    ("language_missing", tpl(language=None), "error", "language", "language code"),
    ("language_odd", tpl(language="portuguese"), "warning", "language", "language code"),
    ("category_unknown", tpl(category="PROMO"), "error", "category", "MARKETING"),
    ("category_missing", tpl(category=None), "error", "category", "one of"),
    ("parameter_format_bad", tpl(parameter_format="mixed"), "error", "parameter_format", "NAMED"),
    ("components_missing", tpl(components=None), "error", "components", "must be a list"),
    ("component_not_object", tpl(components=["BODY"]), "error", "components[0]", "object"),
    ("no_body", tpl(header_text("Olá")), "error", "components", "needs a BODY"),
    (
        "unknown_component",
        tpl(body(), {"type": "STICKER"}),
        "error",
        "components[1].type",
        "unknown",
    ),
    ("two_bodies", tpl(body(), body()), "error", "components[1].type", "second BODY"),
    # --- JSON types the creation call refuses before review (lint and create agree)
    ("language_one_letter", tpl(language="p"), "error", "language", "not a language code"),
    (
        "allow_category_change_text",
        tpl(allow_category_change="yes"),
        "error",
        "allow_category_change",
        "true or false",
    ),
    ("body_format_number", tpl({**body(), "format": 5}), "error", "components[0].format", "string"),
    ("body_text_number", tpl({"type": "BODY", "text": 5}), "error", "components[0].text", "string"),
    (
        "body_example_list",
        tpl({**body(), "example": [1]}),
        "error",
        "components[0].example",
        "object",
    ),
    (
        "buttons_not_list",
        tpl(body(), {"type": "BUTTONS", "buttons": "Quero"}),
        "error",
        "components[1].buttons",
        "must be a list",
    ),
    (
        "header_format_list",
        tpl({"type": "HEADER", "format": ["TEXT"], "text": "Vagas"}, body()),
        "error",
        "components[0].format",
        "string",
    ),
    # --- category hints
    _utility_body(
        "utility_desconto",
        "Seu desconto para o plantão de {{1}} já está ativo.",
        "recategorised as MARKETING",
    ),
    _utility_body(
        "utility_promocao", "Promoção de plantões para você, {{1}}, nesta semana.", "'Promoção'"
    ),
    _utility_body("utility_oferta", "Temos uma oferta de plantão para você, {{1}}.", "'oferta'"),
    _utility_body("utility_gratis", "Inscrição grátis no plantão para você, {{1}}.", "'grátis'"),
    _utility_body("utility_compre", "Compre já o seu kit de plantão, {{1}}, hoje.", "'Compre'"),
    _utility_body("utility_sale", "Big sale on shifts for you, {{1}}, this week.", "'sale'"),
    _utility_body("utility_offer", "A special offer for you, {{1}}, this week.", "'offer'"),
    _utility_body("utility_discount", "Your discount is ready, {{1}}, use it today.", "'discount'"),
    _utility_body("utility_cupom", "Seu cupom de plantão chegou, {{1}}, aproveite.", "'cupom'"),
    (
        "utility_button_label",
        tpl(body(), buttons(qr("Quero o desconto")), category="UTILITY"),
        "warning",
        "components[1].buttons[0].text",
        "MARKETING",
    ),
    (
        "utility_footer",
        tpl(body(), {"type": "FOOTER", "text": "Oferta por tempo limitado"}, category="UTILITY"),
        "warning",
        "components[1].text",
        "MARKETING",
    ),
    (
        "authentication_promo",
        auth(
            AUTH_BODY, buttons({"type": "OTP", "otp_type": "COPY_CODE", "text": "Pegue o desconto"})
        ),
        "warning",
        "components[1].buttons[0].text",
        "MARKETING",
    ),
]


test_bad_templates = bad_templates(BAD)


def test_a_wrong_type_is_one_finding() -> None:
    """The field's type, not the rules that read it as missing."""
    text = "Oi, seu plantão está confirmado para amanhã de manhã."
    assert lint(tpl({"type": "BODY", "format": 5, "text": text})) == [
        Finding("error", "components[0].format", "must be a string")
    ]
    assert lint(tpl({"type": "BODY", "text": 5})) == [
        Finding("error", "components[0].text", "must be a string")
    ]


def test_null_fields_are_absent() -> None:
    assert lint(tpl({**body(), "format": None, "buttons": None}, allow_category_change=None)) == []


def test_marketing_words_no_warning_under_marketing() -> None:
    defn = tpl(body("Desconto, promoção e oferta grátis para você, {{1}}."))
    assert lint(defn) == []


def test_lint_does_not_mutate() -> None:
    defn = tpl(header_text(), body(), buttons(qr(), url()))
    before = copy.deepcopy(defn)
    lint(defn)
    assert defn == before


def test_finding_str_and_format() -> None:
    findings = [Finding("warning", "a", "w"), Finding("error", "b", "e")]
    assert format_findings(findings) == "error: b: e\nwarning: a: w"
    assert has_errors(findings)
    assert not has_errors(findings[:1])


# --- files -------------------------------------------------------------------------------

TOML = """
name = "lembrete_plantao"
language = "pt_BR"
category = "UTILITY"
parameter_format = "NAMED"

[[components]]
type = "BODY"
text = "Oi {{nome}}, seu plantão é em {{data}}. Até lá e bom trabalho!"
example = { body_text_named_params = [
  { param_name = "nome", example = "Ana" },
  { param_name = "data", example = "01/12" },
] }

[[components]]
type = "BUTTONS"
[[components.buttons]]
type = "URL"
text = "Detalhes"
url = "https://vagas.example.com/p/{{1}}"
example = ["https://vagas.example.com/p/V1000"]
"""


@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    [
        pytest.param("t.json", json.dumps(tpl()), [], id="json_good"),
        pytest.param("t.toml", TOML, [], id="toml_good"),
        pytest.param(
            "t.json",
            json.dumps(tpl(name="Bad Name")),
            [("error", "name")],
            id="json_bad_name",
        ),
        pytest.param("t.json", "{not json", [("error", "file")], id="json_syntax"),
        pytest.param("t.toml", "name = ", [("error", "file")], id="toml_syntax"),
        pytest.param("t.json", "[1, 2]", [("error", "file")], id="json_not_object"),
        pytest.param("t.json", b"\xff\xfe{", [("error", "file")], id="not_utf8"),
    ],
)
def test_lint_file(
    tmp_path: Path, filename: str, content: str | bytes, expected: list[tuple[str, str]]
) -> None:
    path = tmp_path / filename
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    assert [(f.severity, f.field) for f in lint_file(path)] == expected


def test_lint_file_missing(tmp_path: Path) -> None:
    findings = lint_file(tmp_path / "nope.json")
    assert len(findings) == 1
    assert findings[0].field == "file"
    assert "cannot read" in findings[0].message


def test_load_definition_toml_shape(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(TOML, encoding="utf-8")
    defn = load_definition(path)
    assert defn["components"][1]["buttons"][0]["type"] == "URL"
