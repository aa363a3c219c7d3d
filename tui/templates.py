"""Templates as the console shows them: Meta's review state beside how each one did.

Two calls feed it: ``templates.list`` (per WABA: name, language, category, status,
quality, reason) and ``templates.report`` (per template: sent, delivered, read, replied,
failed, read_rate, cost_usd, and recommendations). The report is newer than the list and
may be missing on a daemon (the console then shows the list alone) or shaped a little
differently (a list of rows, or an object with ``templates`` and ``recommendations``):
both are read, and rows are matched by (name, language), else by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from tui.wire import as_float, as_int, as_optional_float, as_str

__all__ = ["TemplateRow", "merge_templates", "parse_report"]

_TEXT_KEYS = ("text", "message", "recommendation", "action", "detail")


@dataclass(frozen=True, slots=True)
class TemplateRow:
    name: str
    language: str = ""
    waba_id: str = ""
    category: str = ""
    status: str = ""
    quality: str = ""
    reason: str = ""
    """Why Meta rejected or paused it; empty when it gave none."""
    sent: int | None = None
    """None: no report for it (the daemon has no ``templates.report``, or no sends)."""
    delivered: int = 0
    read: int = 0
    replied: int = 0
    failed: int = 0
    read_rate: float | None = None
    cost_usd: float = 0.0
    recommendations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Report:
    name: str
    language: str
    waba_id: str
    """Empty: the figures of every WABA's template of that name and language."""
    sent: int
    delivered: int
    read: int
    replied: int
    failed: int
    read_rate: float | None
    cost_usd: float
    recommendations: tuple[str, ...]


def _texts(raw: object) -> tuple[str, ...]:
    """A recommendation or a list of them: strings, or objects with a text field."""
    items = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for item in items:
        if isinstance(item, str) and item.strip():
            out.append(item.strip())
        elif isinstance(item, dict):
            text = next((as_str(item, k) for k in _TEXT_KEYS if as_str(item, k)), "")
            severity = as_str(item, "severity").lower()
            if text:
                out.append(f"{severity}: {text}" if severity in ("critical", "warning") else text)
    return tuple(out)


def _name(doc: Mapping[str, Any]) -> str:
    return as_str(doc, "name") or as_str(doc, "template")


def parse_report(doc: object) -> list[_Report]:
    """Rows of a ``templates.report`` answer, recommendations attached to their rows."""
    rows: object = doc
    extra: list[Mapping[str, Any]] = []
    if isinstance(doc, dict):
        rows = doc.get("templates", doc.get("rows", []))
        recs = doc.get("recommendations")
        extra = [r for r in recs if isinstance(r, dict)] if isinstance(recs, list) else []
    out: list[_Report] = []
    for raw in rows if isinstance(rows, list) else ():
        if not isinstance(raw, dict) or not _name(raw):
            continue
        sent, read = as_int(raw, "sent"), as_int(raw, "read")
        rate = as_optional_float(raw, "read_rate")
        out.append(
            _Report(
                name=_name(raw),
                language=as_str(raw, "language"),
                waba_id=as_str(raw, "waba_id"),
                sent=sent,
                delivered=as_int(raw, "delivered"),
                read=read,
                replied=as_int(raw, "replied"),
                failed=as_int(raw, "failed"),
                read_rate=rate if rate is not None else (read / sent if sent else None),
                cost_usd=as_float(raw, "cost_usd"),
                recommendations=_texts(raw.get("recommendations", raw.get("recommendation"))),
            )
        )
    for rec in extra:
        texts = _texts(rec)
        name, language, waba = _name(rec), as_str(rec, "language"), as_str(rec, "waba_id")
        for i, row in enumerate(out):
            if (
                row.name == name
                and (not language or row.language == language)
                and (not waba or not row.waba_id or row.waba_id == waba)
            ):
                out[i] = replace(row, recommendations=row.recommendations + texts)
                break
        else:
            if name and texts:
                out.append(_Report(name, language, waba, 0, 0, 0, 0, 0, None, 0.0, texts))
    return out


def _from_list(doc: Mapping[str, Any]) -> TemplateRow:
    return TemplateRow(
        name=_name(doc),
        language=as_str(doc, "language"),
        waba_id=as_str(doc, "waba_id"),
        category=as_str(doc, "category").upper(),
        status=as_str(doc, "status").upper(),
        quality=as_str(doc, "quality").upper(),
        reason=_reason(as_str(doc, "reason")),
    )


def _reason(raw: str) -> str:
    """Meta's rejection reason; its ``NONE`` (what it says of every approved template)
    means there is none, and the detail showed ``approved: NONE`` in red."""
    return "" if raw.strip().upper() == "NONE" else raw


def _with_report(row: TemplateRow, rep: _Report) -> TemplateRow:
    return replace(
        row,
        sent=rep.sent,
        delivered=rep.delivered,
        read=rep.read,
        replied=rep.replied,
        failed=rep.failed,
        read_rate=rep.read_rate,
        cost_usd=rep.cost_usd,
        recommendations=rep.recommendations,
    )


def merge_templates(listed: object, report: Iterable[_Report] = ()) -> list[TemplateRow]:
    """One row per listed template with its report figures (its WABA's when the report
    is per WABA, else those of the name and language in every WABA); a reported
    template that is not listed (deleted at Meta since) still gets a row."""
    raws = listed if isinstance(listed, list) else []
    rows = [_from_list(raw) for raw in raws if isinstance(raw, dict) and _name(raw)]
    unmatched: list[_Report] = []
    for rep in report:
        # A report row without a WABA (an older daemon's) stands for every WABA's.
        ours = [i for i, r in enumerate(rows) if not rep.waba_id or r.waba_id == rep.waba_id]
        exact = [i for i in ours if (rows[i].name, rows[i].language) == (rep.name, rep.language)]
        loose = [i for i in ours if rows[i].name == rep.name and rows[i].sent is None]
        hits = exact or loose[:1]
        for i in hits:
            rows[i] = _with_report(rows[i], rep)
        if not hits:
            unmatched.append(rep)
    rows += [
        _with_report(TemplateRow(rep.name, rep.language, rep.waba_id), rep) for rep in unmatched
    ]
    return sorted(rows, key=lambda r: (r.name, r.language, r.waba_id))
