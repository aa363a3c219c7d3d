"""Review rules for a template's HEADER, BODY, FOOTER and BUTTONS components.

Why a module of its own: these are the building blocks Meta reviews one by one, each with
its own limits (:mod:`actors.templates.review_limits`); a carousel card
(:mod:`actors.templates.carousel_rules`) is made of the same blocks under tighter limits,
so the checks take a ``card`` flag rather than being written twice. Authentication
templates have a fixed format of their own (:mod:`actors.templates.auth_rules`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from actors.templates.definition import as_list, as_map, as_str
from actors.templates.findings import Collector
from actors.templates.review_limits import (
    BUTTON_TEXT_MAX,
    BUTTON_TYPES,
    BUTTONS_MAX,
    CARD_BUTTON_TYPES,
    CARD_BUTTONS,
    CARD_HEADER_FORMATS,
    CODE_EXAMPLE_MAX,
    COPY_CODE_BUTTONS_MAX,
    FOOTER_MAX,
    HEADER_FORMATS,
    HEADER_TEXT_MAX,
    HEADER_VARIABLES_MAX,
    PHONE_BUTTONS_MAX,
    PHONE_MAX,
    URL_BUTTONS_MAX,
    URL_MAX,
)
from actors.templates.schema import VARIABLE, ParameterFormat
from actors.templates.variable_rules import (
    ANY_BRACES,
    STRICT_NAME,
    check_examples,
    check_placement,
    check_variables,
)

__all__ = ["check_body", "check_buttons", "check_footer", "check_header"]

_PHONE: Final = re.compile(r"\+?[0-9]{6,20}")
_HTTP: Final = re.compile(r"https?://\S+", re.IGNORECASE)


def check_body(
    f: Collector, comp: Mapping[str, Any], where: str, fmt: ParameterFormat, limit: int
) -> None:
    text = as_str(comp.get("text"))
    w = f"{where}.text"
    if not text or not text.strip():
        f.error(w, "the body text is required")
        return
    f.texts.append((w, text))
    if len(text) > limit:
        f.error(w, f"the body is {len(text)} characters; at most {limit}")
    names = check_variables(f, text, w, fmt)
    check_placement(f, text, w, names)
    check_examples(f, comp, where, names, fmt, "body_text", "body_text_named_params", nested=True)


def check_header(
    f: Collector, comp: Mapping[str, Any], where: str, fmt: ParameterFormat, *, card: bool
) -> str | None:
    """Check a header; return its format when it is a known one."""
    fmt_h = str(comp.get("format", "")).upper()
    allowed = CARD_HEADER_FORMATS if card else HEADER_FORMATS
    if fmt_h not in allowed:
        f.error(f"{where}.format", f"header format must be one of {sorted(allowed)}")
        return None
    if fmt_h == "TEXT":
        text = as_str(comp.get("text"))
        w = f"{where}.text"
        if not text or not text.strip():
            f.error(w, "a TEXT header needs text")
            return fmt_h
        f.texts.append((w, text))
        if len(text) > HEADER_TEXT_MAX:
            f.error(w, f"the header is {len(text)} characters; at most {HEADER_TEXT_MAX}")
        if "\n" in text or "\r" in text:
            f.error(w, "a header is one line")
        names = check_variables(f, text, w, fmt)
        if len(names) > HEADER_VARIABLES_MAX:
            f.error(w, f"a header takes at most {HEADER_VARIABLES_MAX} variable")
        check_examples(
            f, comp, where, names, fmt, "header_text", "header_text_named_params", nested=False
        )
    elif fmt_h != "LOCATION":
        w = f"{where}.example.header_handle"
        handles = as_list((as_map(comp.get("example")) or {}).get("header_handle"))
        if not handles or not isinstance(handles[0], str) or not handles[0].strip():
            f.error(w, f"the {fmt_h} header needs an example handle from the resumable upload API")
        elif _HTTP.match(handles[0]) or handles[0].isdigit():
            # The old service sent URLs and /media ids here (behaviour.md 15.5 #30).
            f.error(w, "header_handle must be a resumable-upload handle, not a URL or media id")
    return fmt_h


def check_footer(f: Collector, comp: Mapping[str, Any], where: str) -> None:
    text = as_str(comp.get("text"))
    w = f"{where}.text"
    if not text or not text.strip():
        f.error(w, "a footer needs text")
        return
    f.texts.append((w, text))
    if len(text) > FOOTER_MAX:
        f.error(w, f"the footer is {len(text)} characters; at most {FOOTER_MAX}")
    if "{{" in text or "}}" in text:
        f.error(w, "a footer cannot contain variables")


def check_buttons(
    f: Collector, comp: Mapping[str, Any], where: str, *, card: bool
) -> tuple[str, ...]:
    """Check a BUTTONS component; return the sequence of button types (its "shape")."""
    buttons = as_list(comp.get("buttons"))
    w = f"{where}.buttons"
    if not buttons:
        f.error(w, "a BUTTONS component needs at least one button")
        return ()
    types = tuple(str((as_map(b) or {}).get("type", "")).upper() for b in buttons)
    lo, hi = CARD_BUTTONS if card else (1, BUTTONS_MAX)
    if not lo <= len(buttons) <= hi:
        allowed_count = f"a card takes {lo}–{hi}" if card else f"at most {hi}"
        f.error(w, f"{len(buttons)} buttons; {allowed_count}")
    for kind, cap in (
        ("URL", URL_BUTTONS_MAX),
        ("PHONE_NUMBER", PHONE_BUTTONS_MAX),
        ("COPY_CODE", COPY_CODE_BUTTONS_MAX),
    ):
        if types.count(kind) > cap:
            f.error(w, f"{types.count(kind)} {kind} buttons; at most {cap}")
    qr = [i for i, t in enumerate(types) if t == "QUICK_REPLY"]
    if qr and qr != list(range(qr[0], qr[0] + len(qr))):
        f.error(w, "quick replies must be grouped together, before or after the other buttons")
    allowed = CARD_BUTTON_TYPES if card else BUTTON_TYPES
    for i, (b, kind) in enumerate(zip(buttons, types, strict=True)):
        bw = f"{w}[{i}]"
        button = as_map(b)
        if button is None:
            f.error(bw, "a button must be an object")
            continue
        if kind not in allowed:
            f.error(f"{bw}.type", f"button type must be one of {sorted(allowed)}")
            continue
        if kind == "OTP":
            f.error(f"{bw}.type", "OTP buttons belong to AUTHENTICATION templates only")
            continue
        _button(f, button, bw, kind)
    return types


def _button(f: Collector, b: Mapping[str, Any], where: str, kind: str) -> None:
    text = as_str(b.get("text"))
    if not text or not text.strip():
        if kind != "COPY_CODE":  # Meta labels copy-code buttons itself ("Copy offer code")
            f.error(f"{where}.text", "a button needs a label")
    else:
        f.texts.append((f"{where}.text", text))
        if len(text) > BUTTON_TEXT_MAX:
            f.error(f"{where}.text", f"label is {len(text)} characters; at most {BUTTON_TEXT_MAX}")
        if "{{" in text:
            f.error(f"{where}.text", "a button label cannot contain variables")
    if kind == "URL":
        _url_button(f, b, where)
    elif kind == "PHONE_NUMBER":
        phone = as_str(b.get("phone_number"))
        if not phone or not _PHONE.fullmatch(phone) or len(phone) > PHONE_MAX:
            f.error(f"{where}.phone_number", f"a phone number, digits only, ≤ {PHONE_MAX} chars")
    elif kind == "COPY_CODE":
        ex = b.get("example")
        value = ex[0] if isinstance(ex, list) and ex else ex
        if not isinstance(value, str) or not value.strip():
            f.error(f"{where}.example", "a COPY_CODE button needs an example code")
        elif len(value) > CODE_EXAMPLE_MAX:
            f.error(f"{where}.example", f"the code is at most {CODE_EXAMPLE_MAX} characters")
    elif kind == "FLOW":
        if not any(b.get(k) for k in ("flow_id", "flow_name", "flow_json")):
            f.error(where, "a FLOW button needs flow_id, flow_name or flow_json")
        action = b.get("flow_action")
        if action is not None and str(action).lower() not in ("navigate", "data_exchange"):
            f.error(f"{where}.flow_action", "flow_action is navigate or data_exchange")


def _url_button(f: Collector, b: Mapping[str, Any], where: str) -> None:
    w = f"{where}.url"
    url = as_str(b.get("url"))
    if not url or not _HTTP.match(url):
        f.error(w, "a URL button needs an http(s) URL")
        return
    if len(url) > URL_MAX:
        f.error(w, f"the URL is {len(url)} characters; at most {URL_MAX}")
    for m in ANY_BRACES.finditer(url):
        if not STRICT_NAME.fullmatch(m.group(1)):
            f.error(w, f"{m.group(0)!r} is not a variable")
    names = VARIABLE.findall(url)
    if not names:
        return
    if names != ["1"]:
        f.error(w, "a URL takes one variable, {{1}}")
    elif not url.endswith("}}"):
        f.error(w, "only the end of the URL can vary: put {{1}} last")
    ex = as_list(b.get("example"))
    if not ex or not isinstance(ex[0], str) or not _HTTP.match(ex[0]):
        f.error(f"{where}.example", "a URL with {{1}} needs an example: the full URL")
