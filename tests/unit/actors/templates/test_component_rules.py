"""Bodies, headers, footers and buttons: the linter's rows for templates/component_rules.py."""

from __future__ import annotations

from typing import Any

from tests.unit.actors.templates.lint_builders import (
    bad_templates,
    body,
    buttons,
    header_media,
    header_text,
    phone,
    qr,
    tpl,
    url,
)

# (id, definition, severity, field, message fragment)
BAD: list[tuple[str, dict[str, Any], str, str, str]] = [
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
]


test_bad_templates = bad_templates(BAD)
