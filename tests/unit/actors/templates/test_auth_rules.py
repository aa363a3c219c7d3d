"""Authentication templates' fixed format: the linter's rows for actors/templates/auth_rules.py."""

from __future__ import annotations

from typing import Any

from tests.unit.actors.templates.lint_builders import (
    APPS,
    AUTH_BODY,
    OTP_COPY,
    auth,
    bad_templates,
    buttons,
    card,
    carousel,
    header_text,
    qr,
)

# (id, definition, severity, field, message fragment)
BAD: list[tuple[str, dict[str, Any], str, str, str]] = [
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
]


test_bad_templates = bad_templates(BAD)
