"""Check a template definition before it is submitted, and say why it would fail review.

Why: Meta's review takes minutes to days and answers only ``REJECTED`` with a terse
reason; a rejection costs a campaign its slot. The old service (behaviour.md 7.10) just
posted and, on failure, still reported success. Every rule here is one Meta applies
(cloud-api.md 3, or Meta's public template guidelines where cloud-api.md is silent — the
constant says so), and where the simulator's review (sim/templates.py ``review``)
applies the same rule the check is written the same way, so a definition without errors
here is approved there.

Severity: ``error`` — Meta rejects the template (or the creation call fails);
``warning`` — it may pass but not as intended (recategorised as MARKETING, text Meta
ignores, a variable used twice).

Field paths name the offending value in the definition: ``name``,
``components[1].text``, ``components[2].buttons[0].url``,
``components[1].cards[0].components[0].format``.

Pure except :func:`load_definition`, the one function that reads a file.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias

from actors.templates.schema import VARIABLE, ParameterFormat

__all__ = [
    "AUTH_EXPIRY_MINUTES",
    "BODY_MAX",
    "BUTTONS_MAX",
    "BUTTON_TEXT_MAX",
    "CARDS",
    "CARD_BODY_MAX",
    "CARD_BUTTONS",
    "CATEGORIES",
    "CODE_EXAMPLE_MAX",
    "FOOTER_MAX",
    "HEADER_TEXT_MAX",
    "HEADER_VARIABLES_MAX",
    "MIN_WORDS_PER_VARIABLE",
    "NAME_MAX",
    "PHONE_MAX",
    "PROMOTIONAL",
    "URL_BUTTONS_MAX",
    "URL_MAX",
    "Finding",
    "Severity",
    "format_findings",
    "has_errors",
    "lint",
    "lint_carousel",
    "lint_file",
    "load_definition",
]

Severity: TypeAlias = Literal["error", "warning"]

# --- thresholds ------------------------------------------------------------------------

NAME_MAX: Final = 512
"""Template names; Meta's public limit (the simulator caps ``template.name`` at 512 too)."""
NAME_RE: Final = re.compile(r"[a-z0-9_]+")
"""cloud-api.md 3 says lowercase with underscores; Meta also allows digits."""
BODY_MAX: Final = 1024
"""cloud-api.md 3."""
HEADER_TEXT_MAX: Final = 60
"""cloud-api.md is silent; Meta's public limit for a text header."""
HEADER_VARIABLES_MAX: Final = 1
"""cloud-api.md is silent; Meta allows one variable in a text header."""
FOOTER_MAX: Final = 60
"""cloud-api.md is silent; Meta's public limit for a footer."""
BUTTONS_MAX: Final = 10
"""cloud-api.md is silent; Meta's public limit for buttons on one template."""
URL_BUTTONS_MAX: Final = 2
PHONE_BUTTONS_MAX: Final = 1
COPY_CODE_BUTTONS_MAX: Final = 1
"""Per-type caps: cloud-api.md is silent; Meta's public limits."""
BUTTON_TEXT_MAX: Final = 25
"""Button labels of every type; cloud-api.md is silent (its 20 is for *interactive* reply
buttons, not templates); Meta's public template limit is 25."""
URL_MAX: Final = 2000
"""cloud-api.md is silent; Meta's public limit for a URL button."""
PHONE_MAX: Final = 20
"""cloud-api.md is silent; Meta's public limit for a phone-number button."""
CODE_EXAMPLE_MAX: Final = 15
"""cloud-api.md is silent; Meta's public limit for copy-code coupons."""
CARDS: Final = (2, 10)
"""cloud-api.md 2: carousels take 2–10 cards (the old builder allowed 1, 15.5 #27)."""
CARD_BODY_MAX: Final = 160
"""cloud-api.md is silent; Meta's public limit for a carousel card's body."""
CARD_BUTTONS: Final = (1, 2)
"""cloud-api.md is silent; Meta requires one or two buttons on every card (behaviour.md 7.14)."""
AUTH_EXPIRY_MINUTES: Final = (1, 90)
"""cloud-api.md is silent; Meta's public range for ``code_expiration_minutes``."""
MIN_WORDS_PER_VARIABLE: Final = 3
"""Meta rejects "too many variables for the text length" (cloud-api.md 3) without
publishing the ratio. The simulator rejects fewer than 3 words of fixed text per
variable (words = whitespace-separated tokens once the variables are removed); so do we."""

