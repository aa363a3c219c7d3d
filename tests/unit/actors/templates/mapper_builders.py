"""Audience rows and template schemas for the mapper's tests (test_mapper_*.py).

The rows are the shared fixtures (``audience_doctors.csv``, ``listings_shifts.csv``);
:func:`schema` builds a template from its components.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from actors.templates.schema import TemplateSchema

FIXTURES = Path(__file__).resolve().parents[5] / "shared" / "fixtures"


def _rows(name: str) -> list[dict[str, str]]:
    with (FIXTURES / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


DOCTORS = _rows("audience_doctors.csv")
SHIFTS = _rows("listings_shifts.csv")
BRUNO = DOCTORS[0]


def schema(*components: dict[str, Any], fmt: str = "POSITIONAL") -> TemplateSchema:
    return TemplateSchema.from_definition(
        {
            "name": "t",
            "language": "pt_BR",
            "category": "MARKETING",
            "parameter_format": fmt,
            "components": list(components),
        }
    )


BODY_POS = {"type": "BODY", "text": "Olá {{1}}, temos um plantão de {{2}} para você esta semana."}
POSITIONAL = schema(BODY_POS)
