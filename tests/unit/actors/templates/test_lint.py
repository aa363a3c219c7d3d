"""The template linter: one row per rule, the good form and the bad one."""

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
    lint_carousel,
    lint_file,
    load_definition,
)

BODY_TEXT = "Olá {{1}}, temos um plantão de {{2}} disponível para você esta semana."


def body(text: str = BODY_TEXT, *examples: str) -> dict[str, Any]:
    comp: dict[str, Any] = {"type": "BODY", "text": text}
    n = text.count("{{")
    values = list(examples) or [f"valor{i}" for i in range(1, n + 1)]
    if n:
        comp["example"] = {"body_text": [values]}
    return comp


def named_body(text: str, **examples: str) -> dict[str, Any]:
    return {
        "type": "BODY",
        "text": text,
        "example": {
            "body_text_named_params": [{"param_name": k, "example": v} for k, v in examples.items()]
        },
    }


def tpl(*components: dict[str, Any], **top: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": "vaga_plantao",
        "language": "pt_BR",
        "category": "MARKETING",
        "components": list(components) or [body()],
    }
    d.update(top)
    return d


def buttons(*bs: dict[str, Any]) -> dict[str, Any]:
    return {"type": "BUTTONS", "buttons": list(bs)}


def qr(text: str = "Quero") -> dict[str, Any]:
    return {"type": "QUICK_REPLY", "text": text}


def url(u: str = "https://vagas.example.com/v/{{1}}", **kw: Any) -> dict[str, Any]:
    b: dict[str, Any] = {"type": "URL", "text": "Ver vaga", "url": u}
    if "{{" in u:
        b["example"] = [u.replace("{{1}}", "V1000")]
    b.update(kw)
    return b


def phone(number: str = "+5511999998888") -> dict[str, Any]:
    return {"type": "PHONE_NUMBER", "text": "Ligar", "phone_number": number}


def header_text(text: str = "Vaga em {{1}}", example: list[str] | None = None) -> dict[str, Any]:
    h: dict[str, Any] = {"type": "HEADER", "format": "TEXT", "text": text}
    if "{{" in text:
        h["example"] = {"header_text": example or ["SP"]}
    return h


def header_media(fmt: str = "IMAGE", handle: str | None = "4::aW1hZ2UvanBlZw==") -> dict[str, Any]:
    h: dict[str, Any] = {"type": "HEADER", "format": fmt}
    if handle is not None:
        h["example"] = {"header_handle": [handle]}
    return h


def card(
    fmt: str = "IMAGE",
    btns: tuple[dict[str, Any], ...] | None = None,
    text: str = "Plantão em {{1}} no dia de hoje.",
) -> dict[str, Any]:
    return {
        "components": [
            header_media(fmt),
            body(text),
            buttons(*(btns if btns is not None else (qr(), url()))),
        ]
    }


def carousel(*cards: dict[str, Any]) -> dict[str, Any]:
    return {"type": "CAROUSEL", "cards": list(cards)}


def auth(*components: dict[str, Any]) -> dict[str, Any]:
    return tpl(*components, category="AUTHENTICATION", name="codigo_acesso")


