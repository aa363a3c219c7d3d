"""Lenient readers of wire values, shared by the console's models.

Why lenient: a daemon one version ahead or behind must still give a usable console, so a
missing or mistyped field reads as a neutral default instead of failing the whole screen.
Money arrives as decimal strings (the budget) or numbers (campaigns); both read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["as_float", "as_int", "as_optional_float", "as_str"]


def as_str(doc: Mapping[str, Any], key: str, default: str = "") -> str:
    value = doc.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return default


def as_optional_float(doc: Mapping[str, Any], key: str) -> float | None:
    """A number, or a decimal string (``"12.50"``); None when absent or unreadable."""
    value = doc.get(key)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def as_float(doc: Mapping[str, Any], key: str) -> float:
    value = as_optional_float(doc, key)
    return 0.0 if value is None else value


def as_int(doc: Mapping[str, Any], key: str) -> int:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value)
