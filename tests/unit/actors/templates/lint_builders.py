"""Template definitions for the linter's tests, and the check every "bad" row makes.

Shared by test_lint.py and the tests of each rule family (test_variable_rules.py,
test_component_rules.py, test_auth_rules.py, test_carousel_rules.py): each holds the rows
of its family, all checked through :func:`~actors.templates.lint.lint`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from actors.templates.lint import format_findings, has_errors, lint

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


def bad_templates(rows: list[tuple[Any, ...]]) -> Callable[..., None]:
    """The test of a table of bad templates, ``(id, definition, severity, field,
    fragment)`` per row: each must be reported as its row says (:func:`assert_finding`).
    Each rule family's test module binds it as ``test_bad_templates``."""

    @pytest.mark.parametrize(
        ("defn", "severity", "field", "fragment"),
        [pytest.param(*row[1:], id=row[0]) for row in rows],
    )
    def test_bad_templates(defn: dict[str, Any], severity: str, field: str, fragment: str) -> None:
        assert_finding(defn, severity, field, fragment)

    return test_bad_templates


def assert_finding(defn: dict[str, Any], severity: str, field: str, fragment: str) -> None:
    """``lint(defn)`` reports ``fragment`` on ``field``, with ``severity`` only; a warning
    row is not also an error."""
    findings = lint(defn)
    hits = [f for f in findings if f.field == field and fragment in f.message]
    assert hits, format_findings(findings)
    assert {f.severity for f in hits} == {severity}
    if severity == "warning":
        assert not has_errors(findings), format_findings(findings)
