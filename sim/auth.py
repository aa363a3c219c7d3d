"""Authentication templates on the simulated Meta side: Meta's checks at creation.

Why apart: an AUTHENTICATION template is not written like the others. Its body is
Meta's preset (``add_security_recommendation``, no custom text), its expiry is the
FOOTER's ``code_expiration_minutes`` (1-90) and it has exactly one OTP button whose
ONE_TAP/ZERO_TAP forms must name the Android app (``supported_apps``: ``package_name``
and an 11-character ``signature_hash``) and ZERO_TAP also ``zero_tap_terms_accepted``.
:func:`expand` checks that and fills in the preset text so the rest of the simulator
(review, send-time parameter checks) sees an ordinary template.
"""

from __future__ import annotations

import re
from typing import Any

from sim.errors import SimError

__all__ = ["expand"]

_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
_HASH = re.compile(r"^[A-Za-z0-9+/]{11}$")
_PRESET = {
    "pt": ("*{{1}}* é seu código de verificação.", "Para sua segurança, não o compartilhe."),
    "es": ("Tu código de verificación es *{{1}}*.", "Por tu seguridad, no lo compartas."),
}
_PRESET_EN = ("*{{1}}* is your verification code.", "For your security, do not share this code.")


def _invalid(details: str) -> SimError:
    return SimError(100, message="(#100) Invalid parameter", details=details, subcode=2388043)


def _check_button(b: dict[str, Any]) -> None:
    kind = b.get("otp_type")
    if b.get("type") != "OTP" or kind not in ("COPY_CODE", "ONE_TAP", "ZERO_TAP"):
        raise _invalid("the button must be type OTP with otp_type COPY_CODE, ONE_TAP or ZERO_TAP")
    if kind == "COPY_CODE":
        return
    apps = b.get("supported_apps")
    if not isinstance(apps, list) or not apps or len(apps) > 5:
        raise _invalid(f"{kind} needs supported_apps (1 to 5 apps)")
    for app in apps:
        if not isinstance(app, dict) or not _PACKAGE.match(str(app.get("package_name", ""))):
            raise _invalid("supported_apps[].package_name must be an Android package name")
        if not _HASH.match(str(app.get("signature_hash", ""))):
            raise _invalid("supported_apps[].signature_hash must be 11 characters")
    if kind == "ZERO_TAP" and b.get("zero_tap_terms_accepted") is not True:
        raise _invalid("ZERO_TAP needs zero_tap_terms_accepted: true")


def expand(components: list[dict[str, Any]], language: str) -> list[dict[str, Any]]:
    """Check an authentication template's components; return them with the preset body."""
    out: list[dict[str, Any]] = []
    buttons = 0
    for c in components:
        kind = str(c.get("type", "")).upper()
        if kind == "BODY":
            if c.get("text"):
                raise _invalid("authentication templates take no custom body text")
            first, security = _PRESET.get(language[:2], _PRESET_EN)
            text = f"{first} {security}" if c.get("add_security_recommendation") else first
            out.append({**c, "text": text})
        elif kind == "FOOTER":
            minutes = c.get("code_expiration_minutes")
            if c.get("text") or not isinstance(minutes, int) or not 1 <= minutes <= 90:
                raise _invalid("the footer takes only code_expiration_minutes (1 to 90)")
            out.append(c)
        elif kind == "BUTTONS":
            items = c.get("buttons")
            if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
                raise _invalid("authentication templates have exactly one OTP button")
            _check_button(items[0])
            buttons += 1
            out.append(c)
        else:
            raise _invalid(f"authentication templates take no {kind} component")
    if buttons != 1:
        raise _invalid("authentication templates have exactly one OTP button")
    return out
