"""What the template linter reports, and the collector its rule families report into.

Why a module of its own: every rule family (:mod:`actors.templates.variable_rules`,
:mod:`~actors.templates.component_rules`, :mod:`~actors.templates.auth_rules`,
:mod:`~actors.templates.carousel_rules`) appends to one :class:`Collector`, and callers
(the ``metad templates`` commands) only need :class:`Finding` and the two helpers below.

Severity: ``error`` — Meta rejects the template (or the creation call fails);
``warning`` — it may pass but not as intended (recategorised as MARKETING, text Meta
ignores, a variable used twice).

Field paths name the offending value in the definition: ``name``,
``components[1].text``, ``components[2].buttons[0].url``,
``components[1].cards[0].components[0].format``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field as dc_field
from typing import Literal, TypeAlias

__all__ = ["Collector", "Finding", "Severity", "format_findings", "has_errors"]

Severity: TypeAlias = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.field}: {self.message}"


@dataclass(slots=True)
class Collector:
    findings: list[Finding] = dc_field(default_factory=list)
    texts: list[tuple[str, str]] = dc_field(default_factory=list)
    """(field, text) of every human-readable text, for the category hints."""

    def error(self, where: str, message: str) -> None:
        self.findings.append(Finding("error", where, message))

    def warn(self, where: str, message: str) -> None:
        self.findings.append(Finding("warning", where, message))


def has_errors(findings: Sequence[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


def format_findings(findings: Sequence[Finding]) -> str:
    """One line per finding, errors first; for a CLI or a log."""
    ordered = sorted(findings, key=lambda f: f.severity != "error")
    return "\n".join(str(f) for f in ordered)
