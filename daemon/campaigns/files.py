"""Read the data files a campaign names: audiences (CSV) and listings (CSV or JSON).

Why strict and explicit: a CSV exported from a spreadsheet may carry a BOM, ``;`` as
separator, or blank lines; each is handled, and anything unreadable is a
:class:`ConfigError` naming the file and the line, like the campaign file itself.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from config import ConfigError, ConfigIssue

__all__ = ["Table", "read_rows", "read_table"]

Row = dict[str, str]


@dataclass(frozen=True, slots=True)
class Table:
    rows: list[Row]
    lines: list[int] | None
    """The file line each row starts on (a CSV's; None for JSON): what a person looks
    for when told a row was skipped."""


def read_rows(path: Path) -> list[Row]:
    """The data rows of ``path`` as dicts (header → value), blank rows left out."""
    return read_table(path).rows


def read_table(path: Path) -> Table:
    """:func:`read_rows`, with the line of each row."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError([ConfigIssue(str(path), None, "", f"cannot read: {reason}")]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:  # a spreadsheet's latin-1 or UTF-16 export
        line = data[: exc.start].count(b"\n") + 1
        reason = f"not UTF-8 text (byte 0x{data[exc.start]:02x} on this line); save it as UTF-8"
        raise ConfigError([ConfigIssue(str(path), line, "", f"cannot read: {reason}")]) from None
    if path.suffix.lower() == ".json":
        return Table(_json_rows(text, path), None)
    return _csv_rows(text, path)


def _json_rows(text: str, path: Path) -> list[Row]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            [ConfigIssue(str(path), exc.lineno, "", f"invalid JSON: {exc.msg}")]
        ) from None
    if isinstance(data, dict):
        data = data.get("items", data.get("listings"))
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise ConfigError(
            [ConfigIssue(str(path), 1, "", 'expected a list of objects (or {"items": [...]})')]
        )
    return [{str(k): "" if v is None else str(v) for k, v in item.items()} for item in data]


def _csv_rows(text: str, path: Path) -> Table:
    lines = text.splitlines(keepends=True)
    skipped = 0  # blank lines above the header (a spreadsheet export's habit)
    while skipped < len(lines) and not lines[skipped].strip():
        skipped += 1
    text = "".join(lines[skipped:])
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[Row] = []
    starts: list[int] = []
    try:
        header = next(reader, None)
        if not header:
            raise ConfigError([ConfigIssue(str(path), skipped + 1, "", "no header row")])
        while True:
            start = skipped + reader.line_num + 1  # a quoted field may span lines
            record = next(reader, None)
            if record is None:
                break
            if len(record) > len(header):
                line = skipped + reader.line_num
                issue = ConfigIssue(str(path), line, "", "more fields than the header has")
                raise ConfigError([issue])
            if not any(v.strip() for v in record):
                continue
            row = {k: v.strip() for k, v in zip(header, record, strict=False)}
            if len(record) < len(header):  # a short row: the rest blank
                row.update(dict.fromkeys(header[len(record) :], ""))
            rows.append(row)
            starts.append(start)
    except csv.Error as exc:
        raise ConfigError(
            [ConfigIssue(str(path), skipped + reader.line_num, "", f"invalid CSV: {exc}")]
        ) from None
    return Table(rows, starts)