OTP_COPY = buttons({"type": "OTP", "otp_type": "COPY_CODE", "text": "Copiar código"})
AUTH_BODY = {"type": "BODY", "add_security_recommendation": True}
AUTH_FOOTER = {"type": "FOOTER", "code_expiration_minutes": 10}
APPS = [{"package_name": "com.revoluna.app", "signature_hash": "K8a/AINcGX7"}]

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
    # --- body
    ("body_empty", tpl(body("")), "error", "components[0].text", "required"),
    ("body_blank", tpl(body("   ")), "error", "components[0].text", "required"),
    (
        "body_too_long",
        tpl(body("Olá " + "a" * 1021)),
        "error",
        "components[0].text",
        "at most 1024",
    ),
    (
        "starts_with_variable",
        tpl(body("{{1}}, temos um plantão disponível para você.")),
        "error",
        "components[0].text",
        "cannot start",
    ),
    (
        "starts_with_variable_after_space",
        tpl(body("  {{1}}, temos um plantão para você hoje.")),
        "error",
        "components[0].text",
        "cannot start",
    ),
    (
        "ends_with_variable",
        tpl(body("Temos um plantão disponível para você, {{1}}")),
        "error",
        "components[0].text",
        "cannot end",
    ),
    (
        "adjacent_space",
        tpl(body("Olá {{1}} {{2}}, temos um plantão disponível para você hoje.")),
        "error",
        "components[0].text",
        "only whitespace",
    ),
    (
        "adjacent_touching",
        tpl(body("Olá {{1}}{{2}}, temos um plantão disponível para você hoje.")),
        "error",
        "components[0].text",
        "only whitespace",
    ),
    (
        "adjacent_newline",
        tpl(body("Olá {{1}}\n{{2}}, temos um plantão disponível para você hoje.")),
        "error",
        "components[0].text",
        "only whitespace",
    ),
    (
        "too_many_variables",
        tpl(body("Oi {{1}} e {{2}}!")),
        "error",
        "components[0].text",
        "need at least 6 words",
    ),
    (
        "too_many_variables_by_one",
        tpl(body("Oi {{1}} tudo?")),
        "error",
        "components[0].text",
        "need at least 3 words",
    ),
    (
        "gap",
        tpl(body("Olá {{1}}, temos um plantão de {{3}} disponível para você.")),
        "error",
        "components[0].text",
        "without gaps",
    ),
    (
        "starts_at_two",
        tpl(body("Olá {{2}}, temos um plantão disponível para você.")),
        "error",
        "components[0].text",
        "without gaps",
    ),
    (
        "zero",
        tpl(body("Olá {{0}}, temos um plantão disponível para você.")),
        "error",
        "components[0].text",
        "without gaps",
    ),
    (
        "out_of_order",
        tpl(body("Olá {{2}}, temos um plantão de {{1}} disponível para você.")),
        "error",
        "components[0].text",
        "order of appearance",
    ),
    (
        "positional_repeated",
        tpl(body("Olá {{1}}, temos um plantão para {{1}} disponível agora.", "a")),
        "error",
        "components[0].text",
        "more than once",
    ),
    (
        "leading_zero",
        tpl(body("Olá {{01}}, temos um plantão disponível para você.")),
        "error",
        "components[0].text",
        "leading zeros",
    ),
    (
        "named_in_positional",
        tpl(body("Olá {{nome}}, temos um plantão disponível para você.")),
        "error",
        "components[0].text",
        "parameter_format is POSITIONAL",
    ),
    (
        "positional_in_named",
        tpl(
            named_body("Olá {{1}}, temos um plantão disponível para você.", **{"1": "a"}),
            parameter_format="NAMED",
        ),
        "error",
        "components[0].text",
        "parameter_format is NAMED",
    ),
    (
        "named_uppercase",
        tpl(
            named_body("Olá {{Nome}}, temos um plantão disponível para você.", Nome="a"),
            parameter_format="NAMED",
        ),
        "error",
        "components[0].text",
        "lowercase letters and underscores",
    ),
    (
        "named_digit",
        tpl(
            named_body("Olá {{nome1}}, temos um plantão disponível para você.", nome1="a"),
            parameter_format="NAMED",
        ),
        "error",
        "components[0].text",
        "lowercase letters and underscores",
    ),
    (
        "named_repeated",
        tpl(
            named_body("Olá {{nome}}, temos um plantão para {{nome}} disponível hoje.", nome="a"),
            parameter_format="NAMED",
        ),
        "warning",
        "components[0].text",
        "more than once",
    ),
    (
        "spaces_inside_braces",
        tpl(body("Olá {{ 1 }}, temos um plantão disponível para você.")),
        "error",
        "components[0].text",
        "not a variable",
    ),
    (
        "unbalanced",
        tpl(body("Olá {{1}, temos um plantão disponível para você.")),
        "error",
        "components[0].text",
        "unbalanced",
    ),
    (
        "single_braces",
        tpl(body("Seu código é {1}, válido por dez minutos a partir de agora.")),
        "warning",
        "components[0].text",
        "single braces",
    ),
    # --- examples
    (
        "example_missing",
        tpl({"type": "BODY", "text": BODY_TEXT}),
        "error",
        "components[0].example.body_text",
        "needs an example",
    ),
    (
        "example_count",
        tpl(body(BODY_TEXT, "Bruno")),
        "error",
        "components[0].example.body_text",
        "2 variables but 1",
    ),
    (
        "example_empty",
        tpl(body(BODY_TEXT, "Bruno", " ")),
        "error",
        "components[0].example.body_text",
        "non-empty",
    ),
    (
        "example_flat_list",
        tpl({"type": "BODY", "text": BODY_TEXT, "example": {"body_text": ["a", "b"]}}),
        "error",
        "components[0].example.body_text",
        "needs an example",
    ),
    (
        "named_example_missing",
        tpl(
            {"type": "BODY", "text": "Oi {{nome}}, tudo bem com você hoje?"},
            parameter_format="NAMED",
        ),
        "error",
        "components[0].example.body_text_named_params",
        "needs an example",
    ),
    (
        "named_example_absent_name",
        tpl(
            named_body("Oi {{nome}}, seu plantão é {{data}} às sete horas.", nome="Ana"),
            parameter_format="NAMED",
        ),
        "error",
        "components[0].example.body_text_named_params",
        "no example for {{data}}",
    ),
    (
        "named_example_extra",
        tpl(
            named_body("Oi {{nome}}, tudo bem com você hoje?", nome="Ana", data="1"),
            parameter_format="NAMED",
        ),
        "error",
        "components[0].example.body_text_named_params",
        "does not use",
    ),
    (
        "named_example_blank",
        tpl(named_body("Oi {{nome}}, tudo bem com você hoje?", nome=""), parameter_format="NAMED"),
        "error",
        "components[0].example.body_text_named_params",
        "empty",
    ),
    # --- header
    (
        "header_text_too_long",
        tpl(header_text("V" * 61), body()),
        "error",
        "components[0].text",
        "at most 60",
    ),
    (
        "header_two_variables",
        tpl(header_text("Vaga {{1}} em {{2}}", ["a", "b"]), body()),
        "error",
        "components[0].text",
        "at most 1 variable",
    ),
    (
        "header_newline",
        tpl(header_text("Nova\nvaga"), body()),
        "error",
        "components[0].text",
        "one line",
    ),
    (
        "header_text_missing",
        tpl({"type": "HEADER", "format": "TEXT"}, body()),
        "error",
        "components[0].text",
        "needs text",
    ),
    (
        "header_example_missing",
        tpl({"type": "HEADER", "format": "TEXT", "text": "Vaga em {{1}}"}, body()),
        "error",
        "components[0].example.header_text",
        "needs an example",
    ),
    (
        "header_format_unknown",
        tpl({"type": "HEADER", "format": "GIF"}, body()),
        "error",
        "components[0].format",
        "one of",
    ),
    (
        "header_image_no_handle",
        tpl(header_media(handle=None), body()),
        "error",
        "components[0].example.header_handle",
        "resumable upload",
    ),
    (
        "header_image_url_handle",
        tpl(header_media(handle="https://cdn.example.com/a.jpg"), body()),
        "error",
        "components[0].example.header_handle",
        "not a URL",
    ),
    (
        "header_image_media_id",
        tpl(header_media(handle="1234567890"), body()),
        "error",
        "components[0].example.header_handle",
        "media id",
    ),
    (
        "header_video_no_handle",
        tpl(header_media("VIDEO", None), body()),
        "error",
        "components[0].example.header_handle",
        "VIDEO",
    ),
    # --- footer
    (
        "footer_too_long",
        tpl(body(), {"type": "FOOTER", "text": "f" * 61}),
        "error",
        "components[1].text",
        "at most 60",
    ),
    (
        "footer_variable",
        tpl(body(), {"type": "FOOTER", "text": "Até {{1}}"}),
        "error",
        "components[1].text",
        "cannot contain variables",
    ),
    (
        "footer_empty",
        tpl(body(), {"type": "FOOTER", "text": ""}),
        "error",
        "components[1].text",
        "needs text",
    ),
    # --- buttons
    ("buttons_empty", tpl(body(), buttons()), "error", "components[1].buttons", "at least one"),
    (
        "buttons_eleven",
        tpl(body(), buttons(*[qr(f"Opção {i}") for i in range(11)])),
        "error",
        "components[1].buttons",
        "at most 10",
    ),
    (
        "three_url_buttons",
        tpl(body(), buttons(url(), url(), url())),
        "error",
        "components[1].buttons",
        "3 URL buttons; at most 2",
    ),
    (
        "two_phone_buttons",
        tpl(body(), buttons(phone(), phone())),
        "error",
        "components[1].buttons",
        "at most 1",
    ),
    (
        "two_copy_code",
        tpl(
            body(),
            buttons({"type": "COPY_CODE", "example": "A"}, {"type": "COPY_CODE", "example": "B"}),
        ),
        "error",
        "components[1].buttons",
        "COPY_CODE",
    ),
    (
        "quick_replies_split",
        tpl(body(), buttons(qr(), url(), qr("Não"))),
        "error",
        "components[1].buttons",
        "grouped",
    ),
    (
        "label_26",
        tpl(body(), buttons(qr("x" * 26))),
        "error",
        "components[1].buttons[0].text",
        "at most 25",
    ),
    (
        "label_missing",
        tpl(body(), buttons({"type": "QUICK_REPLY"})),
        "error",
        "components[1].buttons[0].text",
        "label",
    ),
    (
        "label_variable",
        tpl(body(), buttons(qr("Sim {{1}}"))),
        "error",
        "components[1].buttons[0].text",
        "variables",
    ),
    (
        "button_type_unknown",
        tpl(body(), buttons({"type": "WEBSITE", "text": "x"})),
        "error",
        "components[1].buttons[0].type",
        "one of",
    ),
    (
        "otp_in_marketing",
        tpl(body(), buttons({"type": "OTP", "otp_type": "COPY_CODE"})),
        "error",
        "components[1].buttons[0].type",
        "AUTHENTICATION",
    ),
    (
        "url_not_http",
        tpl(body(), buttons(url("vagas.example.com/{{1}}"))),
        "error",
        "components[1].buttons[0].url",
        "http",
    ),
    (
        "url_variable_not_last",
        tpl(body(), buttons(url("https://x.example.com/{{1}}/ver"))),
        "error",
        "components[1].buttons[0].url",
        "put {{1}} last",
    ),
    (
        "url_variable_two",
        tpl(body(), buttons(url("https://x.example.com/{{2}}"))),
        "error",
        "components[1].buttons[0].url",
        "one variable",
    ),
    (
        "url_variable_named",
        tpl(body(), buttons(url("https://x.example.com/{{vaga}}"))),
        "error",
        "components[1].buttons[0].url",
        "one variable",
    ),
    (
        "url_no_example",
        tpl(body(), buttons({"type": "URL", "text": "Ver", "url": "https://x.example.com/{{1}}"})),
        "error",
        "components[1].buttons[0].example",
        "full URL",
    ),
    (
        "url_too_long",
        tpl(body(), buttons(url("https://x.example.com/" + "a" * 2000))),
        "error",
        "components[1].buttons[0].url",
        "at most 2000",
    ),
    (
        "phone_bad",
        tpl(body(), buttons(phone("ligue já"))),
        "error",
        "components[1].buttons[0].phone_number",
        "digits",
    ),
    (
        "phone_too_long",
        tpl(body(), buttons(phone("+" + "1" * 21))),
        "error",
        "components[1].buttons[0].phone_number",
        "20",
    ),
    (
        "copy_code_no_example",
        tpl(body(), buttons({"type": "COPY_CODE"})),
        "error",
        "components[1].buttons[0].example",
        "example code",
    ),
    (
        "copy_code_too_long",
        tpl(body(), buttons({"type": "COPY_CODE", "example": "X" * 16})),
        "error",
        "components[1].buttons[0].example",
        "15",
    ),
    (
        "flow_without_id",
        tpl(body(), buttons({"type": "FLOW", "text": "Abrir"})),
        "error",
        "components[1].buttons[0]",
        "flow_id",
    ),
    (
        "flow_bad_action",
        tpl(
            body(),
            buttons({"type": "FLOW", "text": "Abrir", "flow_id": "1", "flow_action": "open"}),
        ),
        "error",
        "components[1].buttons[0].flow_action",
        "navigate",
    ),
    # --- category hints
    (
        "utility_desconto",
        tpl(body("Seu desconto para o plantão de {{1}} já está ativo."), category="UTILITY"),
        "warning",
        "components[0].text",
        "recategorised as MARKETING",
    ),
    (
        "utility_promocao",
        tpl(body("Promoção de plantões para você, {{1}}, nesta semana."), category="UTILITY"),
        "warning",
        "components[0].text",
        "'Promoção'",
    ),
    (
        "utility_oferta",
        tpl(body("Temos uma oferta de plantão para você, {{1}}."), category="UTILITY"),
        "warning",
        "components[0].text",
        "'oferta'",
    ),
    (
        "utility_gratis",
        tpl(body("Inscrição grátis no plantão para você, {{1}}."), category="UTILITY"),
        "warning",
        "components[0].text",
        "'grátis'",
    ),
    (
        "utility_compre",
        tpl(body("Compre já o seu kit de plantão, {{1}}, hoje."), category="UTILITY"),
        "warning",
        "components[0].text",
        "'Compre'",
    ),
    (
        "utility_sale",
        tpl(body("Big sale on shifts for you, {{1}}, this week."), category="UTILITY"),
        "warning",
        "components[0].text",
        "'sale'",
    ),
    (
        "utility_offer",
        tpl(body("A special offer for you, {{1}}, this week."), category="UTILITY"),
        "warning",
        "components[0].text",
        "'offer'",
    ),
    (
        "utility_discount",
        tpl(body("Your discount is ready, {{1}}, use it today."), category="UTILITY"),
        "warning",
        "components[0].text",
        "'discount'",
    ),
    (
        "utility_cupom",
        tpl(body("Seu cupom de plantão chegou, {{1}}, aproveite."), category="UTILITY"),
        "warning",
        "components[0].text",
        "'cupom'",
    ),
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
    # --- authentication fixed format
    (
        "auth_header",
        auth(header_text("Código"), AUTH_BODY, OTP_COPY),
        "error",
        "components[0].type",
        "no HEADER",
    ),
    ("auth_no_buttons", auth(AUTH_BODY), "error", "components", "one OTP button"),
    (
        "auth_two_buttons",
        auth(AUTH_BODY, buttons({"type": "OTP", "otp_type": "COPY_CODE"}, qr())),
        "error",
        "components[1].buttons",
        "exactly one button",
    ),
    (
        "auth_quick_reply",
        auth(AUTH_BODY, buttons(qr())),
        "error",
        "components[1].buttons",
        "of type OTP",
    ),
    (
        "auth_otp_type",
        auth(AUTH_BODY, buttons({"type": "OTP", "otp_type": "MAGIC"})),
        "error",
        "components[1].buttons[0].otp_type",
        "COPY_CODE",
    ),
    (
        "auth_one_tap_no_app",
        auth(AUTH_BODY, buttons({"type": "OTP", "otp_type": "ONE_TAP"})),
        "error",
        "components[1].buttons[0].supported_apps",
        "package_name",
    ),
    (
        "auth_one_tap_app_without_hash",
        auth(
            AUTH_BODY,
            buttons(
                {"type": "OTP", "otp_type": "ONE_TAP", "supported_apps": [{"package_name": "a.b"}]}
            ),
        ),
        "error",
        "components[1].buttons[0].supported_apps",
        "signature_hash",
    ),
    (
        "auth_zero_tap_terms",
        auth(AUTH_BODY, buttons({"type": "OTP", "otp_type": "ZERO_TAP", "supported_apps": APPS})),
        "error",
        "components[1].buttons[0].zero_tap_terms_accepted",
        "true",
    ),
    (
        "auth_expiry_zero",
        auth(AUTH_BODY, {"type": "FOOTER", "code_expiration_minutes": 0}, OTP_COPY),
        "error",
        "components[1].code_expiration_minutes",
        "1–90",
    ),
    (
        "auth_expiry_91",
        auth(AUTH_BODY, {"type": "FOOTER", "code_expiration_minutes": 91}, OTP_COPY),
        "error",
        "components[1].code_expiration_minutes",
        "1–90",
    ),
    (
        "auth_footer_text",
        auth(AUTH_BODY, {"type": "FOOTER", "text": "Expira logo."}, OTP_COPY),
        "warning",
        "components[1].text",
        "not used",
    ),
    (
        "auth_custom_body",
        auth({"type": "BODY", "text": "Seu código é {{1}}. Válido por 10 minutos."}, OTP_COPY),
        "warning",
        "components[0].text",
        "custom text is not used",
    ),
    (
        "auth_body_brace_bug",
        auth(
            {"type": "BODY", "text": "Seu código de verificação é {1}. Válido por 10 minutos."},
            OTP_COPY,
        ),
        "error",
        "components[0].text",
        "exactly one variable",
    ),
    (
        "auth_security_not_bool",
        auth({"type": "BODY", "add_security_recommendation": "yes"}, OTP_COPY),
        "error",
        "components[0].add_security_recommendation",
        "true or false",
    ),
    (
        "auth_carousel",
        auth(AUTH_BODY, OTP_COPY, carousel(card(), card())),
        "error",
        "components[2].type",
        "no CAROUSEL",
    ),
    # --- carousel
    (
        "carousel_one_card",
        tpl(body("Vagas para você."), carousel(card())),
        "error",
        "components[1].cards",
        "2–10",
    ),
    (
        "carousel_eleven_cards",
        tpl(body("Vagas para você."), carousel(*[card()] * 11)),
        "error",
        "components[1].cards",
        "2–10",
    ),
    (
        "carousel_no_cards",
        tpl(body("Vagas para você."), {"type": "CAROUSEL"}),
        "error",
        "components[1].cards",
        "list of cards",
    ),
    (
        "carousel_mixed_headers",
        tpl(body("Vagas para você."), carousel(card(), card("VIDEO"))),
        "error",
        "components[1].cards[1]",
        "one type",
    ),
    (
        "carousel_buttons_shape",
        tpl(body("Vagas para você."), carousel(card(), card(btns=(qr(),)))),
        "error",
        "components[1].cards[1]",
        "same buttons",
    ),
    (
        "carousel_buttons_order",
        tpl(body("Vagas para você."), carousel(card(btns=(qr(), url())), card(btns=(url(), qr())))),
        "error",
        "components[1].cards[1]",
        "same buttons",
    ),
    (
        "carousel_text_header",
        tpl(body("Vagas para você."), carousel(card("TEXT"), card("TEXT"))),
        "error",
        "components[1].cards[0].components[0].format",
        "IMAGE",
    ),
    (
        "carousel_card_no_header",
        tpl(
            body("Vagas para você."),
            carousel({"components": [body("Plantão hoje."), buttons(qr())]}, card()),
        ),
        "error",
        "components[1].cards[0].components",
        "needs a HEADER",
    ),
    (
        "carousel_card_no_buttons",
        tpl(
            body("Vagas para você."),
            carousel({"components": [header_media(), body("Plantão hoje.")]}, card()),
        ),
        "error",
        "components[1].cards[0].components",
        "needs a BUTTONS",
    ),
    (
        "carousel_card_three_buttons",
        tpl(
            body("Vagas para você."),
            carousel(card(btns=(qr(), qr("a"), qr("b"))), card(btns=(qr(), qr("a"), qr("b")))),
        ),
        "error",
        "components[1].cards[0].components[2].buttons",
        "1–2",
    ),
    (
        "carousel_card_copy_code",
        tpl(
            body("Vagas para você."),
            carousel(
                card(btns=({"type": "COPY_CODE", "example": "A"},)),
                card(btns=({"type": "COPY_CODE", "example": "A"},)),
            ),
        ),
        "error",
        "components[1].cards[0].components[2].buttons[0].type",
        "one of",
    ),
    (
        "carousel_card_body_160",
        tpl(body("Vagas para você."), carousel(card(text="Plantão " + "x" * 153), card())),
        "error",
        "components[1].cards[0].components[1].text",
        "at most 160",
    ),
    (
        "carousel_card_footer",
        tpl(
            body("Vagas para você."),
            carousel(
                {"components": [*card()["components"], {"type": "FOOTER", "text": "x"}]}, card()
            ),
        ),
        "error",
        "components[1].cards[0].components[3].type",
        "only HEADER, BODY and BUTTONS",
    ),
    (
        "carousel_card_variable_rules",
        tpl(
            body("Vagas para você."), carousel(card(text="{{1}} hoje no hospital central."), card())
        ),
        "error",
        "components[1].cards[0].components[1].text",
        "cannot start",
    ),
    (
        "carousel_top_level_header",
        tpl(header_text("Vagas"), body("Vagas para você."), carousel(card(), card())),
        "error",
        "components[0].type",
        "go on the cards",
    ),
    (
        "carousel_top_level_buttons",
        tpl(body("Vagas para você."), buttons(qr()), carousel(card(), card())),
        "error",
        "components[1].type",
        "go on the cards",
    ),
]


@pytest.mark.parametrize(
    ("defn", "severity", "field", "fragment"),
    [pytest.param(*c[1:], id=c[0]) for c in BAD],
)
def test_bad_templates(defn: dict[str, Any], severity: str, field: str, fragment: str) -> None:
    findings = lint(defn)
    hits = [f for f in findings if f.field == field and fragment in f.message]
    assert hits, format_findings(findings)
    assert {f.severity for f in hits} == {severity}
    if severity == "warning":
        assert not has_errors(findings), format_findings(findings)


def test_marketing_words_no_warning_under_marketing() -> None:
    defn = tpl(body("Desconto, promoção e oferta grátis para você, {{1}}."))
    assert lint(defn) == []


def test_lint_does_not_mutate() -> None:
    defn = tpl(header_text(), body(), buttons(qr(), url()))
    before = copy.deepcopy(defn)
    lint(defn)
    assert defn == before


def test_lint_carousel_alone() -> None:
    assert lint_carousel(carousel(card(), card())) == []
    findings = lint_carousel(carousel(card()), field="x")
    assert findings == [Finding("error", "x.cards", "1 cards; a carousel takes 2–10")]


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
