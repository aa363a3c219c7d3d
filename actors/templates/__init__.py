"""Message templates: their parameter schema, filling them per recipient, linting them.

Pure rules (no I/O but :func:`~actors.templates.lint.load_definition`), replacing the old
template mapper, carousel builder and submit-and-hope service (behaviour.md 7.10–7.14,
15.5) with: a schema read from Meta's own definition, a mapper that refuses rather than
send empty parameters, and a linter that explains a rejection before review does.
"""

from actors.templates.lint import Finding, lint, lint_carousel, lint_file
from actors.templates.mapper import (
    FieldSpec,
    Filled,
    FillResult,
    MappingError,
    Missing,
    TemplateMapper,
    fill,
)
from actors.templates.schema import SchemaError, Slot, TemplateSchema

__all__ = [
    "FieldSpec",
    "FillResult",
    "Filled",
    "Finding",
    "MappingError",
    "Missing",
    "SchemaError",
    "Slot",
    "TemplateMapper",
    "TemplateSchema",
    "fill",
    "lint",
    "lint_carousel",
    "lint_file",
]
