"""From audience rows to recipients, or to the reason a row is skipped.

Why pure and up front: a campaign's audience is checked once, when it starts (and by
``metad campaign plan`` without sending), so every skipped row is counted with its reason
instead of failing one by one mid-run. Phones come in every form a CRM holds
(``+55 (71) 92471-6468``, ``41995511013``…); they are normalised to the international
digits Meta expects, and a row that repeats a recipient already seen is skipped, so a
doctor listed twice gets one message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from actors.chip.contacts import normalize_phone

__all__ = [
    "PHONE_COLUMNS",
    "Audience",
    "Recipient",
    "Skipped",
    "build_audience",
    "find_phone_column",
    "is_truthy",
]

PHONE_COLUMNS = ("phone", "telefone", "celular", "whatsapp", "wa_id", "numero", "number")
_TRUTHY = frozenset({"1", "x", "y", "yes", "s", "sim", "true", "verdadeiro", "opt_out", "out"})


def is_truthy(value: object) -> bool:
    return str(value).strip().lower() in _TRUTHY


def find_phone_column(header: Sequence[str], configured: str | None) -> str | None:
    if configured is not None:
        return configured if configured in header else None
    lowered = {h.strip().lower(): h for h in header}
    return next((lowered[c] for c in PHONE_COLUMNS if c in lowered), None)


@dataclass(frozen=True, slots=True)
class Recipient:
    key: str
    """Stable id within the campaign: the key column's value or the phone."""
    to: str
    """International digits (or a wa_id) the message goes to."""
    fields: Mapping[str, str]
    row: int
    """1-based data row (after the header) it came from."""


@dataclass(frozen=True, slots=True)
class Skipped:
    row: int
    reason: str
    """``bad number``, ``no number``, ``opted out`` or ``duplicate`` (+ detail)."""
    key: str = ""


@dataclass(slots=True)
class Audience:
    recipients: list[Recipient] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def skipped_by_reason(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.skipped:
            kind = s.reason.split(":")[0]
            out[kind] = out.get(kind, 0) + 1
        return out


def build_audience(
    rows: Iterable[Mapping[str, object]],
    *,
    phone_column: str,
    opt_out_column: str | None = None,
    key_column: str | None = None,
    opted_out: frozenset[str] = frozenset(),
) -> Audience:
    """Recipients in file order; ``opted_out`` holds numbers known to have opted out of
    marketing (from ``user_preferences`` webhooks), which are skipped as well."""
    out = Audience()
    seen: set[str] = set()
    for i, raw in enumerate(rows, start=1):
        fields = {str(k): "" if v is None else str(v).strip() for k, v in raw.items() if k}
        phone = fields.get(phone_column, "")
        if not phone:
            out.skipped.append(Skipped(i, "no number"))
            continue
        to = normalize_phone(phone)
        if to is None:
            out.skipped.append(Skipped(i, f"bad number: {phone!r}"))
            continue
        key = fields.get(key_column, "") if key_column else to
        if not key:
            out.skipped.append(Skipped(i, f"no {key_column}", to))
            continue
        if opt_out_column and is_truthy(fields.get(opt_out_column, "")):
            out.skipped.append(Skipped(i, "opted out", key))
            continue
        if to in opted_out:
            out.skipped.append(Skipped(i, "opted out: marketing opt-out received", key))
            continue
        if key in seen or to in seen:
            out.skipped.append(Skipped(i, f"duplicate: {key}", key))
            continue
        seen.update((key, to))
        out.recipients.append(Recipient(key, to, fields, i))
    return out
