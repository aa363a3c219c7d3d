"""Carousels and their cards: the linter's rows for actors/templates/carousel_rules.py."""

from __future__ import annotations

from typing import Any

from actors.templates.lint import Finding, lint_carousel
from tests.unit.actors.templates.lint_builders import (
    bad_templates,
    body,
    buttons,
    card,
    carousel,
    header_media,
    header_text,
    qr,
    tpl,
    url,
)

# (id, definition, severity, field, message fragment)
BAD: list[tuple[str, dict[str, Any], str, str, str]] = [
    # --- carousel
    (
        "carousel_one_card",
        tpl(body("Vagas para você."), carousel(card())),
        "error",
        "components[1].cards",
        "2–10",
    ),
    (
        "carousel_eleven_cards",
        tpl(body("Vagas para você."), carousel(*[card()] * 11)),
        "error",
        "components[1].cards",
        "2–10",
    ),
    (
        "carousel_no_cards",
        tpl(body("Vagas para você."), {"type": "CAROUSEL"}),
        "error",
        "components[1].cards",
        "list of cards",
    ),
    (
        "carousel_mixed_headers",
        tpl(body("Vagas para você."), carousel(card(), card("VIDEO"))),
        "error",
        "components[1].cards[1]",
        "one type",
    ),
    (
        "carousel_buttons_shape",
        tpl(body("Vagas para você."), carousel(card(), card(btns=(qr(),)))),
        "error",
        "components[1].cards[1]",
        "same buttons",
    ),
    (
        "carousel_buttons_order",
        tpl(body("Vagas para você."), carousel(card(btns=(qr(), url())), card(btns=(url(), qr())))),
        "error",
        "components[1].cards[1]",
        "same buttons",
    ),
    (
        "carousel_text_header",
        tpl(body("Vagas para você."), carousel(card("TEXT"), card("TEXT"))),
        "error",
        "components[1].cards[0].components[0].format",
        "IMAGE",
    ),
    (
        "carousel_card_no_header",
        tpl(
            body("Vagas para você."),
            carousel({"components": [body("Plantão hoje."), buttons(qr())]}, card()),
        ),
        "error",
        "components[1].cards[0].components",
        "needs a HEADER",
    ),
    (
        "carousel_card_no_buttons",
        tpl(
            body("Vagas para você."),
            carousel({"components": [header_media(), body("Plantão hoje.")]}, card()),
        ),
        "error",
        "components[1].cards[0].components",
        "needs a BUTTONS",
    ),
    (
        "carousel_card_three_buttons",
        tpl(
            body("Vagas para você."),
            carousel(card(btns=(qr(), qr("a"), qr("b"))), card(btns=(qr(), qr("a"), qr("b")))),
        ),
        "error",
        "components[1].cards[0].components[2].buttons",
        "1–2",
    ),
    (
        "carousel_card_copy_code",
        tpl(
            body("Vagas para você."),
            carousel(
                card(btns=({"type": "COPY_CODE", "example": "A"},)),
                card(btns=({"type": "COPY_CODE", "example": "A"},)),
            ),
        ),
        "error",
        "components[1].cards[0].components[2].buttons[0].type",
        "one of",
    ),
    (
        "carousel_card_body_160",
        tpl(body("Vagas para você."), carousel(card(text="Plantão " + "x" * 153), card())),
        "error",
        "components[1].cards[0].components[1].text",
        "at most 160",
    ),
    (
        "carousel_card_footer",
        tpl(
            body("Vagas para você."),
            carousel(
                {"components": [*card()["components"], {"type": "FOOTER", "text": "x"}]}, card()
            ),
        ),
        "error",
        "components[1].cards[0].components[3].type",
        "only HEADER, BODY and BUTTONS",
    ),
    (
        "carousel_card_variable_rules",
        tpl(
            body("Vagas para você."), carousel(card(text="{{1}} hoje no hospital central."), card())
        ),
        "error",
        "components[1].cards[0].components[1].text",
        "cannot start",
    ),
    (
        "carousel_card_text_number",
        tpl(
            body("Vagas para você."),
            carousel(
                {"components": [header_media(), {"type": "BODY", "text": 5}, buttons(qr())]},
                card(),
            ),
        ),
        "error",
        "components[1].cards[0].components[1].text",
        "must be a string",
    ),
    (
        "carousel_top_level_header",
        tpl(header_text("Vagas"), body("Vagas para você."), carousel(card(), card())),
        "error",
        "components[0].type",
        "go on the cards",
    ),
    (
        "carousel_top_level_buttons",
        tpl(body("Vagas para você."), buttons(qr()), carousel(card(), card())),
        "error",
        "components[1].type",
        "go on the cards",
    ),
]


test_bad_templates = bad_templates(BAD)


def test_lint_carousel_alone() -> None:
    assert lint_carousel(carousel(card(), card())) == []
    findings = lint_carousel(carousel(card()), field="x")
    assert findings == [Finding("error", "x.cards", "1 cards; a carousel takes 2–10")]
