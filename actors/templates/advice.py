"""Recommendations per template: what the weekly job tells the operator to change.

Why these rules: a template is worth changing when contacts do not read it (low read
rate), when Meta or the contacts refuse it (high failure rate; opt-outs, the block
signal the Cloud API reports, code 131050), when it costs more than it needs to (a
MARKETING template whose text has no promotional wording may qualify as UTILITY, about
a tenth of the price in Brazil), or when something still counts on a template Meta has
paused, rejected or disabled. The old optimiser (behaviour.md 7.13) computed read rate
over *sent*, mixed percentages and fractions and judged templates on metrics nobody
collected; here rates are fractions, the read rate is over *delivered* (a message not
delivered cannot be read: that is the delivery rule's business), and small samples
(fewer than ``min_sent``) are not judged at all.

Pure: facts in, advice out; no I/O, no clock. The category hint reuses the linter's
promotional-wording pattern (:data:`actors.templates.lint.PROMOTIONAL`), the same one
that warns about a UTILITY template Meta would recategorise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

from actors.templates.lint import PROMOTIONAL

__all__ = [
    "DEFAULT_THRESHOLDS",
    "OPT_OUT_CODES",
    "UNUSABLE_STATUSES",
    "Advice",
    "AdviceKind",
    "Severity",
    "TemplateFacts",
    "Thresholds",
    "advise",
    "template_texts",
]

AdviceKind: TypeAlias = Literal[
    "low_delivery_rate",
    "low_read_rate",
    "high_fail_rate",
    "high_opt_out_rate",
    "marketing_as_utility",
    "unusable_referenced",
]
Severity: TypeAlias = Literal["info", "warning", "critical"]

OPT_OUT_CODES: Final = frozenset({"131050"})
"""Failures that mean the contact refused the business's marketing (docs/cloud-api.md §5)."""
UNUSABLE_STATUSES: Final = frozenset({"PAUSED", "REJECTED", "DISABLED"})


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Fractions; a rate rule applies from ``min_sent`` messages in the period."""

    min_sent: int = 10
    delivery_rate: float = 0.80
    read_rate: float = 0.30
    fail_rate: float = 0.10
    fail_rate_critical: float = 0.25
    opt_out_rate: float = 0.02


DEFAULT_THRESHOLDS: Final = Thresholds()


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateFacts:
    """One template of one WABA: its definition as Meta knows it and its results.

    ``category``/``status`` are None when the template is not known locally (sent by
    name but never synced). ``references`` say what still counts on it (a running
    campaign, queued messages), in words.
    """

    waba_id: str
    name: str
    language: str
    category: str | None = None
    status: str | None = None
    components: Sequence[Mapping[str, Any]] = ()
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    failed_by_code: Mapping[str, int] = field(default_factory=dict)
    references: Sequence[str] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Advice:
    waba_id: str
    name: str
    language: str
    kind: AdviceKind
    severity: Severity
    message: str
    metrics: Mapping[str, float | int | str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "waba_id": self.waba_id,
            "name": self.name,
            "language": self.language,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "metrics": dict(self.metrics),
        }


def template_texts(components: Iterable[object]) -> Iterator[str]:
    """Every human-readable text of a definition: header, body, footer, buttons, cards."""
    for c in components:
        if not isinstance(c, Mapping):
            continue  # a malformed definition has nothing to judge
        text = c.get("text")
        if isinstance(text, str):
            yield text
        for b in c.get("buttons") or ():
            if isinstance(b, Mapping) and isinstance(b.get("text"), str):
                yield b["text"]
        for card in c.get("cards") or ():
            if isinstance(card, Mapping):
                yield from template_texts(card.get("components") or ())


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _rates(f: TemplateFacts, t: Thresholds) -> Iterator[Advice]:
    if f.sent < t.min_sent:
        return
    metrics: dict[str, float | int | str] = {"sent": f.sent}

    def advice(kind: AdviceKind, severity: Severity, message: str, **m: float) -> Advice:
        return Advice(
            waba_id=f.waba_id,
            name=f.name,
            language=f.language,
            kind=kind,
            severity=severity,
            message=message,
            metrics={**metrics, **{k: round(v, 4) for k, v in m.items()}},
        )

    delivery = f.delivered / f.sent
    if delivery < t.delivery_rate:
        yield advice(
            "low_delivery_rate",
            "warning",
            f"only {_pct(delivery)} of {f.sent} delivered (expected ≥ {_pct(t.delivery_rate)}): "
            "check the failure codes and the contact list",
            delivery_rate=delivery,
        )
    if f.delivered >= t.min_sent:
        read = f.read / f.delivered
        if read < t.read_rate:
            yield advice(
                "low_read_rate",
                "warning",
                f"only {_pct(read)} of {f.delivered} delivered were read (expected ≥ "
                f"{_pct(t.read_rate)}): rework the opening line or the send time",
                read_rate=read,
            )
    fail = f.failed / f.sent
    if fail > t.fail_rate:
        critical = fail > t.fail_rate_critical
        top = sorted(f.failed_by_code.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        codes = ", ".join(f"{code} x{n}" for code, n in top) or "no codes"
        yield advice(
            "high_fail_rate",
            "critical" if critical else "warning",
            f"{_pct(fail)} of {f.sent} failed ({codes})",
            fail_rate=fail,
        )
    opt_outs = sum(n for code, n in f.failed_by_code.items() if code in OPT_OUT_CODES)
    if opt_outs / f.sent > t.opt_out_rate:
        yield advice(
            "high_opt_out_rate",
            "critical",
            f"{opt_outs} of {f.sent} contacts have stopped marketing messages (131050): "
            "blocks and opt-outs lower the number's quality; send it to fewer, warmer contacts",
            opt_out_rate=opt_outs / f.sent,
        )


def _category(f: TemplateFacts) -> Iterator[Advice]:
    if f.category != "MARKETING" or f.status != "APPROVED":
        return
    texts = list(template_texts(f.components))
    if not texts or any(PROMOTIONAL.search(text) for text in texts):
        return
    yield Advice(
        waba_id=f.waba_id,
        name=f.name,
        language=f.language,
        kind="marketing_as_utility",
        severity="info",
        message="MARKETING template without promotional wording: if it confirms or updates "
        "something the contact asked for, submit it as UTILITY (much cheaper per message)",
        metrics={"sent": f.sent},
    )


def _unusable(f: TemplateFacts) -> Iterator[Advice]:
    if f.status not in UNUSABLE_STATUSES or not f.references:
        return
    yield Advice(
        waba_id=f.waba_id,
        name=f.name,
        language=f.language,
        kind="unusable_referenced",
        severity="critical",
        message=f"template is {f.status} but still used by {'; '.join(f.references)}: "
        "its sends will be refused; switch them to another template",
        metrics={"sent": f.sent},
    )


def advise(facts: Iterable[TemplateFacts], t: Thresholds = DEFAULT_THRESHOLDS) -> list[Advice]:
    """Every recommendation for these templates, most severe first, then by template."""
    out: list[Advice] = []
    for f in facts:
        out.extend(_unusable(f))
        out.extend(_rates(f, t))
        out.extend(_category(f))
    rank = {"critical": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda a: (rank[a.severity], a.waba_id, a.name, a.language, a.kind))
