"""Review rules for a CAROUSEL component: its cards and what they must share.

Why a module of its own: a carousel is a list of small templates (cards) that Meta
reviews together: 2–10 of them, each with a HEADER, a BODY and BUTTONS, and every card
with the same header type and the same buttons (the old builder allowed one card and mixed
shapes, behaviour.md 7.14 and 15.5 #27). :func:`lint_carousel` checks one carousel on its
own, for the code that builds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.templates.component_rules import check_body, check_buttons, check_header
from actors.templates.definition import (
    as_list,
    as_map,
    check_field_types,
    kind_of,
    read_components,
)
from actors.templates.findings import Collector, Finding
from actors.templates.review_limits import CARD_BODY_MAX, CARDS
from actors.templates.schema import ParameterFormat

__all__ = ["check_carousel", "lint_carousel"]


def check_carousel(f: Collector, comp: Mapping[str, Any], where: str, fmt: ParameterFormat) -> None:
    cards = as_list(comp.get("cards"))
    w = f"{where}.cards"
    if cards is None:
        f.error(w, "a carousel needs a list of cards")
        return
    lo, hi = CARDS
    if not lo <= len(cards) <= hi:
        f.error(w, f"{len(cards)} cards; a carousel takes {lo}–{hi}")
    shapes: list[tuple[int, str | None, tuple[str, ...] | None]] = []
    for i, card in enumerate(cards):
        cw = f"{w}[{i}]"
        m = as_map(card)
        if m is None:
            f.error(cw, "a card must be an object")
            continue
        shapes.append((i, *_card(f, m, cw, fmt)))
    if not shapes:
        return
    first, header0, buttons0 = shapes[0]
    for i, header, buttons in shapes[1:]:
        if header and header0 and header != header0:
            f.error(f"{w}[{i}]", f"header is {header} but card {first}'s is {header0}; one type")
        if buttons is not None and buttons0 is not None and buttons != buttons0:
            f.error(
                f"{w}[{i}]",
                f"buttons {list(buttons)} differ from card {first}'s {list(buttons0)}; "
                "every card has the same buttons",
            )


def _card(
    f: Collector, card: Mapping[str, Any], where: str, fmt: ParameterFormat
) -> tuple[str | None, tuple[str, ...] | None]:
    """Check one card; return its header format and buttons shape for the comparison."""
    comps = read_components(f, card.get("components"), f"{where}.components")
    seen: dict[str, int] = {}
    header: str | None = None
    buttons: tuple[str, ...] | None = None
    for j, c in enumerate(comps):
        cw = f"{where}.components[{j}]"
        kind = kind_of(c)
        if kind in seen:
            f.error(f"{cw}.type", f"a second {kind} in one card")
            continue
        seen[kind] = j
        if not check_field_types(f, c, cw):
            continue
        if kind == "HEADER":
            header = check_header(f, c, cw, fmt, card=True)
        elif kind == "BODY":
            check_body(f, c, cw, fmt, CARD_BODY_MAX)
        elif kind == "BUTTONS":
            buttons = check_buttons(f, c, cw, card=True)
        else:
            f.error(f"{cw}.type", "a card has only HEADER, BODY and BUTTONS")
    for kind in ("HEADER", "BODY", "BUTTONS"):
        if kind not in seen:
            f.error(f"{where}.components", f"every card needs a {kind}")
    return header, buttons


def lint_carousel(
    component: Mapping[str, Any],
    field: str = "components[0]",
    parameter_format: ParameterFormat = "positional",
) -> list[Finding]:
    """Check one CAROUSEL component: 2–10 cards, one header type, one buttons shape."""
    f = Collector()
    check_carousel(f, component, field, parameter_format)
    return f.findings
