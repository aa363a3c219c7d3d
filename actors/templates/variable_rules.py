"""Review rules for the ``{{…}}`` variables of a text, and the examples they need.

Why a module of its own: bodies, text headers and carousel cards all carry variables, and
Meta reviews them the same way wherever they are: the syntax and numbering under the
template's ``parameter_format``, where they sit in the text and how dense they are
(cloud-api.md 3), and an example value for each (Meta reviews the filled text). The
simulator's review (sim/templates.py ``review``) writes these rules the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from actors.templates.definition import as_list, as_map, as_str
from actors.templates.findings import Collector
from actors.templates.review_limits import MIN_WORDS_PER_VARIABLE
from actors.templates.schema import VARIABLE, ParameterFormat

__all__ = [
    "ANY_BRACES",
    "STRICT_NAME",
    "check_examples",
    "check_placement",
    "check_variables",
]

ANY_BRACES: Final = re.compile(r"\{\{(.*?)\}\}")
STRICT_NAME: Final = re.compile(r"[A-Za-z0-9_]+")
_NAMED: Final = re.compile(r"[a-z_]+")
"""Named variables: lowercase letters and underscores (as the simulator's review)."""
_SINGLE_BRACES: Final = re.compile(r"(?<!\{)\{[A-Za-z0-9_]+\}(?!\})")
_ADJACENT: Final = re.compile(r"\}\}\s*\{\{")


def check_variables(f: Collector, text: str, where: str, fmt: ParameterFormat) -> list[str]:
    """Check the variables of one text; return their distinct names in order."""
    for m in ANY_BRACES.finditer(text):
        if not STRICT_NAME.fullmatch(m.group(1)):
            f.error(where, f"{m.group(0)!r} is not a variable: write {{{{1}}}} or {{{{name}}}}")
    if "{{" in ANY_BRACES.sub("", text) or "}}" in ANY_BRACES.sub("", text):
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


def check_placement(f: Collector, text: str, where: str, names: Sequence[str]) -> None:
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


def check_examples(
    f: Collector,
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
    example = as_map(comp.get("example")) or {}
    if fmt == "named":
        w = f"{where}.example.{named_key}"
        items = as_list(example.get(named_key))
        if items is None:
            f.error(w, f"every variable needs an example: add {named_key} for {list(names)}")
            return
        given: dict[str, object] = {}
        for item in items:
            m = as_map(item)
            if m is None or not isinstance(m.get("param_name"), str):
                f.error(w, "each example is {param_name, example}")
                continue
            given[m["param_name"]] = m.get("example")
        for n in names:
            if n not in given:
                f.error(w, f"no example for {{{{{n}}}}}")
            elif not as_str(given[n]) or not str(given[n]).strip():
                f.error(w, f"the example for {{{{{n}}}}} is empty")
        for n in given:
            if n not in names:
                f.error(w, f"example for {{{{{n}}}}}, which the text does not use")
        return
    w = f"{where}.example.{positional_key}"
    raw = as_list(example.get(positional_key))
    row = as_list(raw[0]) if nested and raw else raw
    if not row:
        shape = "[[…]]" if nested else "[…]"
        f.error(w, f"every variable needs an example: add {positional_key} {shape}")
        return
    if len(row) != len(names):
        f.error(w, f"{len(names)} variables but {len(row)} example values")
    if any(not isinstance(v, str) or not v.strip() for v in row):
        f.error(w, "example values must be non-empty strings")
