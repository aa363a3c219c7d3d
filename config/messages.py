"""Pydantic's validation errors, reworded for someone editing a TOML file.

Why this module exists: pydantic speaks Python ("a valid dictionary or instance of
DaemonConfig", a regex, "Value error, …") while the reader of the message is editing
TOML. Each error keeps pydantic's meaning but says it in the file's terms: tables and
arrays, the allowed keys of a table, what a pattern stands for, and the value that was
written (never for a secret field: those errors carry no value at all).
"""

from __future__ import annotations

import datetime as dt
import json
import types
from collections.abc import Sequence
from typing import Annotated, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

__all__ = ["describe_error", "model_at", "show_value"]

_MAX_SHOWN = 40
_NO_VALUE = frozenset({"secret_ref", "missing", "extra_forbidden", "value_error"})
_PLAIN_PREFIXES = ("Value error, ", "Assertion failed, ")


def show_value(value: object) -> str:
    """Spell a parsed TOML value as it would be written (long strings are cut)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = json.dumps(value, ensure_ascii=False)
        return shown if len(shown) <= _MAX_SHOWN else shown[: _MAX_SHOWN - 2] + '…"'
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)


def _unwrap(tp: object) -> object:
    """Strip ``Annotated`` and ``X | None`` to reach the type a value must have."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            inner = [a for a in get_args(tp) if a is not type(None)]
            if len(inner) != 1:
                return tp
            tp = inner[0]
        else:
            return tp


def _field_type(root: type[BaseModel], loc: Sequence[str | int]) -> object:
    tp: object = root
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(part, int):
            if get_origin(tp) not in (list, tuple, set, frozenset):
                return None
            tp = get_args(tp)[0]
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            info = tp.model_fields.get(part)
            if info is None:
                return None
            tp = info.annotation
        else:
            return None
    return _unwrap(tp)


def model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class validating the table at ``loc``, if it is one."""
    tp = _field_type(root, loc)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def describe_error(
    error: ErrorDetails, root: type[BaseModel], pattern_hints: dict[str, str] | None = None
) -> str:
    """One line saying what is wrong with the value at ``error["loc"]``."""
    kind = error["type"]
    loc = error["loc"]
    msg = error["msg"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        parent = model_at(root, loc[:-1])
        allowed = ", ".join(parent.model_fields) if parent is not None else ""
        return f"unknown key (allowed: {allowed})" if allowed else "unknown key"
    for prefix in _PLAIN_PREFIXES:
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        msg = "Input should be a table"
    elif kind in ("list_type", "tuple_type", "set_type"):
        msg = "Input should be an array"
    elif kind == "path_type":
        msg = "Input should be a path (a string)"
    elif kind == "literal_error":
        msg = msg.replace("'", '"')  # TOML quotes strings with "
    elif kind == "string_pattern_mismatch" and pattern_hints:
        hint = pattern_hints.get(str(ctx.get("pattern", "")))
        if hint:
            msg = f"Input should be {hint}"
    elif kind.endswith(("_type", "_parsing")):
        msg = msg.split(", ", 1)[0]  # drop pydantic's parser detail; the value says more
    if kind in _NO_VALUE or "input" not in error:
        return msg
    return f"{msg}, got {show_value(error['input'])}"
