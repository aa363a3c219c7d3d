"""Graph API errors and the one table that decides what metad does about each.

Why this module exists: Meta answers a failed call with an error *code*, and what the
daemon must do differs by code (slow a chip, pause it, fall back to a template, stop a
token...). If each caller interpreted codes itself the reactions would drift apart; so
every error becomes one :class:`GraphError`, and :func:`reaction_for` reads the single
table :data:`ERROR_TABLE` (docs/cloud-api.md §5). Actors receive a :class:`Reaction`,
never a raw code.

The shape of a failure::

    GraphError                  every failed call; http_status/code/subcode/type/message/
    │                           fbtrace_id as Meta sent them, body kept for the log
    ├── code set                Meta explained the failure (an ``{"error": {...}}`` body,
    │                           or a failed status webhook carrying ``errors[]``)
    ├── code None, http_status  an answer that was not Meta's error shape (HTML from a
    │                           proxy, truncated JSON, an unexpected 200 body)
    └── transport set           no answer at all: connect/read/write failure or timeout;
                                ``sent`` tells whether the request may have reached Meta

This module must stay free of I/O: it is imported by pure code and by the webhook
parser, which looks up the reaction for the ``errors[]`` of a failed status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from actors.reactions import Reaction

__all__ = [
    "ERROR_TABLE",
    "ErrorRule",
    "GraphError",
    "Reaction",
    "reaction_for",
]


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """One row of the table: the codes, what they mean, the reaction."""

    codes: tuple[int, ...]
    meaning: str
    reaction: Reaction


_PERMISSION_CODES: Final = (10, *range(200, 300))

ERROR_TABLE: Final[tuple[ErrorRule, ...]] = (
    ErrorRule((0, 190), "auth failed / token expired or invalid", Reaction.STOP_TOKEN),
    ErrorRule(_PERMISSION_CODES, "permission missing", Reaction.STOP_ACTION),
    ErrorRule((3,), "capability missing", Reaction.STOP_ACTION),
    ErrorRule((4, 80007), "app / WABA API rate limit", Reaction.BACKOFF_API),
    ErrorRule((130429,), "throughput exceeded", Reaction.SLOW_CHIP),
    ErrorRule((131056,), "pair rate limit", Reaction.RETRY_RECIPIENT_LATER),
    ErrorRule((131000, 131016, 133004), "internal / unavailable", Reaction.RETRY_BACKOFF),
    ErrorRule((100, 131008, 131009), "bad parameter", Reaction.FIX_REQUEST),
    ErrorRule((131026,), "undeliverable", Reaction.GIVE_UP_RECIPIENT),
    ErrorRule((131047,), "outside the 24 h window", Reaction.FALLBACK_TEMPLATE),
    ErrorRule((131048,), "spam rate limit hit", Reaction.PAUSE_CHIP),
    ErrorRule((131049,), "marketing frequency cap for this user", Reaction.DEFER_RECIPIENT),
    ErrorRule((131050,), "user stopped marketing messages", Reaction.OPTED_OUT),
    ErrorRule((131031,), "business account locked", Reaction.STOP_WABA),
    ErrorRule((131042,), "payment problem", Reaction.STOP_PAID_SENDS),
    ErrorRule(
        (131051, 131052, 131053), "unsupported type / media download / upload", Reaction.FIX_REQUEST
    ),
    ErrorRule((131057,), "account in maintenance", Reaction.RETRY_BACKOFF),
    ErrorRule((132000,), "template parameter count mismatch", Reaction.FIX_REQUEST),
    ErrorRule((132001,), "template does not exist", Reaction.TEMPLATE_UNUSABLE),
    ErrorRule(
        (132005, 132007, 132012),
        "template text too long / policy / parameter format",
        Reaction.FIX_REQUEST,
    ),
    ErrorRule((132015, 132016), "template paused / disabled", Reaction.TEMPLATE_UNUSABLE),
    ErrorRule((133010,), "phone number not registered", Reaction.PAUSE_CHIP),
    ErrorRule((368,), "blocked for policy violations", Reaction.PAUSE_CHIP),
    ErrorRule((130472,), "user in a marketing experiment", Reaction.GIVE_UP_RECIPIENT),
    ErrorRule((130497,), "messaging to that country restricted", Reaction.GIVE_UP_RECIPIENT),
)
"""docs/cloud-api.md §5, row for row. The only place a code gets a meaning."""


def _index(table: tuple[ErrorRule, ...]) -> Mapping[int, Reaction]:
    out: dict[int, Reaction] = {}
    for rule in table:
        for code in rule.codes:
            if code in out:  # pragma: no cover - guarded by a unit test as well
                raise ValueError(f"code {code} appears twice in ERROR_TABLE")
            out[code] = rule.reaction
    return MappingProxyType(out)


_BY_CODE: Final = _index(ERROR_TABLE)


def reaction_for(code: int | None, http_status: int | None) -> Reaction:
    """The reaction to an error, by its Graph code, else by the HTTP status.

    A code not in the table falls back on the status, so a new Meta code degrades to a
    sensible default instead of crashing: 401 stops the token, 403 stops the action,
    429 backs off, 5xx (or no answer at all) retries, any other 4xx is a bad request.
    """
    if code is not None:
        known = _BY_CODE.get(code)
        if known is not None:
            return known
    if http_status is None or http_status >= 500:
        return Reaction.RETRY_BACKOFF
    if http_status == 401:
        return Reaction.STOP_TOKEN
    if http_status == 403:
        return Reaction.STOP_ACTION
    if http_status == 429:
        return Reaction.BACKOFF_API
    return Reaction.FIX_REQUEST


_BODY_KEEP = 2000
"""Bytes of an unexpected body kept on the error for the log (not the whole page)."""


class GraphError(Exception):
    """A failed Graph API call, as Meta described it (or as close as the answer allows).

    Attributes mirror Meta's ``{"error": {...}}`` object: ``code``, ``subcode``
    (``error_subcode``), ``type``, ``message``, ``fbtrace_id`` and ``details``
    (``error_data.details``). ``http_status`` is None when no answer came back;
    ``transport`` then names the failure and ``sent`` tells whether the request may have
    been delivered (a send with ``sent=True`` is *in doubt*). ``body`` keeps the start of
    an answer that could not be parsed, for the log.
    """

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: int | None = None,
        subcode: int | None = None,
        type: str | None = None,  # Meta's field name
        fbtrace_id: str | None = None,
        details: str | None = None,
        body: str | None = None,
        transport: str | None = None,
        sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.code = code
        self.subcode = subcode
        self.type = type
        self.fbtrace_id = fbtrace_id
        self.details = details
        self.body = body
        self.transport = transport
        self.sent = sent

    @property
    def reaction(self) -> Reaction:
        """The table's reaction to this error."""
        return reaction_for(self.code, self.http_status)

    @property
    def explicit(self) -> bool:
        """True when Meta itself said what went wrong (a Graph error code came back)."""
        return self.code is not None

    def __str__(self) -> str:
        head = f"({self.code}" + (f"/{self.subcode}" if self.subcode is not None else "") + ")"
        where = f"HTTP {self.http_status}" if self.http_status is not None else self.transport
        parts = [head if self.code is not None else "", self.message]
        if self.details:
            parts.append(f"- {self.details}")
        if where:
            parts.append(f"[{where}]")
        if self.fbtrace_id:
            parts.append(f"fbtrace_id={self.fbtrace_id}")
        return " ".join(p for p in parts if p)

    def __repr__(self) -> str:
        return (
            f"GraphError(code={self.code!r}, subcode={self.subcode!r}, "
            f"http_status={self.http_status!r}, message={self.message!r})"
        )

    @classmethod
    def from_response(cls, http_status: int, body: bytes) -> GraphError:
        """Build the error from an answer; anything not Meta-shaped keeps its body."""
        text = body[:_BODY_KEEP].decode("utf-8", errors="replace")
        try:
            doc: Any = json.loads(body)
        except ValueError:
            return cls(
                f"unexpected non-JSON answer (HTTP {http_status})",
                http_status=http_status,
                body=text,
            )
        err = doc.get("error") if isinstance(doc, dict) else None
        if not isinstance(err, dict):
            return cls(
                f"unexpected answer (HTTP {http_status}) without an error object",
                http_status=http_status,
                body=text,
            )
        return cls.from_error_object(err, http_status=http_status, body=text)

    @classmethod
    def from_error_object(
        cls, err: Mapping[str, Any], *, http_status: int | None, body: str | None = None
    ) -> GraphError:
        """Build the error from Meta's error object (a response's or a status's)."""
        data = err.get("error_data")
        details = data.get("details") if isinstance(data, dict) else None
        return cls(
            str(err.get("message") or err.get("title") or "unknown Graph error"),
            http_status=http_status,
            code=_int_or_none(err.get("code")),
            subcode=_int_or_none(err.get("error_subcode")),
            type=_str_or_none(err.get("type")),
            fbtrace_id=_str_or_none(err.get("fbtrace_id")),
            details=_str_or_none(details),
            body=body,
        )

    @classmethod
    def unexpected(cls, http_status: int, body: bytes, why: str) -> GraphError:
        """A 2xx answer whose body does not have the expected shape."""
        return cls(
            f"unexpected answer (HTTP {http_status}): {why}",
            http_status=http_status,
            body=body[:_BODY_KEEP].decode("utf-8", errors="replace"),
        )

    @classmethod
    def from_transport(cls, exc: BaseException, *, sent: bool) -> GraphError:
        """No answer: ``sent`` is False only when the request surely never left."""
        return cls(
            f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
            transport=type(exc).__name__,
            sent=sent,
        )


def _int_or_none(v: object) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.isdigit():
        return int(v)
    return None


def _str_or_none(v: object) -> str | None:
    return v if isinstance(v, str) else None