CATEGORIES: Final = frozenset({"MARKETING", "UTILITY", "AUTHENTICATION"})
PARAMETER_FORMATS: Final = frozenset({"positional", "named"})
HEADER_FORMATS: Final = frozenset({"TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"})
CARD_HEADER_FORMATS: Final = frozenset({"IMAGE", "VIDEO"})
BUTTON_TYPES: Final = frozenset(
    {"QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "FLOW", "OTP", "CATALOG", "MPM"}
)
CARD_BUTTON_TYPES: Final = frozenset({"QUICK_REPLY", "URL", "PHONE_NUMBER"})
OTP_TYPES: Final = frozenset({"COPY_CODE", "ONE_TAP", "ZERO_TAP"})

PROMOTIONAL: Final = re.compile(
    r"(?<!\w)(?:"
    r"promo\w*|descont\w*|ofert\w*|gr[aá]tis|compre(?!end|ens)\w*|cupo[mn]\w*|"
    r"liquida[çc]\w*|imperd[ií]ve\w*|black\s+friday|"
    r"sales?(?!\w)|offer\w*|discount\w*|coupon\w*|free\s+(?:trial|shipping|gift)|buy\s+now"
    r")",
    re.IGNORECASE,
)
"""Promotional words that make Meta move a UTILITY/AUTHENTICATION template to MARKETING.

Matched at the start of a word, so "promoção" and "descontos" count. The simulator
matches its list ("promo", "desconto", "oferta", "discount", "sale", "cupom", "compre")
anywhere in the body; matching at word starts keeps "compreender" quiet and misses only
mid-word hits such as "wholesale"."""

_ANY_BRACES: Final = re.compile(r"\{\{(.*?)\}\}")
_STRICT_NAME: Final = re.compile(r"[A-Za-z0-9_]+")
_NAMED: Final = re.compile(r"[a-z_]+")
"""Named variables: lowercase letters and underscores (as the simulator's review)."""
_SINGLE_BRACES: Final = re.compile(r"(?<!\{)\{[A-Za-z0-9_]+\}(?!\})")
_ADJACENT: Final = re.compile(r"\}\}\s*\{\{")
_LANGUAGE: Final = re.compile(r"[a-z]{2,3}(?:_[A-Z][A-Za-z]{1,3})?")
_PHONE: Final = re.compile(r"\+?[0-9]{6,20}")
_HTTP: Final = re.compile(r"https?://\S+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.field}: {self.message}"


@dataclass(slots=True)
class _Collector:
    findings: list[Finding] = dc_field(default_factory=list)
    texts: list[tuple[str, str]] = dc_field(default_factory=list)
    """(field, text) of every human-readable text, for the category hints."""

    def error(self, where: str, message: str) -> None:
        self.findings.append(Finding("error", where, message))

    def warn(self, where: str, message: str) -> None:
        self.findings.append(Finding("warning", where, message))


def has_errors(findings: Sequence[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


def format_findings(findings: Sequence[Finding]) -> str:
    """One line per finding, errors first; for a CLI or a log."""
    ordered = sorted(findings, key=lambda f: f.severity != "error")
    return "\n".join(str(f) for f in ordered)


# --- helpers ---------------------------------------------------------------------------


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _list(value: object) -> list[Any] | None:
    return value if isinstance(value, list) else None


def _map(value: object) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _kind(comp: Mapping[str, Any]) -> str:
    return str(comp.get("type", "")).upper()


def _components(f: _Collector, value: object, where: str) -> list[Mapping[str, Any]]:
    items = _list(value)
    if items is None:
        f.error(where, "components must be a list")
        return []
    out: list[Mapping[str, Any]] = []
    for i, c in enumerate(items):
        m = _map(c)
        if m is None:
            f.error(f"{where}[{i}]", "a component must be an object")
        else:
            out.append(m)
    return out


def _variables(f: _Collector, text: str, where: str, fmt: ParameterFormat) -> list[str]:
    """Check the variables of one text; return their distinct names in order."""
    for m in _ANY_BRACES.finditer(text):
        if not _STRICT_NAME.fullmatch(m.group(1)):
            f.error(where, f"{m.group(0)!r} is not a variable: write {{{{1}}}} or {{{{name}}}}")
    if "{{" in _ANY_BRACES.sub("", text) or "}}" in _ANY_BRACES.sub("", text):
        f.error(where, "unbalanced '{{' or '}}'")
    if m1 := _SINGLE_BRACES.search(text):
        f.warn(where, f"{m1.group(0)!r} has single braces; Meta only fills {{{{…}}}}")
    names = VARIABLE.findall(text)
    distinct = list(dict.fromkeys(names))
    repeated = sorted({n for n in names if names.count(n) > 1})
    if fmt == "positional":
        named = [n for n in distinct if not n.isdigit()]
        for n in named:
            f.error(where, f"{{{{{n}}}}} is a named variable but parameter_format is POSITIONAL")
        for n in repeated:
            f.error(where, f"{{{{{n}}}}} appears more than once; each number is used once")
        numbers = [n for n in distinct if n.isdigit()]
        if named or repeated or not numbers:
            return distinct
        if any(n != str(int(n)) for n in numbers):
            f.error(where, "write variables as {{1}}, {{2}}…, without leading zeros")
            return distinct
        expected = [str(i) for i in range(1, len(numbers) + 1)]
        if sorted(numbers, key=int) != expected:
            found = ", ".join(f"{{{{{n}}}}}" for n in sorted(numbers, key=int))
            f.error(
                where,
                f"positional variables must be {{{{1}}}}..{{{{{len(numbers)}}}}} without gaps; "
                f"found {found}",
            )
        elif numbers != expected:
            f.error(where, "positional variables must be numbered in order of appearance")
        return distinct
    for n in distinct:
        if n.isdigit():
            f.error(where, f"{{{{{n}}}}} is positional but parameter_format is NAMED")
        elif not _NAMED.fullmatch(n):
            f.error(where, f"{{{{{n}}}}}: named variables are lowercase letters and underscores")
    for n in repeated:
        f.warn(where, f"{{{{{n}}}}} appears more than once; Meta takes one value per name")
    return distinct


def _placement(f: _Collector, text: str, where: str, names: Sequence[str]) -> None:
    """Start/end, adjacency and density: the review rules of cloud-api.md 3."""
    if not names:
        return
    stripped = text.strip()
    if stripped.startswith("{{"):
        f.error(where, "the body cannot start with a variable")
    if stripped.endswith("}}"):
        f.error(where, "the body cannot end with a variable")
    if _ADJACENT.search(text):
        f.error(where, "two variables with only whitespace between them; put words between")
    words = len(VARIABLE.sub(" ", text).split())
    need = MIN_WORDS_PER_VARIABLE * len(VARIABLE.findall(text))
    if words < need:
        f.error(
            where,
            f"too many variables for the text: {len(VARIABLE.findall(text))} variables need "
            f"at least {need} words of fixed text, there are {words}",
        )


def _examples(
    f: _Collector,
    comp: Mapping[str, Any],
    where: str,
    names: Sequence[str],
    fmt: ParameterFormat,
    positional_key: str,
    named_key: str,
    *,
    nested: bool,
) -> None:
    """Meta requires an example value for every variable (it reviews the filled text)."""
    if not names:
        return
    example = _map(comp.get("example")) or {}
    if fmt == "named":
        w = f"{where}.example.{named_key}"
        items = _list(example.get(named_key))
        if items is None:
            f.error(w, f"every variable needs an example: add {named_key} for {list(names)}")
            return
        given: dict[str, object] = {}
        for item in items:
            m = _map(item)
            if m is None or not isinstance(m.get("param_name"), str):
                f.error(w, "each example is {param_name, example}")
                continue
            given[m["param_name"]] = m.get("example")
        for n in names:
            if n not in given:
                f.error(w, f"no example for {{{{{n}}}}}")
            elif not _str(given[n]) or not str(given[n]).strip():
                f.error(w, f"the example for {{{{{n}}}}} is empty")
        for n in given:
            if n not in names:
                f.error(w, f"example for {{{{{n}}}}}, which the text does not use")
        return
    w = f"{where}.example.{positional_key}"
    raw = _list(example.get(positional_key))
    row = _list(raw[0]) if nested and raw else raw
    if not row:
        shape = "[[…]]" if nested else "[…]"
        f.error(w, f"every variable needs an example: add {positional_key} {shape}")
        return
    if len(row) != len(names):
        f.error(w, f"{len(names)} variables but {len(row)} example values")
    if any(not isinstance(v, str) or not v.strip() for v in row):
        f.error(w, "example values must be non-empty strings")


# --- components ------------------------------------------------------------------------


def _body(
    f: _Collector, comp: Mapping[str, Any], where: str, fmt: ParameterFormat, limit: int
) -> None:
    text = _str(comp.get("text"))
    w = f"{where}.text"
    if not text or not text.strip():
        f.error(w, "the body text is required")
        return
    f.texts.append((w, text))
    if len(text) > limit:
        f.error(w, f"the body is {len(text)} characters; at most {limit}")
    names = _variables(f, text, w, fmt)
    _placement(f, text, w, names)
    _examples(f, comp, where, names, fmt, "body_text", "body_text_named_params", nested=True)


def _header(
    f: _Collector, comp: Mapping[str, Any], where: str, fmt: ParameterFormat, *, card: bool
) -> str | None:
    """Check a header; return its format when it is a known one."""
    fmt_h = str(comp.get("format", "")).upper()
    allowed = CARD_HEADER_FORMATS if card else HEADER_FORMATS
    if fmt_h not in allowed:
        f.error(f"{where}.format", f"header format must be one of {sorted(allowed)}")
        return None
    if fmt_h == "TEXT":
        text = _str(comp.get("text"))
        w = f"{where}.text"
        if not text or not text.strip():
            f.error(w, "a TEXT header needs text")
            return fmt_h
        f.texts.append((w, text))
        if len(text) > HEADER_TEXT_MAX:
            f.error(w, f"the header is {len(text)} characters; at most {HEADER_TEXT_MAX}")
        if "\n" in text or "\r" in text:
            f.error(w, "a header is one line")
        names = _variables(f, text, w, fmt)
        if len(names) > HEADER_VARIABLES_MAX:
            f.error(w, f"a header takes at most {HEADER_VARIABLES_MAX} variable")
        _examples(
            f, comp, where, names, fmt, "header_text", "header_text_named_params", nested=False
        )
    elif fmt_h != "LOCATION":
        w = f"{where}.example.header_handle"
        handles = _list((_map(comp.get("example")) or {}).get("header_handle"))
        if not handles or not isinstance(handles[0], str) or not handles[0].strip():
            f.error(w, f"the {fmt_h} header needs an example handle from the resumable upload API")
        elif _HTTP.match(handles[0]) or handles[0].isdigit():
            # The old service sent URLs and /media ids here (behaviour.md 15.5 #30).
            f.error(w, "header_handle must be a resumable-upload handle, not a URL or media id")
    return fmt_h


def _footer(f: _Collector, comp: Mapping[str, Any], where: str) -> None:
    text = _str(comp.get("text"))
    w = f"{where}.text"
    if not text or not text.strip():
        f.error(w, "a footer needs text")
        return
    f.texts.append((w, text))
    if len(text) > FOOTER_MAX:
        f.error(w, f"the footer is {len(text)} characters; at most {FOOTER_MAX}")
    if "{{" in text or "}}" in text:
        f.error(w, "a footer cannot contain variables")


def _buttons(f: _Collector, comp: Mapping[str, Any], where: str, *, card: bool) -> tuple[str, ...]:
    """Check a BUTTONS component; return the sequence of button types (its "shape")."""
    buttons = _list(comp.get("buttons"))
    w = f"{where}.buttons"
    if not buttons:
        f.error(w, "a BUTTONS component needs at least one button")
        return ()
    types = tuple(str((_map(b) or {}).get("type", "")).upper() for b in buttons)
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
        button = _map(b)
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


def _button(f: _Collector, b: Mapping[str, Any], where: str, kind: str) -> None:
    text = _str(b.get("text"))
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
        phone = _str(b.get("phone_number"))
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


def _url_button(f: _Collector, b: Mapping[str, Any], where: str) -> None:
    w = f"{where}.url"
    url = _str(b.get("url"))
    if not url or not _HTTP.match(url):
        f.error(w, "a URL button needs an http(s) URL")
        return
    if len(url) > URL_MAX:
        f.error(w, f"the URL is {len(url)} characters; at most {URL_MAX}")
    for m in _ANY_BRACES.finditer(url):
        if not _STRICT_NAME.fullmatch(m.group(1)):
            f.error(w, f"{m.group(0)!r} is not a variable")
    names = VARIABLE.findall(url)
    if not names:
        return
    if names != ["1"]:
        f.error(w, "a URL takes one variable, {{1}}")
    elif not url.endswith("}}"):
        f.error(w, "only the end of the URL can vary: put {{1}} last")
    ex = _list(b.get("example"))
    if not ex or not isinstance(ex[0], str) or not _HTTP.match(ex[0]):
        f.error(f"{where}.example", "a URL with {{1}} needs an example: the full URL")


# --- authentication --------------------------------------------------------------------


def _auth(f: _Collector, comps: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
    """Meta's fixed authentication format (cloud-api.md 3; behaviour.md 15.5 #31)."""
    kinds = {_kind(c): i for i, c in comps}
    for i, c in comps:
        where = f"components[{i}]"
        kind = _kind(c)
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


def _auth_body(f: _Collector, c: Mapping[str, Any], where: str) -> None:
    sec = c.get("add_security_recommendation")
    if sec is not None and not isinstance(sec, bool):
        f.error(f"{where}.add_security_recommendation", "must be true or false")
    text = _str(c.get("text"))
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


def _auth_footer(f: _Collector, c: Mapping[str, Any], where: str) -> None:
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


def _auth_buttons(f: _Collector, c: Mapping[str, Any], where: str) -> None:
    buttons = _list(c.get("buttons")) or []
    w = f"{where}.buttons"
    if len(buttons) != 1 or str((_map(buttons[0]) or {}).get("type", "")).upper() != "OTP":
        f.error(w, "authentication templates take exactly one button, of type OTP")
        return
    b = _map(buttons[0]) or {}
    otp = str(b.get("otp_type", "")).upper()
    if otp not in OTP_TYPES:
        f.error(f"{w}[0].otp_type", f"otp_type must be one of {sorted(OTP_TYPES)}")
        return
    for key in ("text", "autofill_text"):
        label = _str(b.get(key))
        if label is None:
            continue
        f.texts.append((f"{w}[0].{key}", label))
        if len(label) > BUTTON_TEXT_MAX:
            f.error(f"{w}[0].{key}", f"at most {BUTTON_TEXT_MAX} characters")
    if otp in ("ONE_TAP", "ZERO_TAP"):
        apps = _list(b.get("supported_apps"))
        legacy = b.get("package_name") and b.get("signature_hash")
        ok = apps and all(
            (m := _map(a)) is not None and m.get("package_name") and m.get("signature_hash")
            for a in apps
        )
        if not ok and not legacy:
            f.error(
                f"{w}[0].supported_apps",
                f"{otp} needs the Android app: supported_apps [{{package_name, signature_hash}}]",
            )
    if otp == "ZERO_TAP" and b.get("zero_tap_terms_accepted") is not True:
        f.error(f"{w}[0].zero_tap_terms_accepted", "ZERO_TAP needs zero_tap_terms_accepted: true")


# --- carousel --------------------------------------------------------------------------


def _carousel(f: _Collector, comp: Mapping[str, Any], where: str, fmt: ParameterFormat) -> None:
    cards = _list(comp.get("cards"))
    w = f"{where}.cards"
    if cards is None:
        f.error(w, "a carousel needs a list of cards")
        return
    lo, hi = CARDS
    if not lo <= len(cards) <= hi:
        f.error(w, f"{len(cards)} cards; a carousel takes {lo}–{hi}")
    shapes: list[tuple[int, str | None, tuple[str, ...] | None]] = []
    for i, card in enumerate(cards):
        cw = f"{w}[{i}]"
        m = _map(card)
        if m is None:
            f.error(cw, "a card must be an object")
            continue
        shapes.append((i, *_card(f, m, cw, fmt)))
    if not shapes:
        return
    first, header0, buttons0 = shapes[0]
    for i, header, buttons in shapes[1:]:
        if header and header0 and header != header0:
            f.error(f"{w}[{i}]", f"header is {header} but card {first}'s is {header0}; one type")
        if buttons is not None and buttons0 is not None and buttons != buttons0:
            f.error(
                f"{w}[{i}]",
                f"buttons {list(buttons)} differ from card {first}'s {list(buttons0)}; "
                "every card has the same buttons",
            )


def _card(
    f: _Collector, card: Mapping[str, Any], where: str, fmt: ParameterFormat
) -> tuple[str | None, tuple[str, ...] | None]:
    """Check one card; return its header format and buttons shape for the comparison."""
    comps = _components(f, card.get("components"), f"{where}.components")
    seen: dict[str, int] = {}
    header: str | None = None
    buttons: tuple[str, ...] | None = None
    for j, c in enumerate(comps):
        cw = f"{where}.components[{j}]"
        kind = _kind(c)
        if kind in seen:
            f.error(f"{cw}.type", f"a second {kind} in one card")
            continue
        seen[kind] = j
        if kind == "HEADER":
            header = _header(f, c, cw, fmt, card=True)
        elif kind == "BODY":
            _body(f, c, cw, fmt, CARD_BODY_MAX)
        elif kind == "BUTTONS":
            buttons = _buttons(f, c, cw, card=True)
        else:
            f.error(f"{cw}.type", "a card has only HEADER, BODY and BUTTONS")
    for kind in ("HEADER", "BODY", "BUTTONS"):
        if kind not in seen:
            f.error(f"{where}.components", f"every card needs a {kind}")
    return header, buttons


def lint_carousel(
    component: Mapping[str, Any],
    field: str = "components[0]",
    parameter_format: ParameterFormat = "positional",
) -> list[Finding]:
    """Check one CAROUSEL component: 2–10 cards, one header type, one buttons shape."""
    f = _Collector()
    _carousel(f, component, field, parameter_format)
    return f.findings


# --- the template ----------------------------------------------------------------------


def lint(defn: Mapping[str, Any]) -> list[Finding]:
    """Every finding for one template definition (creation payload or GET item)."""
    f = _Collector()
    name = _str(defn.get("name"))
    if not name:
        f.error("name", "a template needs a name")
    elif len(name) > NAME_MAX or not NAME_RE.fullmatch(name):
        f.error("name", f"lowercase letters, digits and underscores only, ≤ {NAME_MAX} chars")
    language = _str(defn.get("language"))
    if not language:
        f.error("language", "a template needs a language code such as pt_BR")
    elif not _LANGUAGE.fullmatch(language):
        f.warn("language", f"{language!r} does not look like a Meta language code (pt_BR, en)")
    category = str(defn.get("category", "")).upper()
    if category not in CATEGORIES:
        f.error("category", f"category must be one of {sorted(CATEGORIES)}")
    raw_fmt = defn.get("parameter_format", "positional")
    fmt: ParameterFormat = "named" if str(raw_fmt).lower() == "named" else "positional"
    if str(raw_fmt).lower() not in PARAMETER_FORMATS:
        f.error("parameter_format", "parameter_format is POSITIONAL or NAMED")

    comps = _components(f, defn.get("components"), "components")
    indexed: list[tuple[int, Mapping[str, Any]]] = []
    seen: dict[str, int] = {}
    for i, c in enumerate(comps):
        kind = _kind(c)
        if kind not in ("HEADER", "BODY", "FOOTER", "BUTTONS", "CAROUSEL"):
            f.error(f"components[{i}].type", f"unknown component type {kind!r}")
        elif kind in seen:
            f.error(f"components[{i}].type", f"a second {kind} component")
        else:
            seen[kind] = i
            indexed.append((i, c))
    if "BODY" not in seen:
        f.error("components", "a template needs a BODY")

    if category == "AUTHENTICATION":
        _auth(f, indexed)
    else:
        carousel = "CAROUSEL" in seen
        for i, c in indexed:
            where = f"components[{i}]"
            kind = _kind(c)
            if carousel and kind in ("HEADER", "BUTTONS"):
                f.error(
                    f"{where}.type",
                    f"a carousel template has no top-level {kind}; "
                    "headers and buttons go on the cards",
                )
            elif kind == "HEADER":
                _header(f, c, where, fmt, card=False)
            elif kind == "BODY":
                _body(f, c, where, fmt, BODY_MAX)
            elif kind == "FOOTER":
                _footer(f, c, where)
            elif kind == "BUTTONS":
                _buttons(f, c, where, card=False)
            elif kind == "CAROUSEL":
                _carousel(f, c, where, fmt)

    if category in ("UTILITY", "AUTHENTICATION"):
        for where, text in f.texts:
            if m := PROMOTIONAL.search(text):
                f.warn(
                    where,
                    f"promotional wording ({m.group(0)!r}) in a {category} template: it may "
                    "be recategorised as MARKETING",
                )
    return f.findings


def load_definition(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a template definition from a ``.toml`` file or JSON (any other name)."""
    p = Path(path)
    data = p.read_bytes()
    obj: object = (
        tomllib.loads(data.decode("utf-8")) if p.suffix.lower() == ".toml" else json.loads(data)
    )
    if not isinstance(obj, dict):
        raise ValueError("the definition must be an object at the top level")
    return obj


def lint_file(path: str | os.PathLike[str]) -> list[Finding]:
    """:func:`lint` a definition file; an unreadable or malformed file is one error."""
    try:
        defn = load_definition(path)
    except OSError as exc:
        return [Finding("error", "file", f"cannot read {os.fspath(path)}: {exc.strerror}")]
    except ValueError as exc:  # JSONDecodeError, TOMLDecodeError, UnicodeDecodeError
        return [Finding("error", "file", f"{os.fspath(path)} is not a valid definition: {exc}")]
    return lint(defn)
