"""Authentication templates: the create-template body and the send-time parameters.

Meta's rules (cloud-api.md 3; behaviour.md 7.15 lists what the old builder got wrong):

- the body is Meta's preset ("*{{1}}* is your verification code."), asked for with
  ``add_security_recommendation``, never custom text; the expiry goes in the FOOTER as
  ``code_expiration_minutes`` (1-90);
- exactly one OTP button: ``COPY_CODE``; ``ONE_TAP`` (Android autofill) and ``ZERO_TAP``
  name the app in ``supported_apps`` (``package_name`` + the 11-character
  ``signature_hash``), and ``ZERO_TAP`` also needs ``zero_tap_terms_accepted``;
- at send time the code goes in the body parameter *and* the button's url parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["AuthTemplate", "OtpType", "auth_send_template", "auth_template_payload"]

OtpType = Literal["COPY_CODE", "ONE_TAP", "ZERO_TAP"]

_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
_HASH = re.compile(r"^[A-Za-z0-9+/]{11}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthTemplate:
    name: str
    language: str = "pt_BR"
    otp_type: OtpType = "COPY_CODE"
    code_expiration_minutes: int | None = 10
    security_recommendation: bool = True
    button_text: str = "Copiar código"
    autofill_text: str = "Preencher"
    package_name: str | None = None
    signature_hash: str | None = None
    zero_tap_terms_accepted: bool = False


def _problems(t: AuthTemplate) -> list[str]:
    found = []
    if not _NAME.match(t.name):
        found.append("name: lowercase letters, digits and underscores")
    if t.code_expiration_minutes is not None and not 1 <= t.code_expiration_minutes <= 90:
        found.append("code_expiration_minutes: 1 to 90")
    if not 1 <= len(t.button_text) <= 25:
        found.append("button_text: 1 to 25 characters")
    if t.otp_type in ("ONE_TAP", "ZERO_TAP"):
        if not t.package_name or not _PACKAGE.match(t.package_name) or len(t.package_name) > 224:
            found.append(f"package_name: an Android package name is required for {t.otp_type}")
        if not t.signature_hash or not _HASH.match(t.signature_hash):
            found.append(f"signature_hash: the 11-character app hash is needed for {t.otp_type}")
        if not 1 <= len(t.autofill_text) <= 25:
            found.append("autofill_text: 1 to 25 characters")
    if t.otp_type == "ZERO_TAP" and not t.zero_tap_terms_accepted:
        found.append("zero_tap_terms_accepted: ZERO_TAP needs Meta's zero-tap terms accepted")
    return found


def auth_template_payload(t: AuthTemplate) -> dict[str, Any]:
    """The ``POST /{waba_id}/message_templates`` body; ValueError names every problem."""
    problems = _problems(t)
    if problems:
        raise ValueError("; ".join(problems))
    button: dict[str, Any] = {"type": "OTP", "otp_type": t.otp_type, "text": t.button_text}
    if t.otp_type != "COPY_CODE":
        button["autofill_text"] = t.autofill_text
        button["supported_apps"] = [
            {"package_name": t.package_name, "signature_hash": t.signature_hash}
        ]
    if t.otp_type == "ZERO_TAP":
        button["zero_tap_terms_accepted"] = True
    components: list[dict[str, Any]] = [
        {"type": "BODY", "add_security_recommendation": t.security_recommendation}
    ]
    if t.code_expiration_minutes is not None:
        components.append({"type": "FOOTER", "code_expiration_minutes": t.code_expiration_minutes})
    components.append({"type": "BUTTONS", "buttons": [button]})
    return {
        "name": t.name,
        "language": t.language,
        "category": "AUTHENTICATION",
        "components": components,
    }


def auth_send_template(name: str, language: str, code: str) -> dict[str, Any]:
    """The ``template`` object of a send carrying ``code`` (body and OTP button)."""
    if not code or len(code) > 15:
        raise ValueError("a code has 1 to 15 characters")
    return {
        "name": name,
        "language": {"code": language},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": code}]},
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [{"type": "text", "text": code}],
            },
        ],
    }
