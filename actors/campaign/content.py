"""What a campaign sends: its template in each WABA, filled for each recipient, or its text.

Why a module of its own: which template a WABA uses, whether it can be used (approved,
present, its variables all mapped to recipient columns) and what goes into a chip's
``Send`` are rules about the campaign file and Meta's templates, not about pacing or
in-flight sends; kept pure here, they are checked without running a campaign. The runner
(:mod:`actors.campaign.runner`) asks for them once per WABA per template refresh, and
once per recipient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from actors.chip.templates import TemplateBook
from actors.ports import TemplateRecord
from actors.templates.mapper import Filled, MappingError, TemplateMapper
from config.campaign import CampaignSpec, TemplateChoice

__all__ = [
    "CampaignTemplate",
    "prepare_template",
    "render_text",
    "template_payload",
    "text_content",
]


@dataclass(slots=True)
class CampaignTemplate:
    """The template a campaign sends through one WABA, with the mapper that fills it."""

    name: str
    language: str
    category: str
    mapper: TemplateMapper


def prepare_template(
    spec: CampaignSpec, choice: TemplateChoice, templates: Sequence[TemplateRecord]
) -> CampaignTemplate | str:
    """``choice`` (the spec's template for a WABA) ready to fill from ``templates`` (the
    WABA's), or why it cannot be used. Quick-reply buttons the spec does not map carry
    the tap payload (``_tap``; ``_payload`` on carousel cards)."""
    book = TemplateBook(templates)
    status = book.unusable(choice.name, choice.language)
    if status is not None:
        return f"{choice.name}/{choice.language} is {status}"
    try:
        schema = book.schema(choice.name, choice.language)
    except KeyError:
        return f"{choice.name}/{choice.language} is not in the WABA"
    mapping: dict[str, Any] = dict(spec.variables)
    card_mapping: dict[str, Any] = dict(spec.carousel.cards) if spec.carousel else {}
    for slot in schema.slots:
        if slot.sub_type != "quick_reply":
            continue
        target = card_mapping if slot.card is not None else mapping
        target.setdefault(slot.key, "_payload" if slot.card is not None else "_tap")
    try:
        mapper = TemplateMapper(schema, mapping, card_mapping)
    except MappingError as exc:
        return str(exc)
    return CampaignTemplate(choice.name, choice.language, schema.category.lower(), mapper)


def template_payload(tpl: CampaignTemplate, filled: Filled) -> dict[str, Any]:
    """The ``template`` object of a send: the name, the language and the filled components."""
    return {
        "name": tpl.name,
        "language": {"code": tpl.language},
        "components": filled.components,
    }


def text_content(
    text: str | None, fields: Mapping[str, str], *, carousel: bool
) -> dict[str, Any] | None:
    """The free-form message a recipient inside a window gets instead of the template:
    the campaign's ``text`` with their fields; none for a carousel (it has no text form)."""
    if text is not None and not carousel:
        return {"type": "text", "text": {"body": render_text(text, fields)}}
    return None


def render_text(text: str, fields: Mapping[str, str]) -> str:
    """``{column}`` placeholders from the recipient's fields; unknown ones stay as they are."""

    class _Keep(dict[str, str]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    return text.format_map(_Keep(fields))
