"""Reading a template definition: the file, and its untyped JSON shapes.

Why a module of its own: a definition comes from a JSON or TOML file or from Meta's GET
answer, so nothing in it can be trusted to have the type it should. The rule families read
it only through these accessors, which answer ``None`` (or report an error) for the wrong
shape instead of raising. :func:`load_definition` is the linter's only I/O.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from actors.templates.findings import Collector

__all__ = [
    "as_list",
    "as_map",
    "as_str",
    "check_field_types",
    "kind_of",
    "load_definition",
    "read_components",
]


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def as_list(value: object) -> list[Any] | None:
    return value if isinstance(value, list) else None


def as_map(value: object) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def kind_of(comp: Mapping[str, Any]) -> str:
    return str(comp.get("type", "")).upper()


def read_components(f: Collector, value: object, where: str) -> list[Mapping[str, Any]]:
    items = as_list(value)
    if items is None:
        f.error(where, "components must be a list")
        return []
    out: list[Mapping[str, Any]] = []
    for i, c in enumerate(items):
        m = as_map(c)
        if m is None:
            f.error(f"{where}[{i}]", "a component must be an object")
        else:
            out.append(m)
    return out


_STRING_FIELDS: Final = ("format", "text")


def check_field_types(f: Collector, comp: Mapping[str, Any], where: str) -> bool:
    """Report a component field whose JSON type the Graph API refuses; True when none is.

    Why: ``format`` and ``text`` are strings, ``example`` an object and ``buttons`` a list
    of objects, or the creation call is refused before any review (``metad templates
    create`` validates them as :class:`daemon.graph.resources.TemplateComponentSpec`
    does). The rule families read fields through the accessors above, which take a wrong
    type for an absent field, so without this a ``"format": 5`` on a BODY would pass and a
    ``"text": 5`` would be called missing. A component with a wrong type is not checked
    further: one line per problem. ``null`` counts as absent, as the API takes it.
    """
    ok = True
    for key in _STRING_FIELDS:
        if comp.get(key) is not None and as_str(comp[key]) is None:
            f.error(f"{where}.{key}", "must be a string")
            ok = False
    if comp.get("example") is not None and as_map(comp["example"]) is None:
        f.error(f"{where}.example", "must be an object")
        ok = False
    buttons = comp.get("buttons")
    if buttons is not None:
        items = as_list(buttons)
        if items is None:
            f.error(f"{where}.buttons", "must be a list")
            return False
        for i, b in enumerate(items):
            if as_map(b) is None:
                f.error(f"{where}.buttons[{i}]", "a button must be an object")
                ok = False
    return ok


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
