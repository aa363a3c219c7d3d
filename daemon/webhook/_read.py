"""Typed readers for decoded webhook JSON, shared by the field parsers (private).

Why tiny functions instead of a schema library: each reads one key and checks its type
once, which is all the webhook path can afford per value, and none of them can raise on
any JSON value, which is what lets :func:`daemon.webhook.payloads.parse` promise never to
raise for a JSON object.
"""

from __future__ import annotations

from typing import Any

from daemon.webhook import content as c, events as e
from daemon.webhook.content import JSON

__all__ = [
    "Sink",
    "array",
    "context",
    "errors",
    "ident",
    "integer",
    "number",
    "obj",
    "referral",
    "text",
    "tier",
    "timestamp",
]


class Sink:
    """Where the parsers put what they make of one body."""

    __slots__ = ("errors", "events", "unknown")

    def __init__(self) -> None:
        self.events: list[e.Event] = []
        self.unknown: list[e.UnknownChange] = []
        self.errors: list[str] = []

    def skip(self, field: str | None, waba_id: str | None, reason: str, value: Any) -> None:
        """Record a piece of the body that yields no event."""
        self.unknown.append(e.UnknownChange(field, waba_id, reason, value))


def text(d: JSON | None, key: str) -> str | None:
    """A string value, as is (an empty string stays empty)."""
    if d is None:
        return None
    v = d.get(key)
    return v if isinstance(v, str) else None


def ident(d: JSON | None, key: str) -> str | None:
    """An identifier: a non-empty string, or a JSON integer as its decimal string."""
    if d is None:
        return None
    v = d.get(key)
    if isinstance(v, str):
        return v or None
    if type(v) is int:
        return str(v)
    return None


def integer(v: Any) -> int | None:
    """A JSON integer, or a string of ASCII digits (Meta quotes its timestamps)."""
    if type(v) is int:
        return v
    if isinstance(v, str) and 0 < len(v) <= 20 and v.isascii() and v.isdigit():
        return int(v)
    return None


def number(v: Any) -> float | None:
    """A JSON number, or a short string holding one."""
    if type(v) is int or type(v) is float:
        return float(v)
    if isinstance(v, str) and len(v) <= 40:
        try:
            return float(v)
        except ValueError:
            return None
    return None


def obj(d: JSON | None, key: str) -> JSON | None:
    if d is None:
        return None
    v = d.get(key)
    return v if isinstance(v, dict) else None


def array(d: JSON, key: str) -> list[Any]:
    """A list value, or ``[]`` when absent or of another type."""
    v = d.get(key)
    return v if isinstance(v, list) else []


def tier(v: Any) -> str | None:
    """A messaging limit: a tier name (``TIER_2K``) in new payloads, a number in old ones."""
    if isinstance(v, str):
        return v or None
    return str(v) if type(v) is int else None


def timestamp(d: JSON, sink: Sink, what: str) -> int:
    """``d["timestamp"]`` in Unix seconds; 0 and an error line when unreadable."""
    ts = integer(d.get("timestamp"))
    if ts is None:
        sink.errors.append(f"{what}: timestamp missing or not a number, 0 used")
        return 0
    return ts


def errors(v: Any) -> tuple[c.ErrorDetail, ...]:
    """Meta's ``errors[]``: entries that are not objects are left out."""
    if not isinstance(v, list):
        return ()
    return tuple(
        c.ErrorDetail(
            code=integer(x.get("code")),
            title=text(x, "title"),
            message=text(x, "message"),
            details=text(obj(x, "error_data"), "details"),
            href=text(x, "href"),
        )
        for x in v
        if isinstance(x, dict)
    )


def context(v: Any) -> c.Context | None:
    if not isinstance(v, dict):
        return None
    return c.Context(
        from_wa_id=ident(v, "from"),
        message_id=text(v, "id"),
        forwarded=v.get("forwarded") is True,
        frequently_forwarded=v.get("frequently_forwarded") is True,
    )


def referral(v: Any) -> c.Referral | None:
    if not isinstance(v, dict):
        return None
    return c.Referral(
        source_type=text(v, "source_type"),
        source_id=ident(v, "source_id"),
        source_url=text(v, "source_url"),
        headline=text(v, "headline"),
        body=text(v, "body"),
        media_type=text(v, "media_type"),
        image_url=text(v, "image_url"),
        video_url=text(v, "video_url"),
        thumbnail_url=text(v, "thumbnail_url"),
        ctwa_clid=text(v, "ctwa_clid"),
        raw=v,
    )
