"""What a chip knows of its WABA's templates: which it may use, and their parameters.

Why a copy in the chip: every send consults it; asking the WABA actor each time would
put a call on the hot path. The WABA actor owns the registry and sends the chip a fresh
copy whenever it changes (sync or review webhook).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from actors.policy.cost import TemplateOption
from actors.ports import TemplateRecord
from actors.templates.schema import SchemaError, SendShape, TemplateSchema

__all__ = ["TemplateBook", "template_key"]


class TemplateBook:
    def __init__(self, records: Iterable[TemplateRecord] = ()) -> None:
        self._records = {(r.name, r.language): r for r in records}
        self._synced = any(r.components for r in self._records.values())
        self._schemas: dict[tuple[str, str], TemplateSchema] = {}
        self._shapes: dict[tuple[str, str], SendShape] = {}
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
            if record.components:
                # Without them the template is known from a review webhook only (created
                # since the last sync): its parameters are unknown, not none.
                self._shapes[key] = SendShape.of(schema)
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

    @property
    def synced(self) -> bool:
        """Whether the WABA's registry was ever synced (a GET of its templates, which
        always carries their components): only then does a template missing from it not
        exist. An empty book, or one holding only templates a review webhook announced
        (created by metad, never synced), knows too little to say so."""
        return self._synced

    def knows(self, name: str, language: str) -> bool:
        return (name, language) in self._records

    def languages(self, name: str) -> tuple[str, ...]:
        """The languages the WABA has a template ``name`` in (a refusal's hint)."""
        return tuple(sorted(lang for n, lang in self._records if n == name))

    def send_problem(self, name: str, language: str, components: object) -> str | None:
        """Why Meta would refuse these parameters for a known template (132000), in
        words that follow "template <name>/<language> "; None when they fit, or when the
        template is unknown or its definition unreadable (Meta then judges)."""
        shape = self._shapes.get((name, language))
        return None if shape is None else shape.problem(components)

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

    def category_of(self, template: Mapping[str, Any]) -> str | None:
        """The category Meta holds for a template object as sent; None if unknown."""
        return self.category(*template_key(template))

    def refusal(self, template: Mapping[str, Any], waba_id: str) -> str | None:
        """Why Meta would refuse this template object, checked before anything is
        journalled (behaviour.md 15.7): not in the WABA, not approved, or parameters that
        do not fit its definition. A parameter count Meta refused (132000) or a template
        it lacks (132001) cost an outbox row, a reservation and a POST first."""
        name, code = template_key(template)
        if not self.knows(name, code):
            return self._missing(name, code, waba_id) if self.synced else None
        status = self.unusable(name, code)
        if status is not None:
            return f"template {name}/{code} is {status} in WABA {waba_id}"
        problem = self.send_problem(name, code, template.get("components"))
        return None if problem is None else f"template {name}/{code} {problem}"

    def _missing(self, name: str, code: str, waba_id: str) -> str:
        """The refusal of a template the synced registry does not have, saying what it
        has under that name and how to pick up one created since the last sync."""
        others = self.languages(name)
        has = f" (it has {name} in {', '.join(others)})" if others else ""
        return (
            f"template {name}/{code} is not in WABA {waba_id}{has};"
            " run metad ctl templates sync if it was just created"
        )


def template_key(template: Mapping[str, Any]) -> tuple[str, str]:
    """(name, language code) of a template object as the Cloud API takes it."""
    language = template.get("language", {})
    code = str(language.get("code", "")) if isinstance(language, dict) else str(language)
    return str(template.get("name", "")), code
