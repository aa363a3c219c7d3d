"""Variables and their examples: the linter's rows for actors/templates/variable_rules.py."""

from __future__ import annotations

from typing import Any

from tests.unit.actors.templates.lint_builders import (
    BODY_TEXT,
    bad_templates,
    body,
    named_body,
    tpl,
)

# (id, definition, severity, field, message fragment)
BAD: list[tuple[str, dict[str, Any], str, str, str]] = [
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
]


test_bad_templates = bad_templates(BAD)
