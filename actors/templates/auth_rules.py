"""Review rules for AUTHENTICATION templates: Meta's fixed one-time-passcode format.

Why a module of its own: an authentication template is not free text with components like
the others. Meta writes its body and footer itself and takes exactly one OTP button
(copy code, one tap or zero tap), so it is checked by these rules instead of the general
component rules (cloud-api.md 3; behaviour.md 15.5 #31).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from actors.templates.definition import as_list, as_map, as_str, kind_of
from actors.templates.findings import Collector
from actors.templates.review_limits import AUTH_EXPIRY_MINUTES, BUTTON_TEXT_MAX, OTP_TYPES
from actors.templates.schema import VARIABLE

__all__ = ["check_authentication"]


def check_authentication(f: Collector, comps: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
    """Meta's fixed authentication format (cloud-api.md 3; behaviour.md 15.5 #31)."""
    kinds = {kind_of(c): i for i, c in comps}
    for i, c in comps:
        where = f"components[{i}]"
        kind = kind_of(c)
        if kind in ("HEADER", "CAROUSEL"):
            f.error(f"{where}.type", f"authentication templates have no {kind}")
        elif kind == "BODY":
            _auth_body(f, c, where)
        elif kind == "FOOTER":
            _auth_footer(f, c, where)
        elif kind == "BUTTONS":
            _auth_buttons(f, c, where)
    if "BUTTONS" not in kinds:
        f.error("components", "authentication templates need one OTP button")


def _auth_body(f: Collector, c: Mapping[str, Any], where: str) -> None:
    sec = c.get("add_security_recommendation")
    if sec is not None and not isinstance(sec, bool):
        f.error(f"{where}.add_security_recommendation", "must be true or false")
    text = as_str(c.get("text"))
    if text is None:
        return
    w = f"{where}.text"
    if VARIABLE.findall(text) != ["1"]:
        f.error(w, "the authentication body has exactly one variable, {{1}}: the code")
    f.warn(
        w,
        "Meta sets the authentication body itself ('{{1}} is your verification code' and "
        "the optional security line); custom text is not used",
    )


def _auth_footer(f: Collector, c: Mapping[str, Any], where: str) -> None:
    minutes = c.get("code_expiration_minutes")
    lo, hi = AUTH_EXPIRY_MINUTES
    if minutes is not None and (
        isinstance(minutes, bool) or not isinstance(minutes, int) or not lo <= minutes <= hi
    ):
        f.error(f"{where}.code_expiration_minutes", f"a whole number of minutes, {lo}–{hi}")
    if c.get("text") is not None:
        f.warn(
            f"{where}.text",
            "the authentication footer is Meta's expiry line from code_expiration_minutes; "
            "custom text is not used",
        )


def _auth_buttons(f: Collector, c: Mapping[str, Any], where: str) -> None:
    buttons = as_list(c.get("buttons")) or []
    w = f"{where}.buttons"
    if len(buttons) != 1 or str((as_map(buttons[0]) or {}).get("type", "")).upper() != "OTP":
        f.error(w, "authentication templates take exactly one button, of type OTP")
        return
    b = as_map(buttons[0]) or {}
    otp = str(b.get("otp_type", "")).upper()
    if otp not in OTP_TYPES:
        f.error(f"{w}[0].otp_type", f"otp_type must be one of {sorted(OTP_TYPES)}")
        return
    for key in ("text", "autofill_text"):
        label = as_str(b.get(key))
        if label is None:
            continue
        f.texts.append((f"{w}[0].{key}", label))
        if len(label) > BUTTON_TEXT_MAX:
            f.error(f"{w}[0].{key}", f"at most {BUTTON_TEXT_MAX} characters")
    if otp in ("ONE_TAP", "ZERO_TAP"):
        apps = as_list(b.get("supported_apps"))
        legacy = b.get("package_name") and b.get("signature_hash")
        ok = apps and all(
            (m := as_map(a)) is not None and m.get("package_name") and m.get("signature_hash")
            for a in apps
        )
        if not ok and not legacy:
            f.error(
                f"{w}[0].supported_apps",
                f"{otp} needs the Android app: supported_apps [{{package_name, signature_hash}}]",
            )
    if otp == "ZERO_TAP" and b.get("zero_tap_terms_accepted") is not True:
        f.error(f"{w}[0].zero_tap_terms_accepted", "ZERO_TAP needs zero_tap_terms_accepted: true")
