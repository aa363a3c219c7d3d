"""Check a template definition before it is submitted, and say why it would fail review.

Why: Meta's review takes minutes to days and answers only ``REJECTED`` with a terse
reason; a rejection costs a campaign its slot. The old service (behaviour.md 7.10) just
posted and, on failure, still reported success. Every rule here is one Meta applies
(cloud-api.md 3, or Meta's public template guidelines where cloud-api.md is silent — the
constant says so), and where the simulator's review (sim/templates.py ``review``)
applies the same rule the check is written the same way, so a definition without errors
here is approved there.

What a finding says (severity, field path): :mod:`actors.templates.findings`.

Each rule family has its own module: the limits (:mod:`actors.templates.review_limits`),
variables and examples (:mod:`~actors.templates.variable_rules`), header/body/footer/buttons
(:mod:`~actors.templates.component_rules`), authentication
(:mod:`~actors.templates.auth_rules`) and carousels (:mod:`~actors.templates.carousel_rules`).
This module checks the top level (name, language, category, parameter format, which
components), hands each component to its family, then adds the category hints; it also
re-exports the names callers import from here.

Pure except :func:`load_definition` (:mod:`actors.templates.definition`), the one function
that reads a file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Final

from actors.templates.auth_rules import check_authentication
from actors.templates.carousel_rules import check_carousel, lint_carousel
from actors.templates.component_rules import (
    check_body,
    check_buttons,
    check_footer,
    check_header,
)
from actors.templates.definition import (
    as_str,
    check_field_types,
    kind_of,
    load_definition,
    read_components,
)
from actors.templates.findings import (
    Collector,
    Finding,
    Severity,
    format_findings,
    has_errors,
)
from actors.templates.review_limits import (
    AUTH_EXPIRY_MINUTES,
    BODY_MAX,
    BUTTON_TEXT_MAX,
    BUTTONS_MAX,
    CARD_BODY_MAX,
    CARD_BUTTONS,
    CARDS,
    CATEGORIES,
    CODE_EXAMPLE_MAX,
    FOOTER_MAX,
    HEADER_TEXT_MAX,
    HEADER_VARIABLES_MAX,
    MIN_WORDS_PER_VARIABLE,
    NAME_MAX,
    NAME_RE,
    PARAMETER_FORMATS,
    PHONE_MAX,
    PROMOTIONAL,
    URL_BUTTONS_MAX,
    URL_MAX,
)
from actors.templates.schema import ParameterFormat

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

_LANGUAGE: Final = re.compile(r"[a-z]{2,3}(?:_[A-Z][A-Za-z]{1,3})?")


def lint(defn: Mapping[str, Any]) -> list[Finding]:
    """Every finding for one template definition (creation payload or GET item)."""
    f = Collector()
    name = as_str(defn.get("name"))
    if not name:
        f.error("name", "a template needs a name")
    elif len(name) > NAME_MAX or not NAME_RE.fullmatch(name):
        f.error("name", f"lowercase letters, digits and underscores only, ≤ {NAME_MAX} chars")
    language = as_str(defn.get("language"))
    if not language:
        f.error("language", "a template needs a language code such as pt_BR")
    elif len(language) < 2:
        f.error("language", f"{language!r} is not a language code (pt_BR, en)")
    elif not _LANGUAGE.fullmatch(language):
        f.warn("language", f"{language!r} does not look like a Meta language code (pt_BR, en)")
    category = str(defn.get("category", "")).upper()
    if category not in CATEGORIES:
        f.error("category", f"category must be one of {sorted(CATEGORIES)}")
    raw_fmt = defn.get("parameter_format", "positional")
    fmt: ParameterFormat = "named" if str(raw_fmt).lower() == "named" else "positional"
    if str(raw_fmt).lower() not in PARAMETER_FORMATS:
        f.error("parameter_format", "parameter_format is POSITIONAL or NAMED")
    if not isinstance(defn.get("allow_category_change"), bool | None):
        f.error("allow_category_change", "must be true or false")

    comps = read_components(f, defn.get("components"), "components")
    indexed: list[tuple[int, Mapping[str, Any]]] = []
    seen: dict[str, int] = {}
    for i, c in enumerate(comps):
        kind = kind_of(c)
        if kind not in ("HEADER", "BODY", "FOOTER", "BUTTONS", "CAROUSEL"):
            f.error(f"components[{i}].type", f"unknown component type {kind!r}")
        elif kind in seen:
            f.error(f"components[{i}].type", f"a second {kind} component")
        else:
            seen[kind] = i
            if check_field_types(f, c, f"components[{i}]"):
                indexed.append((i, c))
    if "BODY" not in seen:
        f.error("components", "a template needs a BODY")

    if category == "AUTHENTICATION":
        check_authentication(f, indexed)
    else:
        carousel = "CAROUSEL" in seen
        for i, c in indexed:
            where = f"components[{i}]"
            kind = kind_of(c)
            if carousel and kind in ("HEADER", "BUTTONS"):
                f.error(
                    f"{where}.type",
                    f"a carousel template has no top-level {kind}; "
                    "headers and buttons go on the cards",
                )
            elif kind == "HEADER":
                check_header(f, c, where, fmt, card=False)
            elif kind == "BODY":
                check_body(f, c, where, fmt, BODY_MAX)
            elif kind == "FOOTER":
                check_footer(f, c, where)
            elif kind == "BUTTONS":
                check_buttons(f, c, where, card=False)
            elif kind == "CAROUSEL":
                check_carousel(f, c, where, fmt)

    if category in ("UTILITY", "AUTHENTICATION"):
        for where, text in f.texts:
            if m := PROMOTIONAL.search(text):
                f.warn(
                    where,
                    f"promotional wording ({m.group(0)!r}) in a {category} template: it may "
                    "be recategorised as MARKETING",
                )
    return f.findings


def lint_file(path: str | os.PathLike[str]) -> list[Finding]:
    """:func:`lint` a definition file; an unreadable or malformed file is one error."""
    try:
        defn = load_definition(path)
    except OSError as exc:
        return [Finding("error", "file", f"cannot read {os.fspath(path)}: {exc.strerror}")]
    except ValueError as exc:  # JSONDecodeError, TOMLDecodeError, UnicodeDecodeError
        return [Finding("error", "file", f"{os.fspath(path)} is not a valid definition: {exc}")]
    return lint(defn)
