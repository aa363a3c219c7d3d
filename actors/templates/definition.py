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
from typing import Any

from actors.templates.findings import Collector

__all__ = ["as_list", "as_map", "as_str", "kind_of", "load_definition", "read_components"]


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
