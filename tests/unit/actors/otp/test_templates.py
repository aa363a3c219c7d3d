from __future__ import annotations

import pytest

from actors.otp.shifts import (
    ShiftTap,
    parse_payload,
    shift_payload,
    shift_send_template,
    shift_template_payload,
)
from actors.otp.templates import AuthTemplate, auth_send_template, auth_template_payload

PKG, HASH = "com.revoluna.app", "K8a/AINcGX7"


def _button(payload: dict[str, object]) -> dict[str, object]:
    comps = payload["components"]
    assert isinstance(comps, list)
    buttons = next(c for c in comps if c["type"] == "BUTTONS")["buttons"]
    assert len(buttons) == 1
    return dict(buttons[0])


def test_copy_code_uses_the_preset_body_and_the_expiry_footer() -> None:
    payload = auth_template_payload(AuthTemplate(name="otp_login", code_expiration_minutes=5))
    assert payload["category"] == "AUTHENTICATION"
    assert payload["components"][:2] == [
        {"type": "BODY", "add_security_recommendation": True},
        {"type": "FOOTER", "code_expiration_minutes": 5},
    ]
    assert "text" not in payload["components"][0]
    assert _button(payload) == {"type": "OTP", "otp_type": "COPY_CODE", "text": "Copiar código"}


def test_one_tap_names_the_app() -> None:
    t = AuthTemplate(name="otp_app", otp_type="ONE_TAP", package_name=PKG, signature_hash=HASH)
    button = _button(auth_template_payload(t))
    assert button["otp_type"] == "ONE_TAP"
    assert button["supported_apps"] == [{"package_name": PKG, "signature_hash": HASH}]
    assert "zero_tap_terms_accepted" not in button


def test_zero_tap_needs_the_terms_accepted() -> None:
    t = AuthTemplate(name="otp_zero", otp_type="ZERO_TAP", package_name=PKG, signature_hash=HASH)
    with pytest.raises(ValueError, match="zero_tap_terms_accepted"):
        auth_template_payload(t)
    ok = AuthTemplate(
        name="otp_zero",
        otp_type="ZERO_TAP",
        package_name=PKG,
        signature_hash=HASH,
        zero_tap_terms_accepted=True,
    )
    button = _button(auth_template_payload(ok))
    assert button["zero_tap_terms_accepted"] is True
    assert button["supported_apps"] == [{"package_name": PKG, "signature_hash": HASH}]


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"otp_type": "ONE_TAP", "signature_hash": HASH}, "package_name"),
        ({"otp_type": "ONE_TAP", "package_name": PKG}, "signature_hash"),
        ({"otp_type": "ONE_TAP", "package_name": PKG, "signature_hash": "short"}, "signature"),
        ({"otp_type": "ONE_TAP", "package_name": "noDots", "signature_hash": HASH}, "package"),
        ({"code_expiration_minutes": 91}, "code_expiration_minutes"),
        ({"name": "Bad Name"}, "name"),
    ],
)
def test_bad_definitions_name_the_field(kwargs: dict[str, object], problem: str) -> None:
    fields: dict[str, object] = {"name": "otp_x", **kwargs}
    with pytest.raises(ValueError, match=problem):
        auth_template_payload(AuthTemplate(**fields))  # type: ignore[arg-type]


def test_the_code_goes_in_the_body_and_the_button() -> None:
    tpl = auth_send_template("otp_login", "pt_BR", "042137")
    assert tpl["language"] == {"code": "pt_BR"}
    body, button = tpl["components"]
    assert body == {"type": "body", "parameters": [{"type": "text", "text": "042137"}]}
    assert button["sub_type"] == "url"
    assert button["index"] == "0"
    assert button["parameters"] == [{"type": "text", "text": "042137"}]


def test_shift_payload_round_trips_even_with_colons_in_the_id() -> None:
    payload = shift_payload("confirm", "abc123XY", "H:2026-12-01:V1")
    assert parse_payload(payload) == ShiftTap("confirm", "abc123XY", "H:2026-12-01:V1")


@pytest.mark.parametrize(
    "payload",
    [None, "", "ACEITAR_V1002", "shift:maybe:abc123XY:V1", "shift:confirm:x:V1", "shift:confirm:"],
)
def test_other_payloads_are_not_shift_taps(payload: str | None) -> None:
    assert parse_payload(payload) is None


def test_shift_template_is_utility_with_two_quick_replies() -> None:
    payload = shift_template_payload("confirmar_plantao")
    assert payload["category"] == "UTILITY"
    body, buttons = payload["components"]
    assert "{{1}}" in body["text"]
    assert len(body["example"]["body_text"][0]) == 3
    assert [b["type"] for b in buttons["buttons"]] == ["QUICK_REPLY", "QUICK_REPLY"]


def test_shift_send_puts_one_payload_per_button() -> None:
    tpl = shift_send_template(
        "t", "pt_BR", ["Ana", "sexta", "HSC"], nonce="n0nce123", shift_id="V9"
    )
    body, confirm, decline = tpl["components"]
    assert [p["text"] for p in body["parameters"]] == ["Ana", "sexta", "HSC"]
    assert confirm["sub_type"] == "quick_reply"
    assert (confirm["index"], decline["index"]) == ("0", "1")
    taps = [parse_payload(b["parameters"][0]["payload"]) for b in (confirm, decline)]
    assert taps == [ShiftTap("confirm", "n0nce123", "V9"), ShiftTap("decline", "n0nce123", "V9")]
