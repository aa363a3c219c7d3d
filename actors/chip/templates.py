"""What a chip knows of its WABA's templates: which it may use, and their parameters.

Why a copy in the chip: every send consults it; asking the WABA actor each time would
put a call on the hot path. The WABA actor owns the registry and sends the chip a fresh
copy whenever it changes (sync or review webhook).
"""

from __future__ import annotations

from collections.abc import Iterable

from actors.policy.cost import TemplateOption
from actors.ports import TemplateRecord
from actors.templates.schema import SchemaError, TemplateSchema

__all__ = ["TemplateBook"]


class TemplateBook:
    def __init__(self, records: Iterable[TemplateRecord] = ()) -> None:
        self._records = {(r.name, r.language): r for r in records}
        self._schemas: dict[tuple[str, str], TemplateSchema] = {}
        options: list[TemplateOption] = []
        for key, record in self._records.items():
            try:
                schema = TemplateSchema.from_definition(
                    {
                        "name": record.name,
                        "language": record.language,
                        "category": record.category,
                        "parameter_format": record.parameter_format,
                        "components": [dict(c) for c in record.components],
                    }
                )
            except SchemaError:
                continue  # a definition we cannot read is never chosen automatically
            self._schemas[key] = schema
            options.append(
                TemplateOption(
                    name=record.name,
                    language=record.language,
                    category=record.category,
                    status=record.status,
                    # A carousel also needs its cards, which an intent's variables do
                    # not give: it is only chosen when the caller names it.
                    params=schema.required_names() + (("cards",) if schema.card_count else ()),
                    quality=record.quality or "UNKNOWN",
                )
            )
        self.options: tuple[TemplateOption, ...] = tuple(options)

    def unusable(self, name: str, language: str) -> str | None:
        """The status of a known template Meta will not take now; None if usable/unknown."""
        record = self._records.get((name, language))
        return None if record is None or record.usable else record.status

    def category(self, name: str, language: str) -> str | None:
        """The category Meta holds for a known template (``marketing``…); None if unknown."""
        record = self._records.get((name, language))
        return None if record is None else record.category.lower()

    def schema(self, name: str, language: str) -> TemplateSchema:
        return self._schemas[(name, language)]
